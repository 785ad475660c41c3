"""The driver bulk path the ingest hot path writes with: what goes in comes back out exactly (timestamps,
JSON, NULLs), on both backends, and a key seen before is told apart from a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from helicarrier.data.bulk import bulk_insert, insert_new_keys
from helicarrier.data.models import IngestEventId, LogEvent


def test_rows_round_trip_through_the_bulk_path(repo):
    ts = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    cols = ("source", "event_id", "agent_id", "session_id", "ts", "received_at", "level", "message", "attrs")
    rows = [
        ("host", "e1", "a1", "s1", ts, ts, "info", "hello 'quoted' \\ back", {"k": [1, 2], "n": None}),
        ("host", None, "a1", None, ts + timedelta(seconds=1), ts, "error", "ünïcode ✓", None),
    ]
    with repo.engine.begin() as conn:
        bulk_insert(conn, LogEvent.__table__, cols, rows)
        bulk_insert(conn, LogEvent.__table__, cols, [])  # nothing to do is fine
    with repo.engine.connect() as conn:
        got = conn.execute(select(*(LogEvent.__table__.c[c] for c in cols)).order_by(LogEvent.ts)).all()
    assert [tuple(r) for r in got] == rows
    assert got[0].ts.tzinfo is not None


def test_insert_new_keys_tells_new_keys_from_seen_ones(repo):
    table = IngestEventId.__table__
    with repo.engine.begin() as conn:
        assert insert_new_keys(conn, table, "host", ["a", "b"]) == {"a", "b"}
    with repo.engine.begin() as conn:
        assert insert_new_keys(conn, table, "host", ["b", "c"]) == {"c"}
        assert insert_new_keys(conn, table, "other-host", ["b"]) == {"b"}  # keys belong to a source
        assert insert_new_keys(conn, table, "host", []) == set()
    many = [f"k{i}" for i in range(1000)]  # more than one statement's worth on SQLite
    with repo.engine.begin() as conn:
        assert insert_new_keys(conn, table, "bulk", many) == set(many)
