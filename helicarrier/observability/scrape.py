"""The text ``GET /metrics`` answers: this process's metrics (or, under gunicorn with PROMETHEUS_MULTIPROC_DIR
set, every worker's, added up from that directory) followed by the gauges read from the database."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from helicarrier.data.repository import Repository
from helicarrier.observability.gauges import DatabaseGauges

CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> str | None:
    """prometheus-client's own variable (it decides at import how values are kept, so it is not ours)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(repo: Repository, offline_after_s: int) -> bytes:
    if multiprocess_dir():
        # A fresh registry per scrape, as prometheus-client's multiprocess mode asks: the files are read now.
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseGauges(repo, offline_after_s))
    # Two registries' texts joined: their metric families are distinct, so the exposition stays valid.
    return generate_latest(processes) + generate_latest(database)
