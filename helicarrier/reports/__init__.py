"""CSV reports: the writer (RFC 4180, formula injection neutralized), scheduled reports, export-csv."""
