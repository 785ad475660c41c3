"""The names and months of the event tables' monthly partitions (PostgreSQL, migration 0010), apart from
their SQL so that schema checks can tell a partition from a table of the models without importing it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

PARTITIONED_TABLES = ("usage_events", "log_events")
MONTH_PARTITION = re.compile(r"^(?P<table>usage_events|log_events)_y(?P<y>\d{4})m(?P<m>\d{2})$")


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months after ``month``'s (``n`` may be negative)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def partition_name(table: str, month: date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def is_partition_name(name: str) -> bool:
    """A monthly or DEFAULT partition of ours (listed as a table of its own by PostgreSQL's catalog)."""
    return bool(MONTH_PARTITION.match(name)) or name in {f"{t}_default" for t in PARTITIONED_TABLES}
