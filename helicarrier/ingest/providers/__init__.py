"""Provider-family usage parsers used by helicarrier.ingest.normalize."""
