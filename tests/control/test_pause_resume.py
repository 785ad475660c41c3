"""Pause and resume through the real API, on both backends: the same lifecycle, idempotency and audit as a
kill; what a paused agent is refused; a paused agent can still be killed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from helicarrier.data.models import Agent, Command
from tests.control.test_control_api import ack, act, poll


def _state(ctl) -> str | None:
    return ctl.one(Agent, Agent.id == "atlas-01").control_state


def test_pause_then_resume_moves_the_agent_and_each_command_through_its_lifecycle(ctl):
    resp = act(ctl, "/api/v1/agents/atlas-01/pause", {"reason": "cost review"}, key="p1")
    assert resp.status_code == 201
    pause = resp.get_json()["command"]
    assert pause["kind"] == "pause" and pause["state"] == "pending" and pause["reason"] == "cost review"
    assert _state(ctl) == "paused"  # at once: the next poll or hook holds it
    listed = ctl.client.get("/api/v1/agents", headers=ctl.headers(ctl.control_token)).get_json()["agents"]
    assert [a["status"] for a in listed if a["id"] == "atlas-01"] == ["paused"]  # what the card shows

    again = act(ctl, "/api/v1/agents/atlas-01/pause", {"reason": "cost review"}, key="p1")
    assert again.status_code == 200 and again.get_json()["command"]["id"] == pause["id"]  # idempotent
    second = act(ctl, "/api/v1/agents/atlas-01/pause", {"reason": "twice"})
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "already_paused"

    delivered = poll(ctl).get_json()
    assert [c["id"] for c in delivered["commands"]] == [pause["id"]] and delivered["budget_locked"] is False
    assert ack(ctl, pause["id"], "completed", message="paused").get_json()["command"]["state"] == "completed"

    steer = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "carry on"})
    assert steer.status_code == 409 and steer.get_json()["error"]["code"] == "agent_paused"
    queued = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "next run", "mode": "queue"})
    assert queued.status_code == 201

    resumed = act(ctl, "/api/v1/agents/atlas-01/resume", {"reason": "approved"})
    assert resumed.status_code == 201 and resumed.get_json()["command"]["kind"] == "resume"
    assert _state(ctl) is None
    twice = act(ctl, "/api/v1/agents/atlas-01/resume", {})
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "cannot_resume"
    assert act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "carry on"}).status_code == 201

    audit = ctl.repo.audit_entries()
    ok = set(audit[audit["outcome"] == "ok"]["action"])
    assert {"command.pause", "command.resume", "command.complete"} <= ok
    refused = set(audit[audit["outcome"] == "refused"]["action"])
    assert {"command.pause", "command.resume", "command.inject"} <= refused


def test_a_paused_agent_can_still_be_killed(ctl):
    assert act(ctl, "/api/v1/agents/atlas-01/pause", {}).status_code == 201
    kill = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "give up"})
    assert kill.status_code == 201 and _state(ctl) == "killing"
    assert ctl.count(Command) == 2


def test_pause_through_the_generic_route_and_unknown_agents(ctl):
    resp = act(ctl, "/api/v1/agents/atlas-01/commands", {"kind": "pause", "reason": "x"})
    assert resp.status_code == 201 and _state(ctl) == "paused"
    missing = act(ctl, "/api/v1/agents/nobody/pause", {})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_agent"


def _expire_pending(ctl) -> int:
    with ctl.repo.engine.begin() as conn:
        conn.execute(update(Command).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    return ctl.ctx.control.expire_commands()


def test_a_pause_nobody_heard_does_not_leave_the_agent_paused(ctl):
    """An agent offline when paused never polls: its pause expires. It is not paused, and the card, the
    Command page and the next task must not say it is (issue 12's 'left alone' list)."""
    pause = act(ctl, "/api/v1/agents/atlas-01/pause", {"reason": "cost review"}).get_json()["command"]
    assert _state(ctl) == "paused"
    assert _expire_pending(ctl) == 1
    assert ctl.repo.get_command(pause["id"])["state"] == "expired"
    assert _state(ctl) is None
    assert act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "carry on"}).status_code == 201


def test_a_pause_the_agent_refused_or_an_operator_cancelled_lifts_too(ctl):
    first = act(ctl, "/api/v1/agents/atlas-01/pause", {}).get_json()["command"]
    poll(ctl)
    assert ack(ctl, first["id"], "rejected", message="mid-deploy").status_code == 200
    assert _state(ctl) is None
    second = act(ctl, "/api/v1/agents/atlas-01/pause", {}).get_json()["command"]
    assert _state(ctl) == "paused"
    cancel = ctl.post(None, path=f"/api/v1/commands/{second['id']}/cancel", token=ctl.control_token)
    assert cancel.status_code == 200 and _state(ctl) is None


def test_a_pause_that_lapses_after_a_kill_leaves_the_kill_alone(ctl):
    assert act(ctl, "/api/v1/agents/atlas-01/pause", {}).status_code == 201
    assert act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "give up"}).status_code == 201
    pause = ctl.one(Command, Command.kind == "pause")
    cancel = ctl.post(None, path=f"/api/v1/commands/{pause.id}/cancel", token=ctl.control_token)
    assert cancel.status_code == 200 and _state(ctl) == "killing"


def _drop(ctl, how: str, command_id: str) -> None:
    if how == "cancelled":
        resp = ctl.post(None, path=f"/api/v1/commands/{command_id}/cancel", token=ctl.control_token)
        assert resp.status_code == 200
    elif how == "expired":
        assert _expire_pending(ctl) >= 1
    else:
        poll(ctl)
        assert ack(ctl, command_id, how, message="not now").status_code == 200


@pytest.mark.parametrize("how", ["rejected", "failed", "cancelled", "expired"])
def test_a_kill_that_will_not_happen_leaves_a_paused_agent_paused(ctl, how):
    """The kill of a paused agent is rejected, fails, is cancelled or expires: the agent still waits in its
    pause, so the card and the next task must say paused, not active."""
    pause = act(ctl, "/api/v1/agents/atlas-01/pause", {"reason": "cost review"}).get_json()["command"]
    poll(ctl)
    assert ack(ctl, pause["id"], "completed", message="paused").status_code == 200
    kill = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "give up"}).get_json()["command"]
    assert _state(ctl) == "killing"
    _drop(ctl, how, kill["id"])
    assert ctl.repo.get_command(kill["id"])["state"] == how
    assert _state(ctl) == "paused"
    steer = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "carry on"})
    assert steer.status_code == 409 and steer.get_json()["error"]["code"] == "agent_paused"
    assert act(ctl, "/api/v1/agents/atlas-01/resume", {}).status_code == 201 and _state(ctl) is None


def test_a_kill_dropped_after_its_agent_was_resumed_or_its_pause_lapsed_leaves_it_active(ctl):
    """Only a pause that still stood when the kill was issued comes back."""
    pause = act(ctl, "/api/v1/agents/atlas-01/pause", {}).get_json()["command"]
    assert act(ctl, "/api/v1/agents/atlas-01/resume", {}).status_code == 201
    kill = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "give up"}).get_json()["command"]
    cancel = ctl.post(None, path=f"/api/v1/commands/{kill['id']}/cancel", token=ctl.control_token)
    assert cancel.status_code == 200 and _state(ctl) is None

    second = act(ctl, "/api/v1/agents/atlas-01/pause", {}).get_json()["command"]
    assert second["id"] != pause["id"]
    again = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "give up"}).get_json()["command"]
    # The pause lapses while the kill is on its way (left alone, above); then the kill is dropped too.
    ctl.post(None, path=f"/api/v1/commands/{second['id']}/cancel", token=ctl.control_token)
    assert _state(ctl) == "killing"
    ctl.post(None, path=f"/api/v1/commands/{again['id']}/cancel", token=ctl.control_token)
    assert _state(ctl) is None
