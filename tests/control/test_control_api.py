"""Command & Control API: every transition and every error, on both backends; status and effect."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from helicarrier.actors import Actor
from helicarrier.data.models import Agent, AuditEntry, Command, Session

OPENAI = {
    "provider": "openai",
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    "model": "gpt-4.1",
}


def act(api, path, body, key=None, token=None):
    return api.post(body, path=path, token=token or api.control_token, key=key)


def poll(api, agent="atlas-01", wait=None):
    q = f"?wait={wait}" if wait is not None else ""
    return api.client.get(f"/api/v1/agents/{agent}/commands{q}", headers=api.headers())


def ack(api, cid, state, agent="atlas-01", message=None, session="s1"):
    """The agent's answer, with its evidence: the session it acted on (the fixture's agent runs s1)."""
    body = {"agent_id": agent, "state": state, "message": message, "session_id": session}
    return api.post(body, path=f"/api/v1/commands/{cid}/ack")


def test_kill_full_lifecycle_and_verification(ctl):
    resp = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "runaway loop", "strength": "force"}, key="k1")
    assert resp.status_code == 201
    cmd = resp.get_json()["command"]
    assert cmd["state"] == "pending" and cmd["strength"] == "force" and cmd["session_id"] == "s1"
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state == "killing"  # reflected at once

    delivered = poll(ctl).get_json()["commands"]
    assert [c["id"] for c in delivered] == [cmd["id"]] and delivered[0]["state"] == "delivered"
    assert poll(ctl).get_json()["commands"] == []  # delivered once

    assert ack(ctl, cmd["id"], "accepted").get_json()["command"]["state"] == "accepted"
    done = ack(ctl, cmd["id"], "completed", message="stopped").get_json()["command"]
    assert done["state"] == "completed" and done["verification"] == "awaiting"
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state == "killed"
    session = ctl.one(Session, Session.id == "s1")
    assert session.status == "killed" and session.ended_at is not None and "runaway loop" in session.error

    # Not verified before the settle time has passed without usage from the killed session...
    assert ctl.ctx.control.verify_kills(30) == []
    with ctl.repo.engine.begin() as conn:  # ...29 s on: still not...
        conn.execute(update(Command).values(answered_at=datetime.now(UTC) - timedelta(seconds=29)))
    assert ctl.ctx.control.verify_kills(30) == []
    assert ctl.one(Command, Command.id == cmd["id"]).verification == "awaiting"
    with ctl.repo.engine.begin() as conn:  # ...31 s on: verified.
        conn.execute(update(Command).values(answered_at=datetime.now(UTC) - timedelta(seconds=31)))
    assert ctl.ctx.control.verify_kills(30) == [cmd["id"]]
    got = ctl.client.get(f"/api/v1/commands/{cmd['id']}", headers=ctl.headers(ctl.control_token)).get_json()
    assert got["command"]["verification"] == "verified"
    actions = set(ctl.repo.audit_entries()["action"])
    assert {"command.kill", "command.accept", "command.complete", "command.kill.verified"} <= actions


def test_usage_after_a_confirmed_kill_marks_it_ineffective(ctl):
    cmd = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "stop"}).get_json()["command"]
    poll(ctl)
    ack(ctl, cmd["id"], "completed")
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    ctl.post(
        {"version": "v1", "type": "usage", "ts": later, "agent_id": "atlas-01", "session_id": "s1", **OPENAI}
    )
    assert ctl.repo.get_command(cmd["id"])["verification"] == "ineffective"
    assert ctl.ctx.control.verify_kills(0) == []
    assert "command.kill.ineffective" in set(ctl.repo.audit_entries()["action"])


def test_double_submitted_kill_issues_one_command(ctl):
    first = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "x"}, key="dbl")
    second = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "x"}, key="dbl")
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["command"]["id"] == second.get_json()["command"]["id"]
    assert ctl.count(Command) == 1
    other = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "y"}, key="dbl")
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_conflict"


def test_concurrent_double_click_issues_one_command(ctl):
    results = []

    def click():
        results.append(act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "same"}, key="race").status_code)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ctl.count(Command) == 1
    assert results.count(201) == 1


def test_inject_completes_with_the_agents_answer(ctl):
    cmd = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "summarize <ticket> 42", "mode": "follow_up"})
    cid = cmd.get_json()["command"]["id"]
    assert cmd.get_json()["command"]["payload"] == {"task": "summarize <ticket> 42", "mode": "follow_up"}
    poll(ctl)
    # The answer may also come as a command.ack ingest event: same lifecycle.
    now = datetime.now(UTC).isoformat()
    resp = ctl.post(
        {
            "version": "v1",
            "type": "command.ack",
            "ts": now,
            "agent_id": "atlas-01",
            "command_id": cid,
            "state": "completed",
            "message": "done: 3 bullet points",
        }
    )
    assert resp.status_code == 200
    got = ctl.repo.get_command(cid)
    assert got["state"] == "completed" and got["result_message"] == "done: 3 bullet points"


def test_rejected_and_failed(ctl):
    a = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "a"}).get_json()["command"]["id"]
    b = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "b"}).get_json()["command"]["id"]
    poll(ctl)
    assert ack(ctl, a, "rejected", message="not my job").get_json()["command"]["state"] == "rejected"
    ack(ctl, b, "accepted")
    assert ack(ctl, b, "failed", message="boom").get_json()["command"]["result_message"] == "boom"


def test_illegal_transitions_are_refused_and_change_nothing(ctl):
    cid = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "a"}).get_json()["command"]["id"]
    resp = ack(ctl, cid, "completed")  # not delivered yet
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "illegal_transition"
    assert ctl.repo.get_command(cid)["state"] == "pending"
    poll(ctl)
    ack(ctl, cid, "completed")
    again = ack(ctl, cid, "failed")
    assert again.status_code == 409 and "final" in again.get_json()["error"]["message"]
    cancel = ctl.post(None, path=f"/api/v1/commands/{cid}/cancel", token=ctl.control_token)
    assert cancel.status_code == 409


def test_cancel_while_pending_and_kill_state_is_released(ctl):
    cid = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "oops"}).get_json()["command"]["id"]
    resp = ctl.post(None, path=f"/api/v1/commands/{cid}/cancel", token=ctl.control_token)
    assert resp.status_code == 200 and resp.get_json()["command"]["state"] == "cancelled"
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state is None
    assert poll(ctl).get_json()["commands"] == []


def test_commands_expire_when_not_fetched_within_ttl(ctl):
    cid = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "x"}).get_json()["command"]["id"]
    with ctl.repo.engine.begin() as conn:
        conn.execute(update(Command).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert ctl.ctx.control.expire_commands() == 1
    assert ctl.repo.get_command(cid)["state"] == "expired"
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state is None


def test_model_override_is_validated_against_the_price_table(ctl):
    bad = act(ctl, "/api/v1/agents/atlas-01/model", {"model": "gpt-imaginary-9"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "unknown_model"
    ok = act(ctl, "/api/v1/agents/atlas-01/model", {"model": "gpt-4.1-mini", "reason": "spend runs hot"})
    cid = ok.get_json()["command"]["id"]
    assert ok.get_json()["command"]["payload"] == {"model": "gpt-4.1-mini", "provider": "openai"}
    poll(ctl)
    ack(ctl, cid, "completed", message="switched")
    assert ctl.one(Agent, Agent.id == "atlas-01").model == "gpt-4.1-mini"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/v1/agents/nobody/kill", {"reason": "x"}, 404, "unknown_agent"),
        ("/api/v1/agents/atlas-01/kill", {}, 422, "schema_violation"),
        ("/api/v1/agents/atlas-01/kill", {"reason": "x", "strength": "nuke"}, 422, "schema_violation"),
        ("/api/v1/agents/atlas-01/tasks", {"task": ""}, 422, "schema_violation"),
        ("/api/v1/agents/atlas-01/tasks", {"task": "x" * 16385}, 413, "too_large"),
        ("/api/v1/agents/atlas-01/commands", {"kind": "reboot"}, 422, "unknown_kind"),
    ],
)
def test_refused_requests_store_nothing(ctl, path, body, status, code):
    before = ctl.count(Command)
    resp = act(ctl, path, body)
    assert resp.status_code == status and resp.get_json()["error"]["code"] == code
    assert ctl.count(Command) == before
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state is None


def test_killing_a_killed_or_offline_agent_is_a_conflict(ctl):
    cid = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "x"}).get_json()["command"]["id"]
    again = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "again"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_killed"
    ctl.ctx.control.cancel(Actor("t", "token"), cid)
    with ctl.repo.engine.begin() as conn:
        conn.execute(update(Agent).values(last_heartbeat_at=datetime.now(UTC) - timedelta(hours=1)))
    offline = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "x"})
    assert offline.status_code == 409 and offline.get_json()["error"]["code"] == "agent_offline"


def test_scopes_and_refusals_are_audited(ctl, make_token):
    reader = make_token("reader", "read")
    resp = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "x"}, token=reader)
    assert resp.status_code == 403
    assert ctl.count(Command) == 0
    refused = ctl.rows(AuditEntry, AuditEntry.outcome == "refused")
    assert refused and refused[-1].actor == "token:reader"
    # The agent's poll needs ingest, not control; an operator's token cannot impersonate an agent's poll.
    assert (
        ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers(ctl.control_token)).status_code
        == 403
    )
    assert ctl.client.get("/api/v1/commands/nope", headers=ctl.headers(ctl.control_token)).status_code == 404


def test_ack_from_another_agent_is_refused(ctl):
    cid = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "a"}).get_json()["command"]["id"]
    poll(ctl)
    resp = ack(ctl, cid, "completed", agent="mallory")
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "wrong_agent"
    assert ctl.repo.get_command(cid)["state"] == "delivered"


def test_long_poll_returns_as_soon_as_a_command_arrives(ctl):
    def later():
        time.sleep(0.6)
        act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "wake up"})

    t = threading.Thread(target=later)
    t.start()
    started = time.monotonic()
    got = poll(ctl, wait=10).get_json()["commands"]
    t.join()
    assert [c["payload"]["task"] for c in got] == ["wake up"]
    assert time.monotonic() - started < 8


def _hand_over_due(api, seconds: int = 31) -> None:
    """The delivered commands were handed over ``seconds`` ago (past the 30 s redelivery time)."""
    with api.repo.engine.begin() as conn:
        conn.execute(
            update(Command)
            .where(Command.state == "delivered")
            .values(delivered_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


def test_a_delivered_command_nobody_answered_is_handed_over_again(ctl):
    """At least once: the answer to a poll may never reach the agent (a dropped connection, a crash while
    taking it). A delivered command with no answer after the redelivery time comes again, the same id."""
    cmd = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "summarize"}).get_json()["command"]
    first = poll(ctl).get_json()["commands"]
    assert [c["id"] for c in first] == [cmd["id"]]
    assert poll(ctl).get_json()["commands"] == []  # not before the redelivery time
    _hand_over_due(ctl, 29)
    assert poll(ctl).get_json()["commands"] == []
    _hand_over_due(ctl)
    again = poll(ctl).get_json()["commands"]
    assert [(c["id"], c["state"]) for c in again] == [(cmd["id"], "delivered")]
    assert again[0]["payload"] == first[0]["payload"] == {"task": "summarize", "mode": "steer"}
    assert poll(ctl).get_json()["commands"] == []  # its time starts again
    assert ack(ctl, cmd["id"], "accepted").status_code == 200
    _hand_over_due(ctl)
    assert poll(ctl).get_json()["commands"] == []  # answered: never again
    assert ack(ctl, cmd["id"], "completed", message="done").get_json()["command"]["state"] == "completed"


def test_a_kill_whose_delivery_was_lost_reaches_the_agent_again(ctl):
    kill = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "runaway"}).get_json()["command"]
    assert [c["id"] for c in poll(ctl).get_json()["commands"]] == [kill["id"]]
    _hand_over_due(ctl)
    assert [c["kind"] for c in poll(ctl, wait=1).get_json()["commands"]] == ["kill"]
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state == "killing"


def test_with_redelivery_off_a_command_is_handed_over_once(ctl):
    from dataclasses import replace

    ctl.ctx.control.limits = replace(ctl.ctx.control.limits, redeliver_s=0)
    cmd = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "summarize"}).get_json()["command"]
    assert [c["id"] for c in poll(ctl).get_json()["commands"]] == [cmd["id"]]
    _hand_over_due(ctl, 3600)
    assert poll(ctl).get_json()["commands"] == []
