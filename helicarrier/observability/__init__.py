"""Helicarrier watching itself: Prometheus metrics (``metrics``), the gauges read from the database at scrape
time (``gauges``), the HTTP hooks that time ingest requests (``http``) and the scrape itself (``scrape``)."""
