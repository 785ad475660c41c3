"""The process's Prometheus metrics, declared once, and the few helpers the code paths call.

Counters and histograms only: under gunicorn (PROMETHEUS_MULTIPROC_DIR set) prometheus-client keeps each
worker's values in a file of that directory and the scrape adds them up; otherwise they live in this
process's default registry. Gauges of things the database knows (agents, commands, the alert lag) are read
at scrape time instead (``helicarrier.observability.gauges``), so they are right whichever process answers.

Every label value is bounded: route templates, event types, reason codes, repository method names, callback
and job names are the code's own; nothing an agent sends (its id, free text) ever becomes a label.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram, disable_created_metrics

from helicarrier.ingest.schemas import EVENT_TYPES

F = TypeVar("F", bound=Callable[..., Any])
# No `_created` series: a start time per label set doubles the scrape for nothing a dashboard here reads.
disable_created_metrics()

# Seconds. Ingest answers in milliseconds; a slow batch or a busy SQLite takes seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
_QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_JOB_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

INGEST_REQUESTS = Counter(
    "helicarrier_ingest_requests",
    "Ingest requests answered, by route template, HTTP status and envelope version (v1, v2, unknown, none).",
    ["route", "status", "version"],
)
INGEST_LATENCY = Histogram(
    "helicarrier_ingest_request_duration_seconds",
    "Time to answer an ingest request, by route template.",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
INGEST_EVENTS = Counter(
    "helicarrier_ingest_events",
    "Ingested events by type and outcome (accepted, duplicate, rejected); reason: a rejection's code.",
    ["type", "outcome", "reason"],
)
DB_QUERY = Histogram(
    "helicarrier_db_query_duration_seconds",
    "Time spent in one repository method (repo.*) or unit-of-work method (tx.*).",
    ["method"],
    buckets=_QUERY_BUCKETS,
)
CALLBACK = Histogram(
    "helicarrier_dash_callback_duration_seconds",
    "Time a Dash callback of the HUD took on the server, by page.callback.",
    ["callback"],
    buckets=_LATENCY_BUCKETS,
)
ALERT_EVALUATION = Histogram(
    "helicarrier_alert_evaluation_duration_seconds",
    "Time one alert evaluation cycle (every enabled rule) took.",
    buckets=_JOB_BUCKETS,
)
ALERT_ERRORS = Counter(
    "helicarrier_alert_evaluation_errors",
    "Alert evaluation failures: scope rule (one rule failed, the others ran) or cycle (the whole cycle).",
    ["scope"],
)
JOB_RUNS = Counter("helicarrier_scheduler_job_runs", "Background job runs (on the leader), by job.", ["job"])
JOB_FAILURES = Counter(
    "helicarrier_scheduler_job_failures", "Background job runs that raised, by job.", ["job"]
)
JOB_DURATION = Histogram(
    "helicarrier_scheduler_job_duration_seconds",
    "Time a background job run took.",
    ["job"],
    buckets=_JOB_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "helicarrier_webhook_deliveries",
    "Alert notification delivery attempts to webhook receivers, by outcome (sent, failed).",
    ["outcome"],
)

# The envelope version of the ingest request being answered, for the request counter's label: set by the
# parser when it has read the body's `version`, reset by the HTTP hook at each request's start.
_ENVELOPE: ContextVar[str] = ContextVar("helicarrier_envelope", default="none")
ENVELOPE_VERSIONS = frozenset({"v1", "v2"})
# Event types a label may carry; anything else is "unknown".
_EVENT_TYPES = frozenset(EVENT_TYPES)


def start_request() -> None:
    _ENVELOPE.set("none")


def note_envelope(version: object) -> None:
    """The body's envelope version: v1, v2, or unknown for anything else (never the client's text)."""
    _ENVELOPE.set(version if version in ENVELOPE_VERSIONS else "unknown")


def finish_request(route: str, status: int, seconds: float) -> None:
    INGEST_REQUESTS.labels(route, str(status), _ENVELOPE.get()).inc()
    INGEST_LATENCY.labels(route).observe(seconds)


def count_events(outcomes: Iterable[tuple[str | None, str, str]]) -> None:
    """(event type as sent, outcome, reason code or "") per event; added up first, so a batch of 5,000 events
    costs a handful of increments. A type that is not a known one (any JSON value) counts as "unknown"."""
    tally = Tally(
        (t if isinstance(t, str) and t in _EVENT_TYPES else "unknown", outcome, reason)
        for t, outcome, reason in outcomes
    )
    for (kind, outcome, reason), n in tally.items():
        INGEST_EVENTS.labels(kind, outcome, reason).inc(n)


def timed(histogram: Histogram, label: str | None, func: F) -> F:
    """``func``, observing its duration in ``histogram`` (under ``label`` when the histogram has one)."""
    # The labelled child is made on the first call: a series appears once its method has run, not for every
    # method of the repository at import.
    child: list[Any] = []

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            if not child:
                child.append(histogram.labels(label) if label is not None else histogram)
            child[0].observe(time.perf_counter() - started)

    return run  # type: ignore[return-value]
