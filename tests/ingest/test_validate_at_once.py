"""The v2 validation fast path (``validate_at_once``: every event in one pydantic call) against the per-event
path (``validate_one_by_one``): the same events, the same rejections, and through the real API the same
answer bytes and the same stored rows, on SQLite and PostgreSQL.

A batch goes at once only when no event fails pydantic; one that does sends the whole batch one by one, so
each bad event still gets its own error. Appending one such event to a batch is therefore how the API is
made to take the per-event path for the very same events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from helicarrier.data.models import Agent, IngestEventId, LogEvent, Session, UsageEvent
from helicarrier.ingest.validate import Event, Rejection, validate_at_once, validate_one_by_one

TS = "2026-03-02T10:00:00Z"


def ev(type_: str, id_: str, data: Any, *, agent: str = "a-1", session: str | None = "s-1", **extra) -> dict:
    out: dict[str, Any] = {"id": id_, "type": type_, "ts": TS, "agent_id": agent, "data": data, **extra}
    if session is not None:
        out["session_id"] = session
    return out


def chat(prompt: int = 10, completion: int = 5, **extra: Any) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {"provider": "openai", "response": {"model": "gpt-4o", "usage": usage}, **extra}


def mixed(agent: str = "a", session: str = "s") -> list[dict[str, Any]]:
    """Every event type, valid for pydantic, with the rejections that come after it: a session start
    without its session, a usage payload of no known shape, an absurd cost, a repeated id; plus
    non-UTC offsets and ids with whitespace that the models normalize."""
    a1, a2, s1, s2 = f"{agent}-1", f"{agent}-2", f"{session}-1", f"{session}-2"
    return [
        ev("agent.heartbeat", "hb", {"status": "running", "labels": {"team": "x"}}, agent=a1, session=None),
        ev(
            "session.start",
            "st",
            {"model": "gpt-4o", "provider": "openai", "task": "t"},
            agent=a1,
            session=s1,
        ),
        ev("session.start", "st-nosession", {"model": "gpt-4o"}, agent=a2, session=None),
        ev("usage", "u1", chat(), agent=a1, session=s1),
        ev(
            "usage",
            "u-shape",
            {"provider": "openai", "response": {"usage": {"odd": 1}}},
            agent=a1,
            session=s1,
        ),
        ev("usage", "u-cost", chat(cost="1e30"), agent=a2, session=s2),
        ev("usage", "u2", chat(7, 3, cost="0.0012"), agent=a2, session=s2)
        | {"ts": "2026-03-02T12:00:00+02:00"},
        ev("log", " l1 ", {"level": "warning", "message": "m", "attrs": {"k": [1, 2]}}, agent=a1, session=s1),
        ev("log", "l1", {"message": "again"}, agent=a1, session=s1),
        ev("log", "l2", {"message": "extra kept", "extra_field": True}, agent=a2, session=None),
        ev("session.end", "end", {"status": "succeeded"}, agent=a1, session=s1),
        ev("command.ack", "ack", {"command_id": "no-such-command", "state": "accepted"}, agent=a1),
    ]


# One pydantic failure of each kind, each of which sends the batch one by one.
INVALID = [
    pytest.param(ev("log", "bad-ts", {"message": "m"}) | {"ts": "2026-03-02T10:00:00"}, id="naive-ts"),
    pytest.param(ev("teleport", "bad-type", {}), id="unknown-type"),
    pytest.param(ev("log", "bad-extra", {"message": "m"}) | {"colour": "red"}, id="extra-header-field"),
    pytest.param(ev("log", "bad-level", {"message": "m", "level": "loud"}), id="bad-level"),
    pytest.param(ev("log", "x" * 129, {"message": "m"}), id="id-too-long"),
    pytest.param(ev("usage", "bad-usage", {"response": {}}), id="usage-no-provider"),
    pytest.param(ev("log", "no-agent", {"message": "m"}, agent=""), id="empty-agent"),
    pytest.param(["not", "an", "object"], id="not-an-object"),
    pytest.param({"type": ["log"]}, id="type-not-text"),
]


def _shape(result: Event | Rejection) -> tuple:
    """Everything a checked event or a rejection carries, in comparable form."""
    if isinstance(result, Rejection):
        return ("rejected", result.as_result(), result.type)
    ts: datetime = result.ts
    return (
        result.index,
        result.id,
        result.type,
        ts.isoformat(),
        ts.tzinfo,
        result.agent_id,
        result.session_id,
        type(result.data).__name__,
        result.data.model_dump(mode="json"),
        orjson.dumps(result.raw),
        result.usage,
        result.duplicate,
    )


def test_at_once_gives_exactly_the_per_event_results():
    events = mixed()
    at_once = validate_at_once(events)
    assert at_once is not None, "a batch pydantic accepts goes at once"
    one_by_one = validate_one_by_one(events, scan_nul=False, check_depth=False)
    assert [_shape(r) for r in at_once] == [_shape(r) for r in one_by_one]
    # The rejection that comes after pydantic is there, by index.
    assert [r.index for r in at_once if isinstance(r, Rejection)] == [2]


@pytest.mark.parametrize("bad", INVALID)
def test_one_pydantic_failure_sends_the_batch_one_by_one(bad):
    assert validate_at_once([*mixed(), bad]) is None


def _rows(api, source: str, agent_prefix: str) -> dict[str, list[tuple]]:
    """The rows one posting stored, with what differs by construction (the source, the agents' and
    sessions' names, surrogate keys and the time of receipt) made common."""
    volatile = {"id", "seq", "received_at", "updated_at", "first_seen_at", "owner_since"}

    def same(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(source, "SOURCE").replace(f"{agent_prefix}-", "P-")
        return value

    tables = {
        UsageEvent: UsageEvent.source == source,
        LogEvent: LogEvent.source == source,
        IngestEventId: IngestEventId.source == source,
        Agent: Agent.id.like(f"{agent_prefix}-%"),
        Session: Session.agent_id.like(f"{agent_prefix}-%"),
    }
    out: dict[str, list[tuple]] = {}
    with api.repo.engine.connect() as conn:
        for model, where in tables.items():
            table = model.__table__
            # Agents and sessions are named by their id; the event tables' ids are row numbers.
            drop = volatile - {"id"} if model in (Agent, Session) else volatile
            rows = conn.execute(select(*(c for c in table.columns if c.name not in drop)).where(where)).all()
            out[table.name] = sorted((tuple(same(v) for v in r) for r in rows), key=repr)
    return out


def test_the_api_answers_and_stores_the_same_on_both_paths(api):
    """The same mixed batch posted twice under two sources and two sets of agents: as it is (at once),
    and with one invalid event appended (one by one). Same answer bytes, same rows."""
    bad = ev("log", "zz-bad", {"message": "m", "level": "loud"}, agent="slow-1")
    fast_events, slow_events = mixed("fast", "fast-s"), [*mixed("slow", "slow-s"), bad]
    assert validate_at_once(fast_events) is not None
    assert validate_at_once(slow_events) is None

    fast = api.post({"version": "v2", "source": {"name": "src-fast"}, "events": fast_events})
    slow = api.post({"version": "v2", "source": {"name": "src-slow"}, "events": slow_events})
    assert fast.status_code == slow.status_code == 207, fast.get_data(as_text=True)

    # The slow answer is the fast one plus the appended event's rejection.
    slow_doc = orjson.loads(slow.get_data())
    extra = slow_doc["results"].pop()
    assert (
        extra["index"] == len(fast_events)
        and extra["error"]["field"] == f"events[{len(fast_events)}].data.level"
    )
    slow_doc["rejected"] -= 1
    assert fast.get_data() == orjson.dumps(slow_doc)

    fast_rows, slow_rows = _rows(api, "src-fast", "fast"), _rows(api, "src-slow", "slow")
    assert fast_rows == slow_rows
    assert len(fast_rows["usage_events"]) == 2 and len(fast_rows["log_events"]) == 2
