"""The rules the rollup tables are built by, as plain functions: the same code folds an ingest batch, a
rebuild, a benchmark's data and a test's independent recount.

- Usage is bucketed by the UTC quarter hour of the event (``quarter_of``) and summed again per hour,
  sessions by the UTC day of their end (``day_of``): integers, so that bucket arithmetic in SQL is integer
  arithmetic on both backends.
- A session's failure reason is the error up to its first colon, at most 80 characters.
- Runtimes go into a log-spaced histogram: bin 0 holds runtimes under 1 s; bin k >= 1 holds
  [1 s x 2^((k-1)/4), 1 s x 2^(k/4)), so a percentile read back from it is within ~9% of the true value.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from helicarrier.usage_fields import TOKEN_FIELDS

QUARTER_S = 900
QUARTERS_PER_HOUR = 4
HOURS_PER_DAY = 24
HOUR_S = 3600
DAY_S = 86400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

RUNTIME_BINS = 97  # 0 .. 96; the last one (from 2^23.75 s, ~163 days) is open-ended
BAND = 16  # bins per session_runtime_rollups row
RUNTIME_COLUMNS = tuple(f"n{i:02d}" for i in range(BAND))
# Lower edge (ms) of bins 1..96.
RUNTIME_EDGES_MS: tuple[int, ...] = tuple(round(1000 * 2 ** ((k - 1) / 4)) for k in range(1, RUNTIME_BINS))

# Sums kept per usage bucket, in table column order.
USAGE_SUMS = ("events", *TOKEN_FIELDS, "cost_nanos", "unpriced_events", "reported_cost_nanos")
SESSION_SUMS = ("sessions", "runtime_ms", "cost_nanos", "unpriced_events")
SUCCESS = "succeeded"
FAILURE_STATUSES = ("failed", "timeout", "killed")


def hour_of(ts: datetime) -> int:
    """The UTC hour bucket of an aware timestamp: whole hours since 1970-01-01T00:00Z."""
    return int(ts.timestamp() // HOUR_S)


def quarter_of(ts: datetime) -> int:
    """The UTC quarter-hour bucket of an aware timestamp: whole quarter hours since 1970-01-01T00:00Z."""
    return int(ts.timestamp() // QUARTER_S)


def day_of(ts: datetime) -> int:
    return int(ts.timestamp() // DAY_S)


def failure_reason(status: str, error: str | None) -> str:
    """'' for a success; else the error up to its first colon (<= 80 chars), or the status if empty."""
    if status == SUCCESS:
        return ""
    text = (error or "").split(":", 1)[0][:80].strip(" ")
    return text or status


def runtime_ms(started_at: datetime, ended_at: datetime) -> int:
    return max(0, (ended_at - started_at) // timedelta(milliseconds=1))


def runtime_bin(ms: int) -> int:
    return bisect.bisect_right(RUNTIME_EDGES_MS, ms)


def bin_bounds_s(b: int) -> tuple[float, float | None]:
    """[low, high) of a runtime bin in seconds; high is None for the last, open-ended bin."""
    low = 0.0 if b == 0 else RUNTIME_EDGES_MS[b - 1] / 1000
    high = RUNTIME_EDGES_MS[b] / 1000 if b < len(RUNTIME_EDGES_MS) else None
    return low, high


def percentile_from_histogram(counts: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of runtimes in seconds from {bin: count}, interpolated inside its bin
    (linearly in bin 0, geometrically above, as the bins are log-spaced). None without data."""
    n = sum(counts.values())
    if n <= 0:
        return None
    target = q * n
    cum = 0
    for b in sorted(counts):
        c = counts[b]
        if c <= 0:
            continue
        if cum + c >= target:
            frac = (target - cum) / c
            low, high = bin_bounds_s(b)
            if high is None:
                return low
            if b == 0:
                return low + (high - low) * frac
            return low * (high / low) ** frac
        cum += c
    low, _ = bin_bounds_s(max(counts))
    return low


def usage_contribution(row: Mapping[str, Any]) -> list[int]:
    """A priced usage row's part of its bucket, in ``USAGE_SUMS`` order."""
    cost = row["cost_nanos"]
    return [
        1,
        *(row[f] or 0 for f in TOKEN_FIELDS),
        cost or 0,
        1 if cost is None else 0,
        row["reported_cost_nanos"] or 0,
    ]


def add_into(acc: list[int], values: list[int]) -> None:
    for i, v in enumerate(values):
        acc[i] += v


def session_contribution(s) -> tuple[tuple, list[int], tuple, int, int] | None:
    """An ended session's contribution: (session_rollups key, sums, runtime row key, its column, runtime ms).

    ``s`` has id, model, task_kind, status, error, started_at, ended_at, cost_nanos, unpriced_events.
    None while the session runs.
    """
    if s.ended_at is None:
        return None
    ms = runtime_ms(s.started_at, s.ended_at)
    day = day_of(s.ended_at)
    model = s.model or ""
    kind = s.task_kind or ""
    key = (day, model, kind, s.status, failure_reason(s.status, s.error))
    b = runtime_bin(ms)
    return (
        key,
        [1, ms, s.cost_nanos or 0, s.unpriced_events or 0],
        (day, model, kind, b // BAND),
        b % BAND,
        ms,
    )


def session_facets(model: str | None, provider: str | None, task_kind: str | None, labels) -> set[tuple]:
    """The (facet, value) pairs a session.start names, for the Ledger's filter options."""
    out: set[tuple[str, str]] = set()
    if model:
        out.add(("model", model))
    if provider:
        out.add(("provider", provider))
    if task_kind:
        out.add(("task_kind", task_kind))
    for k, v in (labels or {}).items():
        out.add(("label", f"{k}={v}"))
    return out
