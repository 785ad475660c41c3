"""A paused Claude Code session through its hooks, on both backends: held at its next tool call (the call is
denied with the reason shown, the session goes on), its prompts blocked, and let through again after a
resume; both commands are answered for it through the command lifecycle."""

from __future__ import annotations

from helicarrier.data.models import Agent, Session
from tests.hooks.test_claude_code_hooks import AGENT, command, decision, hook, issue, live  # noqa: F401


def test_a_paused_session_is_held_at_its_next_tool_call_with_the_reason_until_resumed(live):  # noqa: F811
    pause = issue(live, "pause", {"reason": "budget 'daily' locked"})
    assert live.one(Agent, Agent.id == AGENT).control_state == "paused"

    held = decision(live, hook("pre_tool_use"))["hookSpecificOutput"]
    assert held["permissionDecision"] == "deny"
    assert "Paused by Helicarrier" in held["permissionDecisionReason"]
    assert "budget 'daily' locked" in held["permissionDecisionReason"]
    assert command(live, pause["id"]).state == "completed"  # the hook answered for the agent
    assert "continue" not in decision(live, hook("pre_tool_use"))  # held again, not stopped like a kill
    blocked = decision(live, hook("user_prompt_submit"))
    assert blocked["decision"] == "block" and "budget 'daily' locked" in blocked["reason"]
    assert live.one(Session, Session.id == live.session).status == "running"

    resume = issue(live, "resume", {"reason": "raised"})
    assert decision(live, hook("pre_tool_use")) == {}
    assert command(live, resume["id"]).state == "completed"
