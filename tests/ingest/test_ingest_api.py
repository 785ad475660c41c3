"""POST /api/v1/ingest (and /usage/normalize, /openapi.json) through the real app, on SQLite and PostgreSQL.

Every test checks both what the client is told and what the database holds afterwards.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from helicarrier.data.models import (
    Agent,
    Command,
    IngestEventId,
    IngestReceipt,
    LogEvent,
    Session,
    UsageEvent,
)
from helicarrier.ingest.normalize import normalize_usage
from tests.ingesting import usage_data

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
BASE_TS = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
PINNED_PRICES = "genai-prices-0.2.3"
TABLES = (Agent, Session, UsageEvent, LogEvent, IngestEventId, IngestReceipt)
# A batch with a heartbeat is answered whether a budget holds its agent (docs/api.md, Budgets).
NOT_LOCKED = {"budget_locked": False, "budget_locks": []}


# -- request builders ---------------------------------------------------------------------------------


def at(seconds: int = 0) -> str:
    return (BASE_TS + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def dt(seconds: int = 0) -> datetime:
    return BASE_TS + timedelta(seconds=seconds)


def event(
    type_: str,
    id_: str,
    data: dict[str, Any] | None = None,
    *,
    agent: str = "agent-1",
    session: str | None = "sess-1",
    ts: int = 0,
) -> dict[str, Any]:
    ev: dict[str, Any] = {"id": id_, "type": type_, "ts": at(ts), "agent_id": agent, "data": data or {}}
    if session is not None:
        ev["session_id"] = session
    return ev


def batch(*events: dict[str, Any], source: str = "host-1", **extra: Any) -> dict[str, Any]:
    return {
        "version": "v2",
        "source": {"name": source, "provenance": "pytest"},
        "events": list(events),
        **extra,
    }


def single(
    type_: str, *, agent: str = "agent-1", session: str | None = "sess-1", ts: int = 0, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"version": "v1", "type": type_, "agent_id": agent, "ts": at(ts), **fields}
    if session is not None:
        body["session_id"] = session
    return body


def chat_usage(model: str = "gpt-4o", prompt: int = 10, completion: int = 5, **extra: Any) -> dict[str, Any]:
    """An OpenAI chat completion usage event's data."""
    return {
        "provider": "openai",
        "response": {"model": model, "usage": {"prompt_tokens": prompt, "completion_tokens": completion}},
        **extra,
    }


def counts(api) -> dict[str, int]:
    return {m.__tablename__: api.count(m) for m in TABLES}


# -- error assertions ---------------------------------------------------------------------------------


def _fields(details: Any) -> list[str]:
    if isinstance(details, dict):
        return [details["field"]] if "field" in details else []
    if isinstance(details, list):
        out = []
        for item in details:
            if "field" in item:
                out.append(item["field"])
            elif isinstance(item.get("error"), dict) and item["error"].get("field"):
                out.append(item["error"]["field"])
        return out
    return []


def assert_error(resp, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    if field is not None:
        assert field in _fields(err["details"]), err
        if code != "all_events_rejected":
            assert field in err["message"], err
    return err


@pytest.fixture
def seeded(api):
    """Some data already stored, so that "nothing changed" is checked against non-empty tables."""
    resp = api.post(
        batch(
            event("agent.heartbeat", "seed-hb", {"status": "running"}, agent="agent-0", session=None),
            event("session.start", "seed-start", {"model": "gpt-4o"}, agent="agent-0", session="sess-0"),
            event("usage", "seed-usage", chat_usage(), agent="agent-0", session="sess-0", ts=1),
            event("log", "seed-log", {"message": "seeded"}, agent="agent-0", session="sess-0", ts=2),
            source="seed",
        ),
        key="seed-key",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert all(n > 0 for n in counts(api).values())
    return api


# == v1: one event of each type ========================================================================


def test_v1_heartbeat_creates_the_agent(api):
    resp = api.post(
        single(
            "agent.heartbeat",
            session=None,
            status="running",
            current_task="refactor the parser",
            name="Builder One",
            labels={"team": "infra"},
        )
    )
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0, **NOT_LOCKED}
    agent = api.one(Agent)
    assert (agent.id, agent.name, agent.status) == ("agent-1", "Builder One", "running")
    assert agent.current_task == "refactor the parser"
    assert agent.labels == {"team": "infra"}
    assert agent.last_heartbeat_at == dt(0)
    assert counts(api) == {
        "agents": 1,
        "sessions": 0,
        "usage_events": 0,
        "log_events": 0,
        "ingest_event_ids": 0,
        "ingest_receipts": 0,
    }


def test_v1_session_start_then_end_moves_agent_and_session(api):
    start = single(
        "session.start",
        model="claude-sonnet-4-5",
        provider="anthropic",
        task="write docs",
        task_kind="docs",
        labels={"repo": "helicarrier"},
    )
    assert api.post(start).status_code == 200
    agent = api.one(Agent)
    assert (agent.status, agent.current_session_id, agent.current_task) == ("running", "sess-1", "write docs")
    assert (agent.model, agent.provider) == ("claude-sonnet-4-5", "anthropic")
    session = api.one(Session)
    assert (session.agent_id, session.status, session.ended_at) == ("agent-1", "running", None)
    assert (session.model, session.provider, session.task) == ("claude-sonnet-4-5", "anthropic", "write docs")
    assert (session.task_kind, session.labels, session.started_at) == ("docs", {"repo": "helicarrier"}, dt(0))

    resp = api.post(single("session.end", ts=60, status="failed", error="rate limited"))
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    session = api.one(Session)
    assert (session.status, session.error, session.ended_at) == ("failed", "rate limited", dt(60))
    assert session.started_at == dt(0)
    agent = api.one(Agent)
    assert (agent.status, agent.current_session_id, agent.current_task) == ("idle", None, None)
    assert agent.last_heartbeat_at == dt(60)


def test_v1_usage_stores_a_normalized_row_and_session_totals(api):
    resp = api.post(single("usage", **chat_usage(prompt=1200, completion=300)))
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    row = api.one(UsageEvent)
    assert (row.agent_id, row.session_id, row.ts, row.event_id) == ("agent-1", "sess-1", dt(0), None)
    assert (row.provider, row.model, row.input_tokens, row.output_tokens) == ("openai", "gpt-4o", 1200, 300)
    assert (row.total_tokens, row.cache_read_tokens, row.reasoning_tokens) == (1500, 0, None)
    assert row.source == "agent-host-1"  # a v1 event's source is the token's name
    session = api.one(Session)
    assert (session.usage_events, session.input_tokens, session.output_tokens) == (1, 1200, 300)
    assert session.cost_nanos == row.cost_nanos > 0
    agent = api.one(Agent)
    assert (agent.model, agent.provider) == ("gpt-4o", "openai")


def test_v1_log_is_stored(api):
    resp = api.post(single("log", level="warning", message="disk almost full", attrs={"free_gb": 2}))
    assert resp.status_code == 200
    log = api.one(LogEvent)
    assert (log.agent_id, log.session_id, log.level, log.message) == (
        "agent-1",
        "sess-1",
        "warning",
        "disk almost full",
    )
    assert (log.attrs, log.ts) == ({"free_gb": 2}, dt(0))
    # A log naming an unseen session creates it, so the session view has somewhere to show it.
    assert api.one(Session).status == "running"


def test_v1_event_with_an_id_is_deduplicated(api):
    body = single("log", message="once", id="log-1")
    assert api.post(body).get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert api.post(body).get_json() == {"accepted": 0, "duplicates": 1, "rejected": 0}
    assert api.count(LogEvent) == 1


def test_v1_command_ack_for_unknown_command_is_rejected_and_stores_nothing(seeded):
    api = seeded
    before = api.snapshot()
    resp = api.post(single("command.ack", command_id="no-such-command", state="accepted"))
    err = assert_error(resp, 422, "unknown_command", "command_id")
    assert "no-such-command" in err["message"]
    assert api.snapshot() == before


def _issue_command(api, command_id: str, agent: str = "agent-1") -> None:
    now = datetime.now(UTC)
    with api.repo.engine.begin() as conn:
        conn.execute(insert(Agent).values(id=agent, name=agent, status="running", updated_at=now))
        conn.execute(
            insert(Command).values(
                id=command_id,
                agent_id=agent,
                kind="pause",
                state="delivered",
                issued_by="operator",
                created_at=now,
                expires_at=now + timedelta(minutes=5),
                updated_at=now,
            )
        )


def test_command_ack_for_a_known_command_is_accepted_and_for_another_agent_refused(api):
    _issue_command(api, "cmd-1")
    ok = api.post(single("command.ack", session=None, command_id="cmd-1", state="completed", message="done"))
    assert ok.status_code == 200
    assert ok.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert api.one(Agent).last_heartbeat_at == dt(0)

    before = api.snapshot()
    wrong = api.post(
        single("command.ack", agent="agent-2", session=None, command_id="cmd-1", state="accepted")
    )
    assert_error(wrong, 422, "wrong_agent", "command_id")
    assert api.snapshot() == before


def test_an_answer_in_a_batch_moves_the_command_and_keeps_the_agents_message(api, make_token):
    """What the agent says when it answers is what the operator reads on the command (a mutant storing no
    message survived)."""
    reader = make_token("dashboard", "read")
    _issue_command(api, "cmd-2")
    answer = {"command_id": "cmd-2", "state": "completed", "message": "paused after step 3"}
    resp = api.post(batch(event("command.ack", "a", answer, session=None)))
    assert resp.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    command = api.client.get("/api/v1/commands/cmd-2", headers=api.headers(reader)).get_json()["command"]
    assert (command["state"], command["result_message"]) == ("completed", "paused after step 3")


# == v2: batches ========================================================================================


def test_v2_batch_with_every_event_type(api):
    _issue_command(api, "cmd-7")
    body = batch(
        event("agent.heartbeat", "e1", {"status": "running", "current_task": "boot"}, session=None),
        event("session.start", "e2", {"model": "gpt-4o", "provider": "openai", "task": "triage"}, ts=1),
        event("usage", "e3", chat_usage(prompt=100, completion=20), ts=2),
        event("log", "e4", {"level": "info", "message": "step 1 done"}, ts=3),
        event("usage", "e5", chat_usage(prompt=50, completion=30), ts=4),
        event("command.ack", "e6", {"command_id": "cmd-7", "state": "accepted"}, ts=5),
        event("session.end", "e7", {"status": "succeeded"}, ts=6),
    )
    resp = api.post(body)
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": 7, "duplicates": 0, "rejected": 0, **NOT_LOCKED}
    assert counts(api) == {
        "agents": 1,
        "sessions": 1,
        "usage_events": 2,
        "log_events": 1,
        "ingest_event_ids": 7,
        "ingest_receipts": 0,
    }
    usage = api.rows(UsageEvent)
    assert [u.event_id for u in usage] == ["e3", "e5"]
    assert {u.source for u in usage} == {"host-1"}
    session = api.one(Session)
    assert (session.status, session.ended_at, session.model, session.task) == (
        "succeeded",
        dt(6),
        "gpt-4o",
        "triage",
    )
    assert session.usage_events == 2
    assert session.input_tokens == sum(u.input_tokens for u in usage) == 150
    assert session.output_tokens == sum(u.output_tokens for u in usage) == 50
    assert session.cost_nanos == sum(u.cost_nanos for u in usage)
    agent = api.one(Agent)
    assert (agent.status, agent.current_session_id) == ("idle", None)
    assert agent.last_heartbeat_at == dt(6)


def test_usage_before_start_creates_the_session_and_a_late_start_does_not_reopen_it(api):
    assert (
        api.post(batch(event("usage", "u1", chat_usage(prompt=40, completion=2), ts=10))).status_code == 200
    )
    session = api.one(Session)
    assert (session.status, session.model, session.task, session.usage_events) == ("running", None, None, 1)

    end = batch(event("session.end", "end", {"status": "timeout", "error": "wall clock"}, ts=20))
    assert api.post(end).status_code == 200
    assert api.one(Session).status == "timeout"

    late = batch(event("session.start", "start", {"model": "gpt-4o", "task": "summarise"}, ts=0))
    assert api.post(late).get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    session = api.one(Session)
    assert (session.model, session.task, session.started_at) == ("gpt-4o", "summarise", dt(0))
    assert (session.status, session.error, session.ended_at) == ("timeout", "wall clock", dt(20))
    assert (session.usage_events, session.input_tokens) == (1, 40)
    agent = api.one(Agent)
    assert (agent.status, agent.current_session_id) == ("idle", None)


def test_session_totals_add_up_across_requests(api):
    for i, (p, c) in enumerate([(10, 1), (20, 2), (30, 3)]):
        assert (
            api.post(batch(event("usage", f"u{i}", chat_usage(prompt=p, completion=c), ts=i))).status_code
            == 200
        )
    session = api.one(Session)
    rows = api.rows(UsageEvent)
    assert (session.usage_events, session.input_tokens, session.output_tokens) == (3, 60, 6)
    assert session.cost_nanos == sum(r.cost_nanos for r in rows)


def test_html_and_control_characters_are_stored_exactly(api):
    nasty = "<script>alert(1)</script>\x07\t\u202e"
    body = batch(
        event(
            "agent.heartbeat",
            "h",
            {"name": nasty, "current_task": nasty, "labels": {"k": nasty}},
            session=None,
        ),
        event("session.start", "s", {"task": nasty}, ts=1),
        event("log", "l", {"message": nasty, "attrs": {"html": nasty}}, ts=2),
        event("session.end", "e", {"status": "failed", "error": nasty}, ts=3),
    )
    assert api.post(body).status_code == 200
    assert api.post(single("log", ts=4, message=nasty)).status_code == 200
    agent = api.one(Agent)
    assert agent.name == nasty and agent.labels == {"k": nasty}
    session = api.one(Session)
    assert session.task == nasty and session.error == nasty
    logs = api.rows(LogEvent)
    assert [log.message for log in logs] == [nasty, nasty]
    assert logs[0].attrs == {"html": nasty}


def test_unknown_extra_fields_are_accepted_and_kept_in_raw(api):
    data = chat_usage(trace_id="t-123", sdk={"name": "my-sdk", "version": "1.2"})
    data["response"]["usage"]["future_counter"] = 7
    body = batch(
        event("usage", "u", data),
        event("agent.heartbeat", "h", {"status": "idle", "gpu": "A100"}, session=None),
    )
    resp = api.post(body)
    assert resp.get_json() == {"accepted": 2, "duplicates": 0, "rejected": 0, **NOT_LOCKED}
    row = api.one(UsageEvent)
    assert row.raw == data
    assert row.raw["trace_id"] == "t-123" and row.raw["response"]["usage"]["future_counter"] == 7
    assert (row.input_tokens, row.output_tokens) == (10, 5)
    # v1 too: top-level fields that are not part of the header go into the event's data.
    assert api.post(single("usage", ts=1, **chat_usage(), shard="eu-1")).status_code == 200
    assert api.rows(UsageEvent)[1].raw["shard"] == "eu-1"


# == provider payloads through the API ==================================================================


def _provider_fixtures() -> list[Path]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        # One provider response each; the session-log fixtures expect per-message rows instead.
        if isinstance(doc.get("payload"), dict) and "input_tokens" in doc.get("expected", {}):
            out.append(path)
    return out


def _usage_data(name: str, payload: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return usage_data(payload, expected)


def test_provider_fixture_matrix_is_not_empty():
    assert len(_provider_fixtures()) >= 37  # a lost fixture is a lost contract


TOKEN_COLUMNS = (
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
)


# What a provider fixture's ``expected`` lists, null where the provider does not report it.
EVERY_FIELD = (
    *TOKEN_COLUMNS,
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reported_total_tokens",
    "web_search_requests",
)


@pytest.mark.parametrize("path", _provider_fixtures(), ids=lambda p: p.stem)
def test_provider_payload_is_normalized_and_stored(api, path):
    doc = json.loads(path.read_text())
    expected = doc["expected"]
    data = _usage_data(path.stem, doc["payload"], expected)
    resp = api.post(batch(event("usage", "call-1", data)))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    row = api.one(UsageEvent)
    # Every field the fixture expects: stored columns from the row; the provider's own total, per-request
    # searches and speed from the preview (which promises what ingest computed); the cache-write TTL split,
    # which the API does not show, from re-normalizing the stored raw payload.
    preview = api.post(data, path="/api/v1/usage/normalize").get_json()["usage"]
    again = normalize_usage(row.raw)
    assert set(EVERY_FIELD) <= set(expected), f"fixture must list every normalized field: {EVERY_FIELD}"
    for field, want in expected.items():
        if field in TOKEN_COLUMNS:
            got = getattr(row, field)
        elif field == "speed":
            got = preview["price_context"].get("speed")
        elif field in preview:
            got = preview[field]
        else:
            got = getattr(again, field)
        assert got == want, field
    if expected.get("reasoning_tokens", "absent") is None:
        assert row.reasoning_tokens is None  # not reported, which is not the same as 0
    assert row.total_tokens == row.input_tokens + row.output_tokens
    assert row.raw == data  # the provider's payload, exactly as sent, beside the normalized row
    # Never a silent zero: no price means a NULL cost, and a NULL cost means "unpriced".
    assert (row.cost_nanos is None) == (row.cost_provenance == "unpriced")
    assert row.pricing_version == PINNED_PRICES
    session = api.one(Session)
    assert (session.input_tokens, session.output_tokens) == (row.input_tokens, row.output_tokens)
    assert session.reasoning_tokens == (row.reasoning_tokens or 0)


# == cost provenance ====================================================================================


def test_priced_model_gets_a_computed_cost_with_its_provenance(api):
    assert api.post(batch(event("usage", "u", chat_usage("gpt-4o", 1000, 100)))).status_code == 200
    row = api.one(UsageEvent)
    assert isinstance(row.cost_nanos, int) and row.cost_nanos > 0
    # gpt-4o: $2.50 / MTok in, $10 / MTok out -> 1000 * 2.5 + 100 * 10 = 3500 micro-dollars.
    assert row.cost_nanos == 3_500_000
    assert (row.cost_provenance, row.cost_confidence) == ("computed", "high")
    assert (row.pricing_version, row.price_provider, row.price_model) == (PINNED_PRICES, "openai", "gpt-4o")
    assert row.reported_cost_nanos is None
    session = api.one(Session)
    assert (session.cost_nanos, session.unpriced_events) == (3_500_000, 0)


def test_unknown_model_is_unpriced_never_zero(api):
    resp = api.post(batch(event("usage", "u", chat_usage("house-model-that-no-one-prices", 1000, 100))))
    assert resp.status_code == 200
    row = api.one(UsageEvent)
    assert row.cost_nanos is None
    assert row.cost_provenance == "unpriced"
    assert (row.input_tokens, row.output_tokens) == (1000, 100)
    session = api.one(Session)
    assert session.unpriced_events == 1
    assert session.cost_nanos == 0  # nothing priced was added; the unpriced call is counted instead


def test_reported_cost_is_kept_beside_the_computed_one(api):
    assert (
        api.post(batch(event("usage", "u", chat_usage("gpt-4o", 1000, 100, cost="0.0123")))).status_code
        == 200
    )
    row = api.one(UsageEvent)
    assert row.reported_cost_nanos == 12_300_000
    assert row.cost_nanos == 3_500_000
    assert row.cost_provenance == "computed"


def test_reported_cost_prices_an_unknown_model(api):
    resp = api.post(batch(event("usage", "u", chat_usage("house-model", 10, 1, cost=0.5))))
    assert resp.status_code == 200
    row = api.one(UsageEvent)
    assert (row.cost_nanos, row.reported_cost_nanos, row.cost_provenance) == (
        500_000_000,
        500_000_000,
        "reported",
    )
    assert api.one(Session).unpriced_events == 0


# == idempotency ========================================================================================


def test_same_key_same_body_replays_the_first_response_byte_for_byte(api):
    body = batch(
        event("usage", "u1", chat_usage()),
        event("log", "bad", {"level": "loud", "message": "x"}),  # makes the first answer a 207
    )
    first = api.post(body, key="retry-1")
    assert first.status_code == 207
    after_first = api.snapshot()
    second = api.post(body, key="retry-1")
    assert second.status_code == 207
    assert second.get_data() == first.get_data()
    assert second.mimetype == "application/json"
    assert api.snapshot() == after_first
    assert (api.count(UsageEvent), api.count(IngestReceipt)) == (1, 1)


def test_same_key_replay_of_v1_without_event_ids_stores_nothing_twice(api):
    body = single("log", message="no id, only the key protects me")
    first = api.post(body, key="k-v1")
    second = api.post(body, key="k-v1")
    assert first.status_code == second.status_code == 200
    assert second.get_data() == first.get_data()
    assert api.count(LogEvent) == 1


def test_same_key_different_body_is_a_409_and_stores_nothing(api):
    assert api.post(batch(event("log", "a", {"message": "first"})), key="k").status_code == 200
    before = api.snapshot()
    resp = api.post(batch(event("log", "b", {"message": "second"})), key="k")
    err = assert_error(resp, 409, "idempotency_conflict")
    assert err["message"] == "this Idempotency-Key was used with a different request body; nothing was stored"
    assert err["details"] == {"idempotency_key": "k"}
    assert api.snapshot() == before
    assert [log.message for log in api.rows(LogEvent)] == ["first"]


def test_two_tokens_may_use_the_same_key_independently(api, make_token):
    other = make_token("agent-host-2", "ingest")
    a = api.post(single("log", message="from host 1"), key="shared-key")
    b = api.post(single("log", agent="agent-2", message="from host 2"), key="shared-key", token=other)
    assert a.status_code == b.status_code == 200
    assert b.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert sorted(log.message for log in api.rows(LogEvent)) == ["from host 1", "from host 2"]
    assert api.count(IngestReceipt) == 2


def test_a_rejected_request_does_not_burn_its_key(api):
    bad = batch(event("log", "x", {"message": 5}))
    assert_error(api.post(bad, key="k"), 422, "all_events_rejected", "events[0].data.message")
    assert api.count(IngestReceipt) == 0
    good = batch(event("log", "x", {"message": "fixed"}))
    assert api.post(good, key="k").status_code == 200
    assert api.count(LogEvent) == 1


# == v2 duplicates and partial success ==================================================================


def test_resent_event_ids_count_as_duplicates(api):
    body = batch(event("usage", "u1", chat_usage()), event("log", "l1", {"message": "hi"}))
    assert api.post(body).get_json() == {"accepted": 2, "duplicates": 0, "rejected": 0}
    resent = batch(
        event("usage", "u1", chat_usage()),
        event("log", "l1", {"message": "hi"}),
        event("log", "l2", {"message": "new"}),
    )
    resp = api.post(resent)
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": 1, "duplicates": 2, "rejected": 0}
    assert (api.count(UsageEvent), api.count(LogEvent), api.count(IngestEventId)) == (1, 2, 3)
    assert api.one(Session).usage_events == 1


def test_an_id_repeated_inside_one_batch_is_stored_once(api):
    body = batch(
        event("usage", "same", chat_usage(prompt=100, completion=10)),
        event("usage", "same", chat_usage(prompt=100, completion=10)),
    )
    resp = api.post(body)
    assert resp.get_json() == {"accepted": 1, "duplicates": 1, "rejected": 0}
    assert api.count(UsageEvent) == 1
    session = api.one(Session)
    assert (session.usage_events, session.input_tokens) == (1, 100)


def test_event_ids_are_unique_per_source(api):
    assert api.post(batch(event("log", "l1", {"message": "a"}), source="host-a")).status_code == 200
    resp = api.post(batch(event("log", "l1", {"message": "b"}), source="host-b"))
    assert resp.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert api.count(LogEvent) == 2


def test_partial_success_is_207_with_a_result_per_event(api):
    body = batch(
        event("log", "ok-1", {"message": "fine"}),
        event("usage", "neg", {"provider": "openai", "usage": {"prompt_tokens": -3, "completion_tokens": 1}}),
        event("log", "ok-2", {"message": "also fine"}),
        {"id": "no-agent", "type": "log", "ts": at(), "data": {"message": "who?"}},
        "not an event",
        event("session.end", "bad-status", {"status": "done"}),
    )
    resp = api.post(body)
    assert resp.status_code == 207
    out = resp.get_json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (2, 0, 4)
    results = out["results"]
    assert [(r["index"], r["id"], r["status"]) for r in results] == [
        (0, "ok-1", "accepted"),
        (1, "neg", "rejected"),
        (2, "ok-2", "accepted"),
        (3, "no-agent", "rejected"),
        (4, None, "rejected"),
        (5, "bad-status", "rejected"),
    ]
    assert results[0]["error"] is None
    assert (results[1]["error"]["code"], results[1]["error"]["field"]) == (
        "invalid_usage",
        "events[1].data.usage.prompt_tokens",
    )
    assert results[3]["error"]["field"] == "events[3].agent_id"
    assert results[4]["error"]["field"] == "events[4]"
    assert results[5]["error"]["field"] == "events[5].data.status"
    assert all(r["error"]["message"] for r in results if r["status"] == "rejected")
    assert [log.event_id for log in api.rows(LogEvent)] == ["ok-1", "ok-2"]
    assert api.count(UsageEvent) == 0
    assert sorted(r.event_id for r in api.rows(IngestEventId)) == ["ok-1", "ok-2"]


def test_a_207_names_each_duplicate_so_the_client_resends_only_the_rejected(api):
    """In a partly refused batch every event has its result, a duplicate's too (a mutant answering a
    duplicate's status as null survived)."""
    assert api.post(batch(event("log", "old", {"message": "sent before"}))).status_code == 200
    resp = api.post(
        batch(
            event("log", "new", {"message": "new"}),
            event("log", "old", {"message": "sent before"}),
            event("log", "bad", {"level": "info"}),
        )
    )
    assert resp.status_code == 207
    out = resp.get_json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (1, 1, 1)
    assert [(r["index"], r["id"], r["status"]) for r in out["results"]] == [
        (0, "new", "accepted"),
        (1, "old", "duplicate"),
        (2, "bad", "rejected"),
    ]
    assert out["results"][1]["error"] is None
    assert [log.event_id for log in api.rows(LogEvent)] == ["old", "new"]


def test_valid_events_all_refused_by_what_is_stored_are_a_422_but_a_duplicate_beside_them_a_207(api):
    """Events that pass validation and are all refused in the transaction (here answers to a command that
    does not exist) store nothing: a 422 listing each, and the key and event ids stay unused. A duplicate
    beside them was taken, so that batch is a 207 (mutants of this rule survived: only batches with an
    accepted event, or with no valid event at all, were tested)."""
    assert api.post(batch(event("log", "old", {"message": "sent before"}))).status_code == 200
    before = api.snapshot()
    ghost = event("command.ack", "ack-1", {"command_id": "ghost", "state": "accepted"})
    err = assert_error(
        api.post(batch(ghost, event("log", "bad", {"level": "info"})), key="k"),
        422,
        "all_events_rejected",
        "events[0].data.command_id",
    )
    assert err["message"] == "none of the 2 events is valid"
    assert [(d["index"], d["id"], d["status"]) for d in err["details"]] == [
        (0, "ack-1", "rejected"),
        (1, "bad", "rejected"),
    ]
    assert err["details"][0]["error"]["code"] == "unknown_command"
    assert api.snapshot() == before
    resp = api.post(batch(event("log", "old", {"message": "sent before"}), ghost), key="k")
    assert resp.status_code == 207
    out = resp.get_json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (0, 1, 1)
    assert [(r["id"], r["status"]) for r in out["results"]] == [("old", "duplicate"), ("ack-1", "rejected")]


def test_nul_character_is_rejected_by_index_on_both_backends(api):
    # PostgreSQL text cannot hold U+0000; both backends refuse it the same way rather than one failing.
    body = batch(
        event("log", "nul", {"message": "ok", "attrs": {"note": "a\x00b"}}),
        event("log", "fine", {"message": "a\\u0000b is only text"}),
    )
    resp = api.post(body)
    assert resp.status_code == 207
    results = resp.get_json()["results"]
    assert (results[0]["status"], results[0]["error"]["field"]) == ("rejected", "events[0].data.attrs.note")
    assert api.one(LogEvent).message == "a\\u0000b is only text"


def test_unknown_command_ack_in_a_batch_is_rejected_by_index(api):
    body = batch(
        event("log", "l", {"message": "x"}),
        event("command.ack", "ack", {"command_id": "ghost", "state": "accepted"}),
    )
    resp = api.post(body)
    assert resp.status_code == 207
    rejected = resp.get_json()["results"][1]
    assert (rejected["status"], rejected["error"]["code"]) == ("rejected", "unknown_command")
    assert rejected["error"]["field"] == "events[1].data.command_id"
    assert [r.event_id for r in api.rows(IngestEventId)] == ["l"]


def test_answers_refused_for_an_unknown_command_or_another_agent_leave_the_rest_of_the_batch_stored(api):
    """Each refused answer is one event's result, with its own message; the events after it in the batch
    are judged and stored as usual (mutants stopping at the first refused answer survived)."""
    _issue_command(api, "cmd-3")
    body = batch(
        event("command.ack", "ghost-ack", {"command_id": "ghost", "state": "accepted"}, session=None),
        event("command.ack", "other-ack", {"command_id": "cmd-3", "state": "accepted"}, agent="agent-2"),
        event("command.ack", "ghost-ack-2", {"command_id": "ghost-2", "state": "accepted"}, session=None),
        event("log", "after", {"message": "still here"}),
    )
    resp = api.post(body)
    assert resp.status_code == 207
    results = resp.get_json()["results"]
    assert [(r["status"], r.get("error") and r["error"]["message"]) for r in results] == [
        ("rejected", "events[0].data.command_id: no command ghost"),
        ("rejected", "events[1].data.command_id: command cmd-3 is not for agent-2"),
        ("rejected", "events[2].data.command_id: no command ghost-2"),
        ("accepted", None),
    ]
    assert [r.event_id for r in api.rows(IngestEventId)] == ["after"]


def _issue_kill(api, command_id: str, session: str, agent: str = "agent-1") -> None:
    now = datetime.now(UTC)
    with api.repo.engine.begin() as conn:
        conn.execute(
            insert(Command).values(
                id=command_id,
                agent_id=agent,
                kind="kill",
                state="delivered",
                issued_by="operator",
                session_id=session,
                created_at=now,
                expires_at=now + timedelta(minutes=5),
                updated_at=now,
            )
        )


def test_an_answer_the_lifecycle_refuses_is_rejected_by_index_naming_the_field_at_fault(api):
    """A late answer to a finished command, and a kill confirmed without (or with another) session: each
    is that event's rejection, with the lifecycle's code and reason, beside the events that were stored."""
    _issue_command(api, "cmd-1")
    _issue_kill(api, "cmd-k", session="sess-1")
    done = api.post(single("command.ack", session=None, command_id="cmd-1", state="completed"))
    assert done.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}

    late = api.post(
        batch(
            event("log", "l1", {"message": "x"}),
            event("command.ack", "late", {"command_id": "cmd-1", "state": "accepted"}),
            event("command.ack", "bare", {"command_id": "cmd-k", "state": "completed"}, session=None),
            event("command.ack", "other", {"command_id": "cmd-k", "state": "completed"}, session="sess-9"),
        )
    )
    assert late.status_code == 207
    out = late.get_json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (1, 0, 3)
    assert [(r["id"], r["status"], r["error"] and r["error"]["code"]) for r in out["results"]] == [
        ("l1", "accepted", None),
        ("late", "rejected", "illegal_transition"),
        ("bare", "rejected", "evidence_required"),
        ("other", "rejected", "wrong_session"),
    ]
    errors = [r["error"] for r in out["results"][1:]]
    assert errors[0] == {
        "code": "illegal_transition",
        "message": "events[1].data.command_id: a completed command cannot accept (completed is final)",
        "field": "events[1].data.command_id",
    }
    # the session is a field of the event's header, not of its data
    assert errors[1] == {
        "code": "evidence_required",
        "message": "events[2].session_id: a kill is confirmed with the session it stopped",
        "field": "events[2].session_id",
    }
    assert errors[2] == {
        "code": "wrong_session",
        "message": "events[3].session_id: the kill was for session 'sess-1', not 'sess-9'",
        "field": "events[3].session_id",
    }
    assert api.one(Command, Command.id == "cmd-k").state == "delivered"
    assert sorted(r.event_id for r in api.rows(IngestEventId)) == ["l1"]


def test_a_refused_answer_corrected_and_resent_under_its_id_is_stored_not_a_duplicate(api):
    _issue_command(api, "cmd-1")  # the agent
    _issue_kill(api, "cmd-k", session="sess-1")
    bare = event("command.ack", "k1", {"command_id": "cmd-k", "state": "completed"}, session=None)
    # stored beside a log, so the request's transaction commits and only the answer is refused
    assert api.post(batch(event("log", "l1", {"message": "x"}), bare)).status_code == 207
    corrected = event("command.ack", "k1", {"command_id": "cmd-k", "state": "completed"}, session="sess-1")
    resent = api.post(batch(corrected))
    assert resent.get_json() == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert api.one(Command, Command.id == "cmd-k").state == "completed"


def test_a_v1_answer_the_lifecycle_refuses_is_the_requests_422_naming_the_field(api):
    _issue_command(api, "cmd-1")
    api.post(single("command.ack", session=None, command_id="cmd-1", state="completed"))
    before = api.snapshot()
    resp = api.post(single("command.ack", session=None, command_id="cmd-1", state="accepted"))
    err = assert_error(resp, 422, "illegal_transition", "command_id")
    assert err == {
        "code": "illegal_transition",
        "message": "command_id: a completed command cannot accept (completed is final)",
        "details": {"field": "command_id"},
    }
    assert api.snapshot() == before


def test_all_invalid_is_422_with_the_per_event_list_and_stores_nothing(seeded):
    api = seeded
    before = api.snapshot()
    body = batch(
        event("log", "x1", {"level": "info"}),
        event("usage", "x2", {"provider": "openai", "usage": {"prompt_tokens": "lots"}}),
        source="seed",
    )
    resp = api.post(body, key="all-bad")
    err = assert_error(resp, 422, "all_events_rejected", "events[0].data.message")
    assert [(d["index"], d["id"], d["status"]) for d in err["details"]] == [
        (0, "x1", "rejected"),
        (1, "x2", "rejected"),
    ]
    assert err["details"][1]["error"]["field"] == "events[1].data.usage.prompt_tokens"
    assert api.snapshot() == before  # not even the event ids or the idempotency receipt


def test_the_rejection_rate_alert_counts_every_event_of_a_partly_refused_batch(api, make_token):
    """Stored, duplicate, invalid and refused by what the database knows: each event counts once toward
    the ingest rejection-rate alert (a mutant subtracting the invalid ones from the refused survived)."""
    admin = make_token("admin-bot", "admin")
    logs = [event("log", f"l{i}", {"message": f"line {i}"}) for i in range(1, 4)]
    assert api.post(batch(*logs)).get_json() == {"accepted": 3, "duplicates": 0, "rejected": 0}
    resp = api.post(
        batch(
            logs[0],  # a duplicate
            event("log", "l4", {"message": "new"}),
            event("log", "l5", {"message": "new too"}),
            event("log", "bad", {"level": "info"}),  # invalid: no message
            event("command.ack", "ghost-ack", {"command_id": "ghost", "state": "accepted"}),  # unknown
        )
    )
    assert (resp.status_code, resp.get_json()["rejected"]) == (207, 2)
    rule = {
        "name": "ingest rejections",
        "metric": "ingest_rejection_rate",
        "group_by": "fleet",
        "comparator": ">",
        "threshold": "0",
        "window_s": 600,
        "params": {"min_samples": 1},
    }
    preview = api.post(rule, path="/api/v1/alert-rules/preview", token=admin).get_json()["preview"]
    # 2 refused of 8 events: 5 stored, 1 duplicate
    assert [Decimal(a["value"]) for a in preview["alerts"]] == [Decimal("0.25")]


# == every error path stores nothing ====================================================================

V1_LOG = {"version": "v1", "type": "log", "agent_id": "a", "ts": "2026-03-02T10:00:00Z", "message": "m"}

SCHEMA_CASES = [
    ("unknown version", {**V1_LOG, "version": "v9"}, "unknown_version", "version"),
    ("missing version", {k: v for k, v in V1_LOG.items() if k != "version"}, "unknown_version", "version"),
    (
        "missing agent_id",
        {k: v for k, v in V1_LOG.items() if k != "agent_id"},
        "schema_violation",
        "agent_id",
    ),
    ("empty agent_id", {**V1_LOG, "agent_id": "  "}, "schema_violation", "agent_id"),
    ("naive timestamp", {**V1_LOG, "ts": "2026-03-02T10:00:00"}, "schema_violation", "ts"),
    ("not a timestamp", {**V1_LOG, "ts": "yesterday"}, "schema_violation", "ts"),
    ("unknown event type", {**V1_LOG, "type": "agent.explode"}, "schema_violation", "type"),
    (
        "log without message",
        {k: v for k, v in V1_LOG.items() if k != "message"},
        "schema_violation",
        "message",
    ),
    ("bad log level", {**V1_LOG, "level": "loud"}, "schema_violation", "level"),
    (
        "session.start without session_id",
        {**V1_LOG, "type": "session.start"},
        "schema_violation",
        "session_id",
    ),
    (
        "session.end with unknown status",
        {**V1_LOG, "type": "session.end", "session_id": "s", "status": "done"},
        "schema_violation",
        "status",
    ),
    (
        "negative token count",
        {
            **V1_LOG,
            "type": "usage",
            "provider": "openai",
            "usage": {"prompt_tokens": -1, "completion_tokens": 2},
        },
        "invalid_usage",
        "usage.prompt_tokens",
    ),
    (
        "non-integer token count",
        {**V1_LOG, "type": "usage", "provider": "openai", "usage": {"prompt_tokens": 1.5}},
        "invalid_usage",
        "usage.prompt_tokens",
    ),
    (
        "negative count inside a response",
        {
            **V1_LOG,
            "type": "usage",
            "provider": "anthropic",
            "response": {"model": "claude-haiku-4-5", "usage": {"input_tokens": 3, "output_tokens": -9}},
        },
        "invalid_usage",
        "response.usage.output_tokens",
    ),
    (
        "usage without provider",
        {**V1_LOG, "type": "usage", "usage": {"prompt_tokens": 1}},
        "schema_violation",
        "provider",
    ),
    ("usage without payload", {**V1_LOG, "type": "usage", "provider": "openai"}, "invalid_usage", "usage"),
    ("v2 without source", {"version": "v2", "events": [{}]}, "schema_violation", "source"),
    (
        "v2 with no events",
        {"version": "v2", "source": {"name": "s"}, "events": []},
        "schema_violation",
        "events",
    ),
    (
        "v2 unknown envelope field",
        {"version": "v2", "source": {"name": "s"}, "events": [{}], "extra": 1},
        "schema_violation",
        "extra",
    ),
    (
        "v2 event with naive timestamp",
        batch({**event("log", "e", {"message": "m"}), "ts": "2026-03-02T10:00:00"}),
        "all_events_rejected",
        "events[0].ts",
    ),
    (
        "v2 event without id",
        batch({k: v for k, v in event("log", "e", {"message": "m"}).items() if k != "id"}),
        "all_events_rejected",
        "events[0].id",
    ),
    (
        "v2 negative count",
        batch(
            event(
                "usage", "u", {"provider": "openai", "usage": {"prompt_tokens": 5, "completion_tokens": -5}}
            )
        ),
        "all_events_rejected",
        "events[0].data.usage.completion_tokens",
    ),
    (
        "unknown pricingVersion",
        batch(event("log", "e", {"message": "m"}), pricingVersion="genai-prices-0.0.1"),
        "unknown_pricing_version",
        "pricingVersion",
    ),
    ("body is not an object", [V1_LOG], "schema_violation", None),
    ("timestamp out of range", {**V1_LOG, "ts": "9999-12-31T23:00:00-12:00"}, "schema_violation", "ts"),
    ("NUL character", {**V1_LOG, "message": "a\x00b"}, "schema_violation", "message"),
    (
        "reported cost of the wrong type",
        {**V1_LOG, "type": "usage", "provider": "openai", "usage": {"prompt_tokens": 1}, "cost": [1]},
        "schema_violation",
        "cost",
    ),
    (
        "response of the wrong type",
        {**V1_LOG, "type": "usage", "provider": "openai", "response": "200 OK"},
        "schema_violation",
        "response",
    ),
    (
        "absurd token count",
        {**V1_LOG, "type": "usage", "provider": "openai", "usage": {"prompt_tokens": 10**15}},
        "invalid_usage",
        "usage",
    ),
    (
        "absurd reported cost",
        {**V1_LOG, "type": "usage", "provider": "openai", "usage": {"prompt_tokens": 1}, "cost": "1e30"},
        "invalid_usage",
        "cost",
    ),
]


@pytest.mark.parametrize(
    ("body", "code", "field"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES]
)
def test_schema_violation_is_422_naming_the_field_and_stores_nothing(seeded, body, code, field):
    api = seeded
    before = api.snapshot()
    assert_error(api.post(body, key="one-key-for-all-errors"), 422, code, field)
    assert api.snapshot() == before


def test_malformed_json_is_400(seeded):
    before = seeded.snapshot()
    resp = seeded.post(data=b'{"version": "v1", "type": "log",', key="k")
    assert_error(resp, 400, "malformed_json")
    assert seeded.snapshot() == before


def test_missing_token_is_401(seeded):
    before = seeded.snapshot()
    assert_error(seeded.post(V1_LOG, token=None), 401, "unauthenticated")
    assert_error(seeded.post(V1_LOG, token=""), 401, "unauthenticated")
    resp = seeded.client.post(
        "/api/v1/ingest", json=V1_LOG, headers={"Authorization": f"Basic {seeded.token}"}
    )
    assert_error(resp, 401, "unauthenticated")
    assert seeded.snapshot() == before


def test_unknown_or_revoked_token_is_401(seeded, make_token):
    doomed = make_token("doomed", "ingest")
    assert seeded.post(single("log", message="while alive", session=None), token=doomed).status_code == 200
    assert seeded.repo.revoke_token("doomed")
    before = seeded.snapshot()
    assert_error(seeded.post(V1_LOG, token=doomed), 401, "invalid_token")
    assert_error(seeded.post(V1_LOG, token="hc_" + "x" * 43), 401, "invalid_token")
    assert seeded.snapshot() == before


def test_token_without_ingest_scope_is_403(seeded, make_token):
    reader = make_token("dashboard", "read")
    before = seeded.snapshot()
    err = assert_error(seeded.post(V1_LOG, token=reader), 403, "insufficient_scope")
    assert err["details"] == {"needed": "ingest", "granted": ["read"]}
    normalize = seeded.post(chat_usage(), path="/api/v1/usage/normalize", token=reader)
    assert_error(normalize, 403, "insufficient_scope")
    assert seeded.snapshot() == before


def test_admin_token_may_ingest(api, make_token):
    admin = make_token("ops", "admin")
    resp = api.post(single("log", message="from an admin token"), token=admin)
    assert resp.status_code == 200
    assert api.one(LogEvent).message == "from an admin token"


def test_body_over_the_limit_is_413(seeded, make_api):
    small = make_api(max_body_bytes=1000)
    before = seeded.snapshot()
    big = single("log", message="x" * 1000)
    err = assert_error(small.post(big, key="k"), 413, "body_too_large")
    assert err["details"] == {"limit": 1000}
    assert seeded.snapshot() == before
    assert small.post(single("log", message="x" * 100)).status_code == 200  # under the limit is fine


def test_batch_over_the_count_is_413(seeded, make_api):
    small = make_api(max_batch_events=3)
    before = seeded.snapshot()
    body = batch(*(event("log", f"l{i}", {"message": "m"}) for i in range(4)))
    err = assert_error(small.post(body), 413, "batch_too_large")
    assert err["details"] == {"limit": 3, "received": 4}
    assert seeded.snapshot() == before
    body["events"] = body["events"][:3]
    assert small.post(body).get_json() == {"accepted": 3, "duplicates": 0, "rejected": 0}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(seeded, content_type):
    before = seeded.snapshot()
    assert_error(seeded.post(V1_LOG, content_type=content_type), 415, "unsupported_media_type")
    assert seeded.snapshot() == before


def test_json_content_type_with_charset_is_accepted(api):
    resp = api.post(single("log", message="m"), content_type="application/json; charset=utf-8")
    assert resp.status_code == 200
    assert api.count(LogEvent) == 1


def test_unknown_api_path_is_a_json_404(seeded):
    before = seeded.snapshot()
    assert_error(seeded.post(V1_LOG, path="/api/v1/ingest/extra"), 404, "not_found")
    assert_error(seeded.post(V1_LOG, path="/api/v1/events"), 404, "not_found")
    assert_error(seeded.client.get("/api/v1/nothing-here"), 404, "not_found")
    assert seeded.snapshot() == before


def test_wrong_method_on_a_real_route_is_a_json_405(seeded):
    before = seeded.snapshot()
    err = assert_error(
        seeded.client.get("/api/v1/ingest", headers=seeded.headers()), 405, "method_not_allowed"
    )
    assert err["details"] == {"allowed": ["POST"]}
    assert seeded.snapshot() == before


# == POST /api/v1/usage/normalize =======================================================================


def test_normalize_answers_usage_and_cost_and_stores_nothing(seeded):
    api = seeded
    before = api.snapshot()
    data = {
        "provider": "openai",
        "response": {
            "model": "gpt-4o",
            "usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 400},
            },
        },
        "cost": "0.01",
    }
    resp = api.post(data, path="/api/v1/usage/normalize")
    assert resp.status_code == 200
    out = resp.get_json()
    usage, cost = out["usage"], out["cost"]
    assert (usage["provider"], usage["model"]) == ("openai", "gpt-4o")
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (1000, 100, 1100)
    assert (usage["cache_read_tokens"], usage["reasoning_tokens"]) == (400, None)
    # 600 * $2.50 + 400 * $1.25 + 100 * $10 per MTok = $0.003
    assert cost["total_usd"] == "0.003"
    assert cost["reported_usd"] == "0.01"
    for key in ("total_usd", "input_usd", "output_usd", "reported_usd"):
        assert isinstance(cost[key], str)  # money is a decimal string, never a JSON float
    assert (cost["provenance"], cost["pricing_version"], cost["matched_model"]) == (
        "computed",
        PINNED_PRICES,
        "gpt-4o",
    )
    assert api.snapshot() == before


_WITH_A_WARNING = {
    "provider": "openai",
    "model": "gpt-4o",
    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 500}},
}


@pytest.mark.parametrize(
    "data",
    [
        *(
            _usage_data(p.stem, json.loads(p.read_text())["payload"], json.loads(p.read_text())["expected"])
            for p in _provider_fixtures()
        ),
        _WITH_A_WARNING,
    ],
    ids=[*(p.stem for p in _provider_fixtures()), "with-a-warning"],
)
def test_normalize_previews_exactly_what_ingest_stores(api, data):
    """The preview is a promise: every field it shows is what the same usage becomes when reported."""
    preview = api.post(data, path="/api/v1/usage/normalize").get_json()
    reported = event("usage", "call-1", data)
    reported["ts"] = datetime.now(UTC).isoformat()  # the preview prices at the time it is asked
    assert api.post(batch(reported)).status_code == 200
    row = api.one(UsageEvent)
    usage, cost = preview["usage"], preview["cost"]
    assert {c: usage[c] for c in TOKEN_COLUMNS} == {c: getattr(row, c) for c in TOKEN_COLUMNS}
    assert usage["normalizer_version"] == row.normalizer_version
    assert usage["warnings"] == (row.warnings or [])
    assert (cost["total_nanos"], cost["pricing_version"], cost["provenance"], cost["confidence"]) == (
        row.cost_nanos,
        row.pricing_version,
        row.cost_provenance,
        row.cost_confidence,
    )
    assert (cost["matched_provider"], cost["matched_model"]) == (row.price_provider, row.price_model)
    assert set(usage) >= {"reported_total_tokens", "web_search_requests", "price_context"}
    assert set(cost) >= {"price_ts", "reason", "input_usd", "output_usd", "reported_usd"}
    if data is _WITH_A_WARNING:
        assert row.warnings and row.warnings == usage["warnings"]


def test_normalize_small_costs_are_plain_decimals(api):
    resp = api.post(chat_usage("gpt-4o-mini", prompt=1, completion=0), path="/api/v1/usage/normalize")
    total = resp.get_json()["cost"]["total_usd"]
    assert total == "0.00000015"  # $0.15 / MTok, one token; not "1.5E-7"


def test_normalize_unknown_model_is_unpriced(api):
    resp = api.post(chat_usage("house-model"), path="/api/v1/usage/normalize")
    cost = resp.get_json()["cost"]
    assert (cost["total_usd"], cost["total_nanos"], cost["provenance"]) == (None, None, "unpriced")
    assert cost["reason"]


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"provider": "openai", "usage": {"prompt_tokens": -10}}, "invalid_usage", "usage.prompt_tokens"),
        ({"provider": "openai", "usage": {"prompt_tokens": "ten"}}, "invalid_usage", "usage.prompt_tokens"),
        ({"usage": {"prompt_tokens": 10}}, "schema_violation", "provider"),
        ({"provider": "openai", "usage": {"prompt_tokens": 1}, "cost": [1]}, "schema_violation", "cost"),
        (["not", "an", "object"], "schema_violation", None),
    ],
    ids=["negative", "not-a-number", "no-provider", "bad-cost", "not-an-object"],
)
def test_normalize_bad_usage_is_422(seeded, data, code, field):
    before = seeded.snapshot()
    err = assert_error(seeded.post(data, path="/api/v1/usage/normalize"), 422, code, field)
    if field is None:  # no field to name: the message says what the body must be
        assert err["message"] == "the body must be a usage event's `data` object"
    assert seeded.snapshot() == before


# == OpenAPI ============================================================================================


def test_openapi_document_validates_and_describes_ingest(client):
    from openapi_spec_validator import validate

    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "V2Envelope" in schemas and "ErrorResponse" in schemas
    # A v1 body is documented per event type, its data fields beside the header.
    assert {"V1_Log", "V1_Usage", "V1_AgentHeartbeat", "V1_CommandAck"} <= set(schemas)
    post = doc["paths"]["/api/v1/ingest"]["post"]
    assert set(post["responses"]) >= {"200", "207", "400", "401", "403", "409", "413", "415", "422"}
    assert post["parameters"][0]["name"] == "Idempotency-Key"
    assert "/api/v1/usage/normalize" in doc["paths"]
    # Generated from the models: the event types the server accepts are the ones documented.
    v2_event = schemas["V2Event"]
    assert set(v2_event["properties"]["type"]["enum"]) == {
        "agent.heartbeat",
        "session.start",
        "session.end",
        "usage",
        "log",
        "command.ack",
    }


# == concurrency ========================================================================================


def _post_together(api, body: dict[str, Any], n: int, key: str | None = None) -> list[tuple[int, bytes]]:
    clients = [api.new_client() for _ in range(n)]
    start = threading.Barrier(n)

    def go(client):
        start.wait()
        resp = api.post(body, client=client, key=key)
        return resp.status_code, resp.get_data()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, clients))


def test_concurrent_copies_of_one_batch_store_each_event_once(api):
    events = [event("usage", f"u{i}", chat_usage(prompt=10, completion=1), ts=i) for i in range(20)]
    events += [event("log", f"l{i}", {"message": f"line {i}"}, ts=i) for i in range(20)]
    answers = _post_together(api, batch(*events), 4)
    assert [status for status, _ in answers] == [200] * 4
    bodies = [json.loads(body) for _, body in answers]
    assert sum(b["accepted"] for b in bodies) == 40
    assert sum(b["duplicates"] for b in bodies) == 3 * 40
    assert sorted(b["accepted"] for b in bodies) == [0, 0, 0, 40]  # one request wins each event
    assert (api.count(UsageEvent), api.count(LogEvent), api.count(IngestEventId)) == (20, 20, 40)
    session = api.one(Session)
    assert (session.usage_events, session.input_tokens) == (20, 200)


def test_concurrent_retries_with_one_key_get_one_answer(api):
    body = single("log", message="retried by a nervous client")
    answers = _post_together(api, body, 4, key="nervous")
    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    assert api.count(LogEvent) == 1
    assert api.count(IngestReceipt) == 1


def test_the_source_and_what_produced_its_events_are_kept(api):
    """``source.provenance`` (an SDK and its version) is stored with the source, not read and dropped."""
    from helicarrier.data.models import IngestSource

    body = {
        "version": "v2",
        "source": {"name": "build-host-7", "provenance": "helicarrier-sdk 0.3.1"},
        "events": [event("log", "p1", {"message": "hello"})],
    }
    assert api.post(body).status_code == 200
    row = api.one(IngestSource, IngestSource.name == "build-host-7")
    assert (row.provenance, row.token_name) == ("helicarrier-sdk 0.3.1", "agent-host-1")
    assert api.repo.ingest_sources()[0]["provenance"] == "helicarrier-sdk 0.3.1"


def test_every_source_a_client_reports_as_is_remembered_within_the_same_minute(api):
    """Sources are noted at most once a minute each, not once a minute in all (a mutant noting every source
    under one key remembered only the first)."""
    for source in ("build-host-1", "build-host-2"):
        assert api.post(batch(event("log", "l", {"message": "hi"}), source=source)).status_code == 200
    assert sorted(s["name"] for s in api.repo.ingest_sources()) == ["build-host-1", "build-host-2"]
