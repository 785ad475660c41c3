"""PostgreSQL's monthly partitions of usage_events and log_events (migration 0010): which months a table
has, creating a month (moving its rows out of the DEFAULT partition), dropping one. SQLite has none: there
every table answers "not partitioned" and retention deletes rows in batches.

A partition is named ``<table>_y<YYYY>m<MM>`` and holds the UTC month [first day, first day of the next);
``<table>_default`` holds events of months that have none. Each change is one short transaction that waits
at most ``LOCK_TIMEOUT`` for its lock: queued behind a long read, an ALTER would hold up every insert
queued behind it, so it gives up instead and the next run tries again (events go on landing in DEFAULT)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, text

from helicarrier.data.partition_names import (
    MONTH_PARTITION,
    PARTITIONED_TABLES,
    add_months,
    month_start,
    partition_name,
)
from helicarrier.data.queries.base import QueryBase

LOCK_TIMEOUT = "5s"


def _check(table: str) -> str:
    if table not in PARTITIONED_TABLES:
        raise ValueError(f"{table} is not partitioned by month")
    return table


def _bound(month: date) -> str:
    return f"'{month_start(month).isoformat()}'"


def _locked(conn: Connection, table: str) -> None:
    # Parent first (its partitions with it), always in this order: no deadlock with another upkeep.
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))


class PartitionQueries(QueryBase):
    def is_partitioned(self, table: str) -> bool:
        """True on PostgreSQL once migration 0010 made ``table`` partitioned."""
        if self.engine.dialect.name != "postgresql":
            return False
        with self._read() as conn:
            kind = conn.execute(
                text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": _check(table)}
            ).scalar()
        return kind == "p"

    def partition_months(self, table: str) -> list[date]:
        """The months ``table`` has a partition for, oldest first (DEFAULT not included)."""
        with self._read() as conn:
            names = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = CAST(:t AS regclass)"
                ),
                {"t": _check(table)},
            ).scalars()
            found = [MONTH_PARTITION.match(n) for n in names]
        return sorted(date(int(m["y"]), int(m["m"]), 1) for m in found if m and m["table"] == table)

    def default_partition_rows(self, table: str) -> int:
        """Events waiting in the DEFAULT partition (their month had none when they arrived)."""
        with self._read() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {_check(table)}_default")).scalar_one()

    def create_month_partition(self, table: str, month: date) -> int:
        """Create ``month``'s partition of ``table`` unless it exists; the rows moved into it from DEFAULT
        (PostgreSQL refuses to create a partition while DEFAULT holds rows of its range, so they are taken
        out and put back through the parent in the same transaction: no reader sees them gone)."""
        name, lo, hi = partition_name(_check(table), month), _bound(month), _bound(add_months(month, 1))
        with self._write() as conn:
            _locked(conn, table)
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
                return 0
            in_default = f"FROM {table}_default WHERE ts >= {lo} AND ts < {hi}"
            moved = conn.execute(text(f"SELECT count(*) {in_default}")).scalar_one()
            if moved:
                conn.execute(text(f"CREATE TEMP TABLE moving_events (LIKE {table}) ON COMMIT DROP"))
                conn.execute(
                    text(
                        f"WITH gone AS (DELETE {in_default} RETURNING *) "
                        "INSERT INTO moving_events SELECT * FROM gone"
                    )
                )
            conn.execute(text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({lo}) TO ({hi})"))
            if moved:
                conn.execute(text(f"INSERT INTO {table} SELECT * FROM moving_events"))
            return moved

    def drop_month_partition(self, table: str, month: date) -> int:
        """Detach and drop ``month``'s partition of ``table``; the rows it held (0 when there was none).
        A dropped usage event's repriced costs go with it, as the foreign key's cascade took them before
        partitioning (a partitioned table's id alone cannot be referenced)."""
        name = partition_name(_check(table), month)
        with self._write() as conn:
            _locked(conn, table)
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None:
                return 0
            conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
            rows = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            if table == "usage_events":
                conn.execute(
                    text(f"DELETE FROM usage_repriced r USING {name} u WHERE r.usage_event_id = u.id")
                )
            conn.execute(text(f"DROP TABLE {name}"))
            return rows
