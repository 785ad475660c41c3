"""Nobody acts for an agent they don't own: a token that does not speak for an agent cannot report for it,
fetch its commands (and so read its tasks or swallow its kill) or answer them; every such attempt is
refused with 403 agent_not_bound, stores nothing and is audited. On both backends, through the real API."""

from __future__ import annotations

from datetime import UTC, datetime

from helicarrier.data.models import Agent, AuditEntry, Command, LogEvent
from tests.control.test_control_api import act

NOW = datetime.now(UTC).isoformat()


def log(agent: str, message: str, event_id: str | None = None, session: str | None = None) -> dict:
    ev = {"type": "log", "ts": NOW, "agent_id": agent, "data": {"message": message}}
    if event_id:
        ev["id"] = event_id
    if session:
        ev["session_id"] = session
    return ev


def batch(*events) -> dict:
    return {"version": "v2", "source": {"name": "host"}, "events": list(events)}


def owner(api, agent_id: str) -> int | None:
    return api.one(Agent, Agent.id == agent_id).owner_token_id


def refusals(api) -> list[tuple]:
    rows = api.rows(AuditEntry, AuditEntry.outcome == "refused")
    return [(r.actor, r.action, r.target_id, r.reason) for r in rows]


def test_the_first_token_that_reports_claims_the_agent_and_another_is_refused(ctl, make_token):
    # ctl: atlas-01 reported (and so claimed) by the default ingest token.
    mine = ctl.repo.token_named("agent-host-1").id
    assert owner(ctl, "atlas-01") == mine
    intruder = make_token("intruder", "ingest")
    before = ctl.snapshot()
    v1 = {"version": "v1", "type": "log", "agent_id": "atlas-01", "ts": NOW, "message": "spoofed"}
    resp = ctl.post(v1, token=intruder)
    assert resp.status_code == 403 and resp.get_json()["error"] == {
        "code": "agent_not_bound",
        "message": "agent_id: token 'intruder' does not speak for agent 'atlas-01'",
        "details": {"field": "agent_id"},
    }
    snapshot = ctl.snapshot()
    snapshot.pop("audit_log"), before.pop("audit_log")
    assert snapshot == before  # nothing stored
    assert refusals(ctl) == [("token:intruder", "ingest", "atlas-01", "agent_not_bound")]
    # where the attempt came from (a mutant auditing it without the address survived)
    assert [r.remote_addr for r in ctl.rows(AuditEntry, AuditEntry.outcome == "refused")] == ["127.0.0.1"]


def test_one_unbound_event_is_refused_and_the_rest_of_the_batch_is_stored(ctl, make_token):
    intruder = make_token("intruder", "ingest")
    resp = ctl.post(batch(log("atlas-01", "spoofed", "e1"), log("rogue-7", "mine", "e2")), token=intruder)
    assert resp.status_code == 207
    first, second = resp.get_json()["results"]
    assert first["status"] == "rejected" and first["error"]["code"] == "agent_not_bound"
    assert first["error"]["field"] == "events[0].agent_id"
    message = "events[0].agent_id: token 'intruder' does not speak for agent 'atlas-01'"
    assert first["error"]["message"] == message
    assert second["status"] == "accepted"
    assert [m.message for m in ctl.rows(LogEvent)] == ["mine"]
    assert owner(ctl, "rogue-7") == ctl.repo.token_named("intruder").id  # it claimed a new agent
    # The refused event's id is not burnt: its owner can still send an event with that id.
    assert ctl.post(batch(log("atlas-01", "real", "e1"))).status_code == 200


def test_another_token_cannot_poll_read_or_swallow_the_agents_kill(ctl, make_token):
    intruder = make_token("intruder", "ingest")
    kill = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "runaway"}).get_json()["command"]
    poll = ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers(intruder))
    assert poll.status_code == 403 and poll.get_json()["error"]["code"] == "agent_not_bound"
    assert ctl.one(Command, Command.id == kill["id"]).state == "pending"  # still there for the real agent
    body = {"agent_id": "atlas-01", "state": "completed", "session_id": "s1"}
    fake = ctl.post(body, path=f"/api/v1/commands/{kill['id']}/ack", token=intruder)
    assert fake.status_code == 403 and ctl.one(Command, Command.id == kill["id"]).state == "pending"
    ev = {
        "type": "command.ack",
        "ts": NOW,
        "agent_id": "atlas-01",
        "data": {"command_id": kill["id"], "state": "completed"},
    }
    assert ctl.post(batch({**ev, "id": "a1"}), token=intruder).status_code == 422  # its only event refused
    real = ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers())
    assert [c["id"] for c in real.get_json()["commands"]] == [kill["id"]]
    actions = [a for _actor, a, _t, _r in refusals(ctl)]
    assert actions == ["command.poll", "command.ack", "ingest"]


def test_a_kill_is_confirmed_only_with_the_session_it_was_for(ctl):
    kill = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "runaway"}).get_json()["command"]
    ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers())
    path = f"/api/v1/commands/{kill['id']}/ack"
    bare = ctl.post({"agent_id": "atlas-01", "state": "completed"}, path=path)
    assert bare.status_code == 422 and bare.get_json()["error"]["code"] == "evidence_required"
    other = ctl.post({"agent_id": "atlas-01", "state": "completed", "session_id": "s9"}, path=path)
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "wrong_session"
    assert ctl.one(Command, Command.id == kill["id"]).verification is None
    done = ctl.post({"agent_id": "atlas-01", "state": "completed", "session_id": "s1"}, path=path)
    assert done.status_code == 200 and done.get_json()["command"]["verification"] == "awaiting"


def test_a_token_limited_to_globs_claims_only_matching_agents(api, app):
    limited, _ = app.server.config["HELICARRIER"].repo.create_token(
        "builders", "ingest", agents="build-*, ci-7"
    )
    ok = api.post(batch(log("build-12", "a", "x1"), log("ci-7", "b", "x2")), token=limited)
    assert ok.status_code == 200
    no = api.post(batch(log("deploy-1", "c", "x3")), token=limited)
    assert (
        no.status_code == 422 and no.get_json()["error"]["details"][0]["error"]["code"] == "agent_not_bound"
    )
    assert api.count(Agent) == 2


def test_an_admin_gives_an_agent_to_another_token(ctl, make_token):
    admin = make_token("root", "admin")
    newcomer = make_token("host-2", "ingest")
    path = "/api/v1/agents/atlas-01/owner"
    resp = ctl.client.put(path, json={"token": "host-2"}, headers=ctl.headers(admin))
    assert resp.status_code == 200 and resp.get_json() == {"agent_id": "atlas-01", "owner": "host-2"}
    assert ctl.post(batch(log("atlas-01", "hello", "h1")), token=newcomer).status_code == 200
    assert ctl.post(batch(log("atlas-01", "old owner", "h2"))).status_code == 422
    listed = ctl.client.get("/api/v1/agents", headers=ctl.headers(admin)).get_json()["agents"]
    assert [(a["id"], a["owner"]) for a in listed] == [("atlas-01", "host-2")]
    operator = ctl.client.put(path, json={"token": None}, headers=ctl.headers(ctl.control_token))
    assert operator.status_code == 403
    unknown = ctl.client.put(path, json={"token": "nobody"}, headers=ctl.headers(admin))
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unknown_token"
    entry = ctl.rows(AuditEntry, AuditEntry.action == "agent.owner")[0]
    assert (entry.actor, entry.details) == ("token:root", {"from": "agent-host-1", "to": "host-2"})
