"""What a database holds, in a form two databases can be compared by: per table its row count and a checksum
over its rows in a canonical order (primary key, strings by code point on both backends), and per UTC day the
sums of tokens and cost in ``usage_events``. Backups write it as their manifest; restores, ``copy-db`` and
``parity-check`` compare against it.

Values are hashed in a canonical text form (aware datetimes in UTC ISO 8601, JSON with sorted keys, Decimals
normalised), so the same rows give the same checksum on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, String, Table, Text, func, inspect, select, text

from helicarrier.data.models import Base, UsageEvent
from helicarrier.health import HEARTBEAT_FLAG

BATCH = 2000


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    checksum: str


@dataclass(frozen=True)
class DayTotals:
    events: int
    total_tokens: int
    cost_nanos: int


@dataclass(frozen=True)
class Fingerprint:
    """What one database holds (see the module's docstring)."""

    revision: str | None
    tables: dict[str, TableFingerprint]
    usage_days: dict[str, DayTotals]

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "tables": {str(n): {"rows": t.rows, "checksum": t.checksum} for n, t in self.tables.items()},
            "usage_days": {
                d: {"events": t.events, "total_tokens": t.total_tokens, "cost_nanos": t.cost_nanos}
                for d, t in self.usage_days.items()
            },
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Fingerprint:
        return cls(
            doc.get("revision"),
            {n: TableFingerprint(t["rows"], t["checksum"]) for n, t in doc["tables"].items()},
            {d: DayTotals(**t) for d, t in doc["usage_days"].items()},
        )


def tables() -> list[Table]:
    """Every table of the models, parents before children (the order to copy in)."""
    return list(Base.metadata.sorted_tables)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, float):
        return repr(value)
    return value


def _row_bytes(row: tuple) -> bytes:
    return orjson.dumps([_canonical(v) for v in row], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def ordered_key(conn: Connection, table: Table) -> list:
    """The primary key columns, strings compared by code point (PostgreSQL's "C" collation; SQLite's
    default BINARY collation is the same order), so both backends list rows alike."""
    cols = []
    for col in table.primary_key.columns:
        if conn.dialect.name == "postgresql" and isinstance(col.type, String | Text):
            cols.append(col.collate("C"))
        else:
            cols.append(col)
    return cols


# Rows that describe a running process, not the data: the scheduler beats while maintenance pauses every
# other job, so a copy made then differs from its source in this row alone.
_PROCESS_ROWS = {"service_flags": ("name", (HEARTBEAT_FLAG,))}


def table_fingerprint(conn: Connection, table: Table) -> TableFingerprint:
    digest = hashlib.sha256()
    rows = 0
    stmt = select(*table.columns).order_by(*ordered_key(conn, table))
    if table.name in _PROCESS_ROWS:
        column, values = _PROCESS_ROWS[table.name]
        stmt = stmt.where(table.c[column].not_in(values))
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
    for row in result:
        digest.update(_row_bytes(tuple(row)))
        digest.update(b"\n")
        rows += 1
    return TableFingerprint(rows, digest.hexdigest())


def usage_days(conn: Connection) -> dict[str, DayTotals]:
    """Per UTC day: usage events, tokens and cost (summed here, not in SQL, so both backends agree on the
    day of a timestamp)."""
    out: dict[str, list[int]] = {}
    stmt = select(UsageEvent.ts, UsageEvent.total_tokens, UsageEvent.cost_nanos)
    for ts, tokens, cost in conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt):
        day = out.setdefault(ts.date().isoformat(), [0, 0, 0])
        day[0] += 1
        day[1] += tokens or 0
        day[2] += cost or 0
    return {d: DayTotals(*v) for d, v in sorted(out.items())}


def revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def fingerprint(conn: Connection) -> Fingerprint:
    """What the database behind ``conn`` holds; run it in one transaction for a consistent picture."""
    present = set(inspect(conn).get_table_names())
    found = {str(t.name): table_fingerprint(conn, t) for t in tables() if t.name in present}
    days = usage_days(conn) if UsageEvent.__tablename__ in present else {}
    return Fingerprint(revision(conn), found, days)


def user_tables(engine: Engine) -> list[str]:
    """Tables in the database (its search path's first schema on PostgreSQL): empty means a fresh one."""
    with engine.connect() as conn:
        return sorted(inspect(conn).get_table_names())


@contextmanager
def pg_exported_snapshot(engine: Engine) -> Iterator[tuple[str, Connection]]:
    """A REPEATABLE READ transaction whose snapshot ``pg_dump --snapshot`` can share: the manifest computed
    on the yielded connection describes exactly what the dump holds, however much is written meanwhile."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            yield snapshot, conn


def pg_schema(conn: Connection) -> str:
    return conn.execute(text("SELECT current_schema()")).scalar_one()


def count_rows(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()
