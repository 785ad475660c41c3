"""Claude Code's http hooks through the real app, on both backends: recorded hook inputs
(fixtures/claude_code_hooks, shapes of the hooks reference of 2026-03-17) keep the agent's card and the Pulse
live, a kill and a task reach Claude Code as the documented decisions with their command lifecycle, the
token must speak for the agent, and whatever fails inside Helicarrier, the hook hears "allow" in time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from helicarrier.api import failopen
from helicarrier.data.models import Agent, Command, LogEvent, Session
from tests.waiting import wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "claude_code_hooks"
AGENT = "dev-laptop"
PATH = f"/api/v1/hooks/claude-code?agent={AGENT}"


def hook(name: str, **changes) -> dict:
    return {**orjson.loads((FIXTURES / f"{name}.json").read_bytes()), **changes}


def send(api, body: dict, *, token="default", path=PATH):
    return api.post(body, path=path, token=token)


def decision(api, body: dict) -> dict:
    resp = send(api, body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "X-Helicarrier-Fail-Open" not in resp.headers
    return resp.get_json()


@pytest.fixture
def live(api, make_token):
    """A Claude Code session under way (started, a prompt submitted) and an operator's token."""
    api.control_token = make_token("operator", "control,read")
    assert decision(api, hook("session_start")) == {}
    assert decision(api, hook("user_prompt_submit")) == {}
    api.session = hook("session_start")["session_id"]
    return api


def issue(api, kind: str, body: dict) -> dict:
    resp = api.post(body, path=f"/api/v1/agents/{AGENT}/{kind}", token=api.control_token)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["command"]


def command(api, cid: str):
    return api.one(Command, Command.id == cid)


def test_a_session_through_its_hooks_keeps_the_card_and_pulse_live_and_stores_a_redelivery_once(api):
    session_id = hook("session_start")["session_id"]
    assert decision(api, hook("session_start")) == {}
    session = api.one(Session, Session.id == session_id)
    assert session.status == "running" and session.model == "claude-sonnet-4-6" and session.agent_id == AGENT

    assert decision(api, hook("user_prompt_submit")) == {}
    agent = api.one(Agent, Agent.id == AGENT)
    assert agent.status == "running" and agent.current_task == "Upgrade the payment service to Python 3.12"

    assert decision(api, hook("pre_tool_use")) == {}
    assert decision(api, hook("post_tool_use")) == {}
    assert decision(api, hook("notification")) == {}
    agent = api.one(Agent, Agent.id == AGENT)
    assert agent.status == "idle" and agent.current_task.startswith("waiting for the user: Claude needs")
    assert decision(api, hook("stop")) == {}
    assert decision(api, hook("session_end")) == {}
    assert api.one(Session, Session.id == session_id).status == "succeeded"

    lines = [r.message for r in api.rows(LogEvent, LogEvent.agent_id == AGENT)]
    assert lines[0] == "session started (startup)" and "→ Bash: pytest -q" in lines
    assert "✓ Bash: pytest -q" in lines and lines[-1] == "session ended (prompt_input_exit)"
    before = api.snapshot()["log_events"]

    # A tool call's hooks delivered twice: nothing is stored twice.
    for name in ("pre_tool_use", "post_tool_use"):
        assert decision(api, hook(name)) == {}
    assert api.snapshot()["log_events"] == before

    # The next turn's Stop is byte for byte the first's, and is a new event all the same.
    assert decision(api, hook("user_prompt_submit")) == {}
    assert api.one(Agent, Agent.id == AGENT).status == "running"
    assert decision(api, hook("stop")) == {}
    assert api.one(Agent, Agent.id == AGENT).status == "idle"


def test_without_agent_the_working_folder_names_it(api):
    assert decision_at(api, hook("session_start"), "/api/v1/hooks/claude-code") == {}
    assert api.one(Agent, Agent.id == "claude-code-payments").status == "running"


def decision_at(api, body, path):
    resp = send(api, body, path=path)
    assert resp.status_code == 200
    return resp.get_json()


def test_a_graceful_kill_stops_claude_at_its_next_tool_call_acked_and_then_verified(live):
    cmd = issue(live, "kill", {"reason": "runaway loop"})
    assert decision(live, hook("post_tool_use")) == {}  # not a point where Claude can be stopped
    assert command(live, cmd["id"]).state == "pending"

    out = decision(live, hook("pre_tool_use"))
    message = "Stopped by Helicarrier (token:operator): runaway loop"
    assert out["continue"] is False and out["stopReason"] == message
    assert out["hookSpecificOutput"] == {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": message,
    }
    row = command(live, cmd["id"])
    assert row.state == "completed" and row.delivered_at is not None and row.verification == "awaiting"
    assert live.one(Session, Session.id == live.session).status == "killed"
    assert live.one(Agent, Agent.id == AGENT).control_state == "killed"
    assert live.ctx.control.verify_kills(0) == [cmd["id"]]  # no usage since: the settle window verifies it

    # Delivered once: a graceful kill does not refuse the tool calls that follow.
    assert decision(live, hook("pre_tool_use", tool_use_id="toolu_02")) == {}


def test_a_force_kill_at_stop_ends_the_turn_and_denies_every_further_tool_call(live):
    cmd = issue(live, "kill", {"reason": "spending", "strength": "force"})
    out = decision(live, hook("stop"))
    assert out == {"continue": False, "stopReason": "Stopped by Helicarrier (token:operator): spending"}
    assert command(live, cmd["id"]).state == "completed"
    for n in range(2):
        out = decision(live, hook("pre_tool_use", tool_use_id=f"toolu_1{n}"))
        assert out["hookSpecificOutput"]["permissionDecision"] == "deny"
        assert "spending" in out["hookSpecificOutput"]["permissionDecisionReason"]


def test_a_task_is_handed_over_at_stop_and_completed_at_the_next_stop(live):
    cmd = issue(live, "tasks", {"task": "Also bump the Dockerfile's base image"})
    assert decision(live, hook("pre_tool_use")) == {}  # a task cannot ride on a tool call
    assert command(live, cmd["id"]).state == "pending"

    out = decision(live, hook("stop"))
    assert out == {"decision": "block", "reason": "Also bump the Dockerfile's base image"}
    row = command(live, cmd["id"])
    assert row.state == "accepted" and row.delivered_at is not None

    assert decision(live, hook("stop", stop_hook_active=True)) == {}  # Claude stops again: it is done
    assert command(live, cmd["id"]).state == "completed"
    actions = set(live.repo.audit_entries()["action"])
    assert {"command.inject", "command.accept", "command.complete"} <= actions


def test_a_task_rides_on_the_next_prompt_as_added_context(live):
    cmd = issue(live, "tasks", {"task": "Mind the changelog"})
    out = decision(live, hook("user_prompt_submit", prompt="and the README"))
    assert out == {
        "hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "Mind the changelog"}
    }
    assert command(live, cmd["id"]).state == "accepted"


def test_only_the_token_that_speaks_for_the_agent_may_post_its_hooks(live, make_token):
    other = make_token("someone-else", "ingest")
    before = live.snapshot()
    resp = send(live, hook("pre_tool_use", tool_use_id="toolu_x"), token=other)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "agent_not_bound"
    after = live.snapshot()
    assert after["log_events"] == before["log_events"] and after["agents"] == before["agents"]
    assert send(live, hook("stop"), token=None).status_code == 401
    assert send(live, hook("stop"), token=make_token("reader", "read")).status_code == 403


def test_bad_hook_inputs_are_named_and_change_nothing(api):
    before = api.snapshot()
    resp = send(api, {"hook_event_name": "Stop"})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "session_id"
    resp = api.post(data=b"{not json", path=PATH)
    assert resp.status_code == 400
    resp = send(api, hook("stop"), path="/api/v1/hooks/claude-code?agent=" + "x" * 200)
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "agent"
    assert api.snapshot() == before


HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_database_that_does_not_answer_in_time_is_an_allow_within_the_deadline(live, backend):
    kill = issue(live, "kill", {"reason": "would be delivered"})
    lock_path = str(Path(live.repo.engine.url.database).resolve()) + "-writelock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, lock_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        resp = send(live, hook("pre_tool_use", tool_use_id="toolu_busy"))
        took = time.monotonic() - t0
        assert resp.status_code == 200 and resp.get_json() == {}
        assert resp.headers["X-Helicarrier-Fail-Open"] == "deadline" and took < 4
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    # The abandoned work goes on once the database answers, but Claude heard "allow": the kill must still
    # wait for a hook that can stop it, not be recorded as delivered and confirmed.
    wait_for(lambda: failopen._SLOTS._value == failopen.SLOTS, 30, "the abandoned hook's work to end")
    assert command(live, kill["id"]).state == "pending"
    assert decision(live, hook("pre_tool_use"))["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_a_model_switch_cannot_reach_claude_code_and_is_answered_rejected(live):
    cmd = issue(live, "model", {"model": "claude-sonnet-4-5"})
    assert decision(live, hook("pre_tool_use")) == {}
    row = command(live, cmd["id"])
    assert row.state == "rejected" and "cannot switch the model" in row.result_message


def test_in_maintenance_a_hook_is_allowed_at_once_and_stores_nothing(live):
    from helicarrier.operations.maintenance import switch

    switch(live.repo, True, "moving to PostgreSQL", "test")
    live.ctx.maintenance.cache_s = 0
    before = live.snapshot()
    resp = send(live, hook("pre_tool_use"))
    assert resp.status_code == 200 and resp.get_json() == {}
    assert resp.headers["X-Helicarrier-Fail-Open"]
    assert live.snapshot() == before
