"""GET /metrics: a read token (or the open setting), and counters that move by what agents and operators did,
with bounded labels. Real HTTP through the app's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST

from tests.observability.scraping import moved, parse, value

INGEST = "/api/v1/ingest"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _scrape(api, token: str) -> dict:
    resp = api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.content_type == CONTENT_TYPE_LATEST  # Prometheus's text format, as the library writes it
    return parse(resp.get_data(as_text=True))


def _batch(*events: dict) -> dict:
    return {"version": "v2", "source": {"name": "metrics-test"}, "events": list(events)}


def _event(id_: str, type_: str, agent: str = "atlas-01", **extra) -> dict:
    return {"id": id_, "type": type_, "ts": _now(), "agent_id": agent, **extra}


def test_a_scrape_needs_a_token_with_the_read_scope(api, make_token):
    anonymous = api.client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "unauthenticated"
    ingest_only = api.client.get("/metrics", headers=api.headers())
    assert ingest_only.status_code == 403
    assert ingest_only.get_json()["error"]["code"] == "insufficient_scope"
    reader = make_token("prometheus", "read")
    assert api.client.get("/metrics", headers=api.headers(reader)).status_code == 200


def test_the_open_setting_lets_a_scraper_in_without_a_token(make_api):
    api = make_api(metrics_open=True)
    resp = api.client.get("/metrics")
    assert resp.status_code == 200
    assert "helicarrier_ingest_requests_total" in resp.get_data(as_text=True)


def test_ingest_counters_move_by_what_was_posted(api, make_token):
    reader = make_token("prometheus", "read")
    before = _scrape(api, reader)

    heartbeat = _event("hb-1", "agent.heartbeat", data={"status": "running"})
    log = _event("log-1", "log", session_id="s1", data={"message": "hello"})
    bad_usage = _event("u-bad", "usage", session_id="s1", data={"provider": "openai", "usage": "lots"})
    assert api.post(_batch(heartbeat, log, bad_usage)).status_code == 207
    assert api.post(_batch(heartbeat)).status_code == 200  # the same event again: a duplicate
    v1 = {"version": "v1", "id": "hb-v1", "type": "agent.heartbeat", "ts": _now(), "agent_id": "atlas-02"}
    assert api.post({**v1, "status": "idle"}).status_code == 200
    assert api.post({**v1, "id": "hb-v1-bad", "status": 7}).status_code == 422  # one v1 event, refused
    assert api.post({"version": "v3"}).status_code == 422
    assert api.post(_batch(heartbeat), token=None).status_code == 401

    after = _scrape(api, reader)
    requests = "helicarrier_ingest_requests_total"
    assert moved(before, after, requests, route=INGEST, status="207", version="v2") == 1
    assert moved(before, after, requests, route=INGEST, status="200", version="v2") == 1
    assert moved(before, after, requests, route=INGEST, status="200", version="v1") == 1
    assert moved(before, after, requests, route=INGEST, status="422", version="unknown") == 1
    assert moved(before, after, requests, route=INGEST, status="422", version="v1") == 1
    assert moved(before, after, requests, route=INGEST, status="401", version="none") == 1
    latency = "helicarrier_ingest_request_duration_seconds_count"
    assert moved(before, after, latency, route=INGEST) == 6

    events = "helicarrier_ingest_events_total"
    assert moved(before, after, events, type="agent.heartbeat", outcome="accepted", reason="") == 2
    assert moved(before, after, events, type="log", outcome="accepted", reason="") == 1
    assert moved(before, after, events, type="agent.heartbeat", outcome="duplicate", reason="") == 1
    assert moved(before, after, events, type="usage", outcome="rejected", reason="schema_violation") == 1
    rejected_v1 = {"type": "agent.heartbeat", "outcome": "rejected", "reason": "schema_violation"}
    assert moved(before, after, events, **rejected_v1) == 1

    # The repository's writes were timed, by method (the duplicate-only batch stored nothing).
    store = "helicarrier_db_query_duration_seconds_count"
    assert moved(before, after, store, method="tx.store_batch") == 2
    assert moved(before, after, store, method="tx.claim_event_ids") == 3


def test_answers_to_an_unknown_command_are_counted_rejected_with_the_reason_given(api, make_token):
    """Refused inside the transaction (what the database knows), unlike a schema violation: in a batch that
    is otherwise stored (207), and in one whose every event is refused (422, nothing stored)."""
    reader = make_token("prometheus", "read")
    before = _scrape(api, reader)
    ghost = {"command_id": "ghost", "state": "accepted"}
    log = _event("log-2", "log", session_id="s1", data={"message": "hello"})
    answered = api.post(_batch(_event("ack-1", "command.ack", data=ghost), log))
    assert answered.status_code == 207
    assert answered.get_json()["results"][0]["error"]["code"] == "unknown_command"
    assert api.post(_batch(_event("ack-2", "command.ack", data=ghost))).status_code == 422

    after = _scrape(api, reader)
    events = "helicarrier_ingest_events_total"
    assert moved(before, after, events, type="command.ack", outcome="rejected", reason="unknown_command") == 2
    assert moved(before, after, events, type="log", outcome="accepted", reason="") == 1


def test_an_operators_command_and_the_fleet_are_gauges_read_at_scrape(ctl):
    reader = ctl.control_token  # control,read
    before = _scrape(ctl, reader)
    assert value(before, "helicarrier_agents", status="running") == 1
    assert value(before, "helicarrier_commands", kind="kill", state="pending") == 0

    resp = ctl.client.post(
        "/api/v1/agents/atlas-01/kill", json={"reason": "runaway"}, headers=ctl.headers(reader)
    )
    assert resp.status_code == 201, resp.get_json()
    after = _scrape(ctl, reader)
    assert value(after, "helicarrier_commands", kind="kill", state="pending") == 1
    # A kill imposes "killing" on the agent until its answer arrives.
    assert value(after, "helicarrier_agents", status="killing") == 1
    assert value(after, "helicarrier_agents", status="running") == 0


def test_label_values_never_carry_what_an_agent_sent(api, make_token):
    reader = make_token("prometheus", "read")
    weird = 'agent"} evil{x="1'
    events = [
        _event("w-1", "agent.heartbeat", agent=weird, data={"status": "running"}),
        _event("w-2", "made-up-type-xyz", agent=weird, data={}),
        _event("w-4", ["a", "list", "as-type-qq"], agent=weird, data={}),  # any JSON value: still no 500
        _event("w-3", "log", agent=weird, session_id="sess-zzz-417", data={"message": "free text 9q9q"}),
    ]
    assert api.post(_batch(*events)).status_code == 207
    assert api.post({"version": "v-hostile-77"}).status_code == 422
    text = api.client.get("/metrics", headers=api.headers(reader)).get_data(as_text=True)
    for sent in (
        "evil",
        "made-up-type-xyz",
        "as-type-qq",
        "sess-zzz-417",
        "9q9q",
        "v-hostile-77",
        "metrics-test",
    ):
        assert sent not in text, sent
    samples = parse(text)
    assert value(samples, "helicarrier_ingest_events_total", type="unknown", outcome="rejected",
                 reason="schema_violation") >= 1  # fmt: skip
