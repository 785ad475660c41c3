"""The driver bulk path the ingest hot path writes with: what goes in comes back out exactly (timestamps,
JSON, NULLs), on both backends, and a key seen before is told apart from a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Numeric, Table, insert, select, text

from helicarrier.data.bulk import (
    _BOOL,
    _BYTEA,
    _INT2,
    _INT4,
    _INT8,
    _TEXT,
    _TIMESTAMPTZ,
    _jsonb_binary,
    _pg_binary,
    bulk_insert,
    execute_many,
    insert_new_keys,
    rows_for_keys,
)
from helicarrier.data.engine import make_engine
from helicarrier.data.models import Agent, Base, IngestEventId, LogEvent, UsageEvent
from helicarrier.data.queries.ingest import _agent_session_ended, _agent_update
from helicarrier.data.schema import ensure_schema


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
        assert insert_new_keys(conn, table, "host", ["a", "b"], 20_000) == {"a", "b"}
    with repo.engine.begin() as conn:
        assert insert_new_keys(conn, table, "host", ["b", "c"], 20_001) == {"c"}
        assert insert_new_keys(conn, table, "other-host", ["b"], 20_001) == {"b"}  # keys belong to a source
        assert insert_new_keys(conn, table, "host", [], 20_001) == set()
    many = [f"k{i}" for i in range(1000)]  # more than one statement's worth on SQLite
    with repo.engine.begin() as conn:
        assert insert_new_keys(conn, table, "bulk", many, 20_002) == set(many)
        seen = select(table.c.event_id, table.c.seen_day).where(table.c.source == "host")
        days = dict(conn.execute(seen).all())
    # The day a key was first seen: a repeat does not move it (retention counts from the first sight).
    assert days == {"a": 20_000, "b": 20_000, "c": 20_001}


def _agents(conn, ids):
    cols = [c.name for c in Agent.__table__.c if c.name != "id"]
    rows = conn.execute(select(Agent.__table__).where(Agent.id.in_(ids)).order_by(Agent.id)).mappings()
    return [{c: r[c] for c in cols} for r in rows]


def test_execute_many_writes_what_sqlalchemy_would(repo):
    """The ingest's precompiled UPDATEs convert each parameter as SQLAlchemy does (timestamps in another
    zone, JSON, NULLs that keep a column, a literal the statement holds): two identical agents updated one
    way and the other end up identical."""
    east = timezone(timedelta(hours=5, minutes=30))
    seen = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=east)
    now = datetime(2026, 3, 2, 4, 31, tzinfo=UTC)
    start = {"name": "n", "status": "running", "model": "m0", "current_task": "old task",
             "current_session_id": "s1", "labels": {"team": "a"}, "first_seen_at": now,
             "updated_at": now}  # fmt: skip
    said = {"b_name": "renamed", "b_status": None, "b_model": "gpt-4o", "b_provider": None,
            "b_current_task": None, "b_current_session_id": None, "b_labels": {"team": "b", "n": [1, None]},
            "b_seen": seen, "b_heartbeat": True, "b_waiting_until": seen + timedelta(minutes=5),
            "b_waiting_for": "approval ✓", "b_now": now}  # fmt: skip
    with repo.engine.begin() as conn:
        conn.execute(insert(Agent), [{"id": "fast", **start}, {"id": "core", **start}])
        execute_many(conn, "test.agent_update", _agent_update, [{"b_id": "fast", **said}])
        conn.execute(_agent_update(), [{"b_id": "core", **said}])
        ended = {"b_s": "s1", "b_now": now + timedelta(seconds=1)}
        execute_many(conn, "test.agent_session_ended", _agent_session_ended, [{"b_a": "fast", **ended}])
        conn.execute(_agent_session_ended(), [{"b_a": "core", **ended}])
    with repo.engine.connect() as conn:
        core, fast = _agents(conn, ["core", "fast"])
    assert fast == core
    assert fast["name"] == "renamed" and fast["model"] == "gpt-4o" and fast["status"] == "idle"
    assert fast["last_heartbeat_at"] == seen and fast["labels"] == {"team": "b", "n": [1, None]}
    assert fast["current_session_id"] is None and fast["waiting_for"] == "approval ✓"


def test_binary_copy_sends_each_column_in_its_migrated_type(pg_schemas):
    """PostgreSQL's binary COPY reads each value in the column's own binary form, so a model that says
    Integer for a BIGINT column would corrupt or refuse every batch. For every table, each column the bulk
    path would send in binary must be declared, by the migrations, as the type its dumper writes."""
    url = pg_schemas.new()
    engine = make_engine(url)
    ensure_schema(engine)
    wire = {_TEXT: {"character varying", "text"}, _INT8: {"bigint"}, _INT4: {"integer"}, _INT2: {"smallint"},
            _BOOL: {"boolean"}, _TIMESTAMPTZ: {"timestamp with time zone"}}  # fmt: skip
    checked = 0
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                declared = dict(
                    conn.execute(
                        text(
                            "SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = :t"
                        ),
                        {"t": table.name},
                    ).all()
                )
                cols = tuple(c.name for c in table.columns)
                oids, convs = _pg_binary(table, cols)
                jsonb = {i for i, fn in convs if fn is _jsonb_binary}
                for i, (name, oid) in enumerate(zip(cols, oids, strict=True)):
                    expected = {"jsonb"} if i in jsonb else {"json"} if oid == _BYTEA else wire[oid]
                    assert declared[name] in expected, (table.name, name, declared[name], oid)
                    checked += 1
    finally:
        engine.dispose()
    assert checked > 200  # every table's columns, not a few


def test_a_column_with_no_binary_copy_form_is_refused_by_name():
    """Rather than copied in some other form no test has seen: every stored column has a binary form (the
    test above), and a new column type must be given one."""
    table = Table("priced", MetaData(), Column("id", Integer), Column("amount", Numeric(10, 2)))
    with pytest.raises(TypeError, match=r"priced\.amount: no binary COPY form"):
        _pg_binary(table, ("id", "amount"))


def test_usage_rows_round_trip_through_binary_copy(repo):
    """The usage columns the ingest writes (JSONB payloads, small and big integers, NULLs) read back as
    sent."""
    ts = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    row = {
        "source": "host", "event_id": "e1", "agent_id": "a1", "session_id": None, "ts": ts, "received_at": ts,
        "provider": "openai", "model": "gpt-4o", "input_tokens": 2**40, "output_tokens": 0,
        "cache_read_tokens": 7, "cache_write_tokens": 1, "total_tokens": 2**40, "reasoning_tokens": None,
        "cost_nanos": -5, "normalizer_version": 3, "cost_provenance": "computed", "cost_confidence": "high",
        "warnings": ["w'1", "\\"], "raw": {"a": [1, {"b": "ü"}], "n": None},
    }  # fmt: skip
    with repo.engine.begin() as conn:
        bulk_insert(conn, UsageEvent.__table__, tuple(row), [tuple(row.values())])
    with repo.engine.connect() as conn:
        got = conn.execute(select(*(UsageEvent.__table__.c[c] for c in row))).one()
    assert dict(got._mapping) == row


def test_rows_for_keys_reads_any_number_of_keys_as_one_parameter(repo):
    """The ingest's small lookups pass their keys as one JSON array: 1,200 of them (past SQLite's old limit
    of 999 parameters), quotes and non-ASCII included, and none at all."""
    now = datetime(2026, 3, 2, tzinfo=UTC)
    ids = [f"agent-{i}" for i in range(1200)] + ["o'brien ✓"]
    with repo.engine.begin() as conn:
        rows = [{"id": a, "name": a, "first_seen_at": now, "updated_at": now} for a in ids]
        conn.execute(insert(Agent), rows)
        wanted = [*ids[::2], "nobody"]
        got = rows_for_keys(conn, "SELECT id FROM agents WHERE id IN ({keys})", wanted)
        assert sorted(r[0] for r in got) == sorted(ids[::2])
        assert rows_for_keys(conn, "SELECT id FROM agents WHERE id IN ({keys})", []) == []
