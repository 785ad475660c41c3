"""PostgreSQL: usage_events and log_events range-partitioned by UTC month (issue 14, "Growth: partitions").

Retention then drops a month's partition instead of deleting its rows one by one. Each table is rebuilt:
a new partitioned table is created beside it, with one partition per month its rows fall in plus the
current month and three ahead, and a DEFAULT partition that takes an event of any month without one (an
acknowledged event is never refused for its time); the rows are copied, the old table dropped and the new
one takes its name, indexes and id sequence (ids and log sequence numbers go on increasing from where they
were: the Pulse resumes from them). The partition key must be part of every unique constraint, so the
primary keys become (id, ts) and (seq, ts); ids still come from one sequence. For the same reason
usage_repriced can no longer reference usage_events.id: the foreign key goes, and retention deletes a
dropped event's repriced rows itself (what ON DELETE CASCADE did).

The scheduler creates the months after these (helicarrier.retention.partitions). On SQLite nothing changes.
Downgrade rebuilds plain tables with the same rows and puts the foreign key back (repriced rows whose event
is gone are deleted first: the cascade would have taken them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3
FK = "fk_usage_repriced_usage_event_id_usage_events"

# table -> (key column, indexes as they were when this migration was written)
TABLES = {
    "usage_events": (
        "id",
        {
            "ix_usage_events_ts": "ts",
            "ix_usage_events_agent_ts": "agent_id, ts",
            "ix_usage_events_session_ts": "session_id, ts",
        },
    ),
    "log_events": (
        "seq",
        {
            "ix_log_events_ts": "ts",
            "ix_log_events_agent_seq": "agent_id, seq",
            "ix_log_events_session_id": "session_id",
        },
    ),
}


def _exec(sql: str) -> None:
    op.get_bind().execute(sa.text(sql))


def _columns(table: str) -> str:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    return ", ".join(r[0] for r in rows)


def _month(year: int, month: int, plus: int = 0) -> tuple[int, int]:
    index = year * 12 + (month - 1) + plus
    return index // 12, index % 12 + 1


def _months(table: str) -> list[tuple[int, int]]:
    found = op.get_bind().execute(
        sa.text(
            "SELECT DISTINCT CAST(extract(year FROM date_trunc('month', ts, 'UTC') AT TIME ZONE 'UTC') "
            "AS INTEGER), CAST(extract(month FROM date_trunc('month', ts, 'UTC') AT TIME ZONE 'UTC') "
            f"AS INTEGER) FROM {table}"
        )
    )
    now = datetime.now(UTC)
    ahead = {_month(now.year, now.month, k) for k in range(MONTHS_AHEAD + 1)}
    return sorted({(y, m) for y, m in found} | ahead)


def _partition(table: str, parent: str, year: int, month: int) -> None:
    ny, nm = _month(year, month, 1)
    _exec(
        f"CREATE TABLE {table}_y{year:04d}m{month:02d} PARTITION OF {parent} FOR VALUES "
        f"FROM ('{year:04d}-{month:02d}-01 00:00:00+00') TO ('{ny:04d}-{nm:02d}-01 00:00:00+00')"
    )


def _rebuild(table: str, partitioned: bool) -> None:
    """A new table beside the old one (partitioned or not), the rows copied over, the old one dropped, and
    its name, primary key, indexes and sequence handed to the new one."""
    key, indexes = TABLES[table]
    new = f"{table}_rebuilt"
    seq = (
        op.get_bind()
        .execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": key})
        .scalar()
    )
    months = _months(table) if partitioned else []
    cols = _columns(table)
    by_month = " PARTITION BY RANGE (ts)" if partitioned else ""
    _exec(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS){by_month}")
    if partitioned:
        for year, month in months:
            _partition(table, new, year, month)
        _exec(f"CREATE TABLE {table}_default PARTITION OF {new} DEFAULT")
    _exec(f"INSERT INTO {new} ({cols}) SELECT {cols} FROM {table}")
    # The sequence must outlive the old table, then belongs to the new one (TRUNCATE ... RESTART IDENTITY
    # and pg_get_serial_sequence, which copy-db uses, find it through that ownership).
    _exec(f"ALTER SEQUENCE {seq} OWNED BY NONE")
    _exec(f"DROP TABLE {table}")
    _exec(f"ALTER TABLE {new} RENAME TO {table}")
    _exec(f"ALTER SEQUENCE {seq} OWNED BY {table}.{key}")
    pk = f"{key}, ts" if partitioned else key
    _exec(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({pk})")
    for name, on in indexes.items():
        _exec(f"CREATE INDEX {name} ON {table} ({on})")


def _unpartition(table: str) -> None:
    # The partitions' tables go with the partitioned one when it is dropped.
    _rebuild(table, partitioned=False)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _exec(f"ALTER TABLE usage_repriced DROP CONSTRAINT {FK}")
    for table in TABLES:
        _rebuild(table, partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        _unpartition(table)
    _exec(
        "DELETE FROM usage_repriced r "
        "WHERE NOT EXISTS (SELECT 1 FROM usage_events u WHERE u.id = r.usage_event_id)"
    )
    _exec(
        f"ALTER TABLE usage_repriced ADD CONSTRAINT {FK} FOREIGN KEY (usage_event_id) "
        "REFERENCES usage_events (id) ON DELETE CASCADE"
    )
