"""Service level objectives (issue 15): what each SLO promises, and the error-budget and burn-rate arithmetic
of the Google SRE workbook. Plain functions over counts; no Flask, no Dash, no SQL."""
