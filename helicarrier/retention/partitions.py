"""Monthly partitions of the event tables on PostgreSQL (issue 14): which months to create ahead, and which
whole months retention drops instead of deleting their rows. At start and every hour (the scheduler's
leader) ``upkeep`` creates the current month and ``ahead`` more, so that events land in their month's
partition rather than in DEFAULT; an event of a month without one is stored in DEFAULT all the same and
moves into its month when that is created. On SQLite every function here does nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from helicarrier.data.partition_names import PARTITIONED_TABLES, add_months, month_start

log = logging.getLogger("helicarrier.partitions")

MONTHS_AHEAD = 3
# Retention kind -> its partitioned table.
KIND_TABLES = {"usage": "usage_events", "logs": "log_events"}


@dataclass(frozen=True)
class Created:
    table: str
    month: date
    moved: int  # rows moved out of DEFAULT into it


def wanted_months(now: datetime, ahead: int) -> list[date]:
    """The current UTC month and ``ahead`` months after it."""
    this = date(now.year, now.month, 1)
    return [add_months(this, k) for k in range(ahead + 1)]


def upkeep(repo, now: datetime, ahead: int = MONTHS_AHEAD) -> list[Created]:
    """Create the partitions ``wanted_months`` lacks (none: nothing is done or locked); what was created."""
    out = []
    for table in PARTITIONED_TABLES:
        if not repo.is_partitioned(table):
            continue
        have = set(repo.partition_months(table))
        for month in wanted_months(now, ahead):
            if month not in have:
                moved = repo.create_month_partition(table, month)
                out.append(Created(table, month, moved))
                log.info("created partition %s %s (%d events moved from DEFAULT)", table, month, moved)
    return out


def upkeep_at_start(repo, now: datetime, ahead: int = MONTHS_AHEAD) -> None:
    """``upkeep``, but a start is never refused for it (a lock held too long, say): events then land in
    DEFAULT until the scheduler's hourly run creates their month."""
    try:
        upkeep(repo, now, ahead)
    except Exception:  # noqa: BLE001 - logged; the hourly job tries again
        log.warning("partition upkeep at start failed; the scheduler will retry", exc_info=True)


def expired_months(months: list[date], cutoff: datetime) -> list[date]:
    """Months wholly before ``cutoff`` (their end, the next month's first instant, at or before it)."""
    return [m for m in months if month_start(add_months(m, 1)) <= cutoff]


def drop_expired(repo, kind: str, cutoff: datetime) -> int:
    """Drop ``kind``'s partitions of months wholly older than ``cutoff``; the events they held. The month
    ``cutoff`` falls in, and DEFAULT's rows, are left to the batched delete."""
    table = KIND_TABLES.get(kind)
    if table is None or not repo.is_partitioned(table):
        return 0
    return sum(
        repo.drop_month_partition(table, m) for m in expired_months(repo.partition_months(table), cutoff)
    )


def months_held(repo, kind: str) -> int | None:
    """How many monthly partitions ``kind`` has (None: not partitioned), for the Operations page."""
    table = KIND_TABLES.get(kind)
    if table is None or not repo.is_partitioned(table):
        return None
    return len(repo.partition_months(table))
