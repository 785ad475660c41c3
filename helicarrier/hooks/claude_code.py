"""Claude Code's hook inputs and decisions, as plain functions: what a hook input becomes as native events,
and what Helicarrier answers to it. No Flask, no database.

Followed: the Claude Code hooks reference, https://code.claude.com/docs/en/hooks (version of 2026-03-17, the
one that documents ``type: "http"`` handlers; see docs/connectors.md). Every input carries ``session_id``,
``transcript_path``, ``cwd`` and ``hook_event_name``; an http hook gets the decision as the JSON answer of a
2xx response, and a non-2xx answer, a timeout or a refused connection is a non-blocking error (the session
goes on).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from helicarrier.errors import Refused

SOURCE = "claude-code-hooks"
PROVIDER = "anthropic"
# The events Helicarrier listens to (``hooks install`` writes one handler for each).
EVENTS = (
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Stop",
    "Notification",
)
MAX_ID = 128
MAX_TEXT = 500  # of a prompt or a notification kept as the agent's current task
_AGENT_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def check_input(doc: Any) -> dict[str, Any]:
    """The hook input, or a 422 naming the field. Only the fields Helicarrier reads are checked."""
    if not isinstance(doc, dict):
        raise Refused(422, "schema_violation", "the body must be a Claude Code hook input (a JSON object)")
    for name in ("hook_event_name", "session_id"):
        value = doc.get(name)
        if not isinstance(value, str) or not value.strip():
            raise Refused.invalid(name, "required (a non-empty string)")
        if len(value) > MAX_ID:
            raise Refused.invalid(name, f"at most {MAX_ID} characters")
    for name in ("cwd", "tool_name", "prompt", "message", "source", "reason", "model", "tool_use_id"):
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise Refused.invalid(name, "must be a string")
    return doc


def agent_for(explicit: str | None, hook: dict[str, Any]) -> str:
    """The agent: ``?agent=`` (or the ``X-Helicarrier-Agent`` header) as written by ``hooks install``, else
    ``claude-code-<the working folder's name>``."""
    if explicit is not None:
        if not explicit.strip() or len(explicit) > MAX_ID:
            raise Refused.invalid("agent", f"1 to {MAX_ID} characters")
        return explicit
    folder = (hook.get("cwd") or "").rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return f"claude-code-{_AGENT_UNSAFE.sub('-', folder).strip('-') or 'session'}"[:MAX_ID]


def _clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    if not text:
        return None
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tool_summary(hook: dict[str, Any]) -> str:
    """``Bash: npm test``: the tool and the one input a reader wants (never the whole input)."""
    tool = hook.get("tool_name") or "tool"
    args = hook.get("tool_input") if isinstance(hook.get("tool_input"), dict) else {}
    for key in ("command", "file_path", "path", "pattern", "url", "description"):
        if isinstance(args.get(key), str):
            return f"{tool}: {_clip(args[key], 200)}"
    return tool


def events_for(agent_id: str, hook: dict[str, Any], body: bytes, now: datetime) -> list[dict[str, Any]]:
    """The native events (a v2 batch's ``events``) one hook input stands for. A tool call's hooks carry its
    ``tool_use_id``: their ids come from the input's bytes, so a re-delivered one is stored once. The other
    hooks have no id, and a second turn's ``Stop`` is byte for byte the first's: their ids take the time
    too, or the later turn's status and Pulse lines would be dropped as duplicates."""
    name = hook["hook_event_name"]
    session = hook["session_id"]
    ts = now.isoformat()
    unique = body if hook.get("tool_use_id") else body + ts.encode()
    digest = hashlib.sha256(unique).hexdigest()[:40]

    def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"cc-{digest}-{kind}",
            "type": kind,
            "ts": ts,
            "agent_id": agent_id,
            "session_id": session,
            "data": data,
        }

    def heartbeat(status: str, task: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"status": status, "provider": PROVIDER}
        if task:
            data["current_task"] = task
        return event("agent.heartbeat", data)

    def log(message: str, level: str = "info", **attrs: Any) -> dict[str, Any]:
        attrs = {k: v for k, v in attrs.items() if v is not None}
        return event("log", {"level": level, "message": message, "attrs": {"hook": name, **attrs}})

    if name == "SessionStart":
        start: dict[str, Any] = {
            "provider": PROVIDER,
            "task": f"Claude Code in {hook.get('cwd') or 'an unknown folder'}",
            "labels": {"connector": "claude-code", "source": hook.get("source") or "startup"},
        }
        if hook.get("model"):
            start["model"] = hook["model"]
        return [event("session.start", start), log(f"session started ({hook.get('source') or 'startup'})")]
    if name == "SessionEnd":
        end = event("session.end", {"status": "succeeded"})
        return [end, log(f"session ended ({hook.get('reason') or 'other'})")]
    if name == "UserPromptSubmit":
        prompt = _clip(hook.get("prompt"))
        return [heartbeat("running", prompt), log("prompt submitted", chars=len(hook.get("prompt") or ""))]
    if name == "PreToolUse":
        summary = _tool_summary(hook)
        return [
            heartbeat("running"),
            log(f"→ {summary}", tool=hook.get("tool_name"), id=hook.get("tool_use_id")),
        ]
    if name == "PostToolUse":
        return [log(f"✓ {_tool_summary(hook)}", tool=hook.get("tool_name"), id=hook.get("tool_use_id"))]
    if name == "Stop":
        return [heartbeat("idle"), log("turn finished, waiting for the user")]
    if name == "Notification":
        message = _clip(hook.get("message")) or "notification"
        # Waiting for the user shows as idle with what it waits for (the card has no "waiting" status).
        return [heartbeat("idle", f"waiting for the user: {message}"), log(message, "warning")]
    return [log(f"{name}")]


# -- decisions ---------------------------------------------------------------------------------------------

ALLOW: dict[str, Any] = {}  # an empty answer: Claude Code goes on as if no hook had run


def kill_decision(event: str, message: str) -> dict[str, Any]:
    """Stop Claude: ``continue: false`` ends the agent loop on every event; PreToolUse also denies the call
    and UserPromptSubmit also blocks the prompt, each with the operator's reason."""
    out: dict[str, Any] = {"continue": False, "stopReason": message}
    if event == "PreToolUse":
        out["hookSpecificOutput"] = deny_tool(message)["hookSpecificOutput"]
    elif event == "UserPromptSubmit":
        out.update(decision="block", reason=message)
    return out


def deny_tool(message: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": message,
        }
    }


def pause_decision(event: str, message: str) -> dict[str, Any]:
    """Hold a paused session: its tool calls are denied and its prompts blocked, each with the reason, while
    the session itself goes on (unlike a kill); a resume lets the next call through."""
    if event == "PreToolUse":
        return deny_tool(message)
    if event == "UserPromptSubmit":
        return {"decision": "block", "reason": message}
    return ALLOW


def task_decision(event: str, task: str) -> dict[str, Any]:
    """Hand Claude a task: at Stop, block the stop with the task as the reason (Claude continues with it);
    at UserPromptSubmit, add it to the context of the prompt."""
    if event == "Stop":
        return {"decision": "block", "reason": task}
    return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": task}}


# Where each command kind can reach Claude Code.
KILL_POINTS = frozenset({"PreToolUse", "Stop", "UserPromptSubmit"})
PAUSE_POINTS = frozenset({"PreToolUse", "UserPromptSubmit"})  # where a paused session is held
TASK_POINTS = frozenset({"Stop", "UserPromptSubmit"})
