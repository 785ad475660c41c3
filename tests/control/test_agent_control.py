"""An agent's control state through the real API, on both backends: a killed agent is released by an
operator or by its own next session, can be killed again, and takes no task for its current run meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime

from helicarrier.data.models import Agent
from tests.control.test_control_api import ack, act, poll


def _killed(ctl) -> str:
    cmd = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "runaway"}).get_json()["command"]
    poll(ctl)
    assert ack(ctl, cmd["id"], "completed").status_code == 200
    assert ctl.one(Agent, Agent.id == "atlas-01").control_state == "killed"
    return cmd["id"]


def _control_state(ctl) -> str | None:
    return ctl.one(Agent, Agent.id == "atlas-01").control_state


def test_a_killed_agent_takes_no_task_for_its_run_until_released(ctl):
    _killed(ctl)
    steer = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "carry on"})
    assert steer.status_code == 409 and steer.get_json()["error"]["code"] == "agent_killed"
    queued = act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "next run: tidy up", "mode": "queue"})
    assert queued.status_code == 201
    again = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "again"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_killed"

    released = act(ctl, "/api/v1/agents/atlas-01/release", {"reason": "fixed the prompt"})
    assert released.status_code == 200 and released.get_json() == {
        "agent_id": "atlas-01",
        "control_state": "active",
    }
    assert _control_state(ctl) is None
    assert act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "carry on"}).status_code == 201
    assert "agent.release" in set(ctl.repo.audit_entries()["action"])


def test_releasing_an_agent_that_is_not_killed_is_a_conflict(ctl):
    resp = act(ctl, "/api/v1/agents/atlas-01/release", {})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_killed"
    missing = act(ctl, "/api/v1/agents/nobody/release", {})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_agent"
    refused = ctl.repo.audit_entries(action="agent.release", outcome="refused")
    assert len(refused) == 2


def test_the_agents_next_session_start_ends_the_kill_and_it_can_be_killed_again(ctl):
    _killed(ctl)
    now = datetime.now(UTC).isoformat()
    start = {"version": "v1", "type": "session.start", "agent_id": "atlas-01", "session_id": "s2", "ts": now}
    assert ctl.post({**start, "model": "gpt-4.1", "provider": "openai"}).status_code == 200
    assert _control_state(ctl) is None
    assert "agent.restart" in set(ctl.repo.audit_entries()["action"])
    second = act(ctl, "/api/v1/agents/atlas-01/kill", {"reason": "looping again"})
    assert second.status_code == 201 and second.get_json()["command"]["session_id"] == "s2"
    assert _control_state(ctl) == "killing"


def test_usage_of_a_new_session_after_a_restart_does_not_mark_the_kill_ineffective(ctl):
    cid = _killed(ctl)
    now = datetime.now(UTC).isoformat()
    usage = {"provider": "openai", "model": "gpt-4.1", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    batch = {
        "version": "v2",
        "source": {"name": "t"},
        "events": [
            {
                "id": "s2",
                "type": "session.start",
                "ts": now,
                "agent_id": "atlas-01",
                "session_id": "s2",
                "data": {},
            },
            {
                "id": "u2",
                "type": "usage",
                "ts": now,
                "agent_id": "atlas-01",
                "session_id": "s2",
                "data": usage,
            },
        ],
    }
    assert ctl.post(batch).status_code == 200
    assert ctl.repo.get_command(cid)["verification"] == "awaiting"
    # The killed session spending again is another matter.
    late = {**batch["events"][1], "id": "u1", "session_id": "s1"}
    assert ctl.post({**batch, "events": [late]}).status_code == 200
    assert ctl.repo.get_command(cid)["verification"] == "ineffective"
