"""Checking a command request before anything is stored: plain functions, no database. A refusal names its
field (``Refused.invalid``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helicarrier.control.lifecycle import KILL_STRENGTHS, KINDS
from helicarrier.errors import Refused

INJECT_MODES = ("steer", "follow_up", "queue")
MAX_REASON = 2000


@dataclass(frozen=True)
class CommandRequest:
    kind: str
    payload: dict[str, Any]
    reason: str | None = None
    strength: str | None = None


def text(value: Any, field: str, *, required: bool, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Refused.invalid(field, "must not be empty")
        return None
    if not isinstance(value, str):
        raise Refused.invalid(field, "must be a string")
    size = len(value.encode())
    if size > limit:
        raise Refused(
            413, "too_large", f"{field}: {size} bytes; the limit is {limit}", {"field": field, "limit": limit}
        )
    return value


def _choice(value: Any, field: str, allowed: tuple[str, ...], default: str) -> str:
    value = value or default
    if value not in allowed:
        raise Refused.invalid(field, f"one of {', '.join(allowed)}")
    return value


def check_request(
    body: dict[str, Any], max_task_bytes: int, provider_for: Callable[[str, str | None], str]
) -> CommandRequest:
    """The command a request body asks for. ``provider_for(model, provider)`` checks a model switch against
    the price table and answers the provider to use."""
    kind = body.get("kind")
    if kind not in KINDS:
        raise Refused.invalid(
            "kind",
            f"unknown command kind {kind!r}; known: {', '.join(KINDS)}",
            code="unknown_kind",
            known=list(KINDS),
        )
    reason = text(body.get("reason"), "reason", required=kind == "kill", limit=MAX_REASON)
    if kind == "kill":
        strength = _choice(body.get("strength"), "strength", KILL_STRENGTHS, "graceful")
        return CommandRequest("kill", {"strength": strength}, reason, strength)
    if kind == "inject":
        task = text(body.get("task"), "task", required=True, limit=max_task_bytes)
        mode = _choice(body.get("mode"), "mode", INJECT_MODES, "steer")
        return CommandRequest("inject", {"task": task, "mode": mode}, reason)
    if kind in ("pause", "resume"):
        return CommandRequest(kind, {}, reason)
    model = text(body.get("model"), "model", required=True, limit=200)
    provider = body.get("provider")
    if provider is not None and not isinstance(provider, str):
        raise Refused.invalid("provider", "must be a string")
    return CommandRequest("model", {"model": model, "provider": provider_for(model, provider)}, reason)


@dataclass(frozen=True)
class AckAnswer:
    """An agent's answer to a command, with its evidence: the session it acted on."""

    state: Any
    message: Any = None
    session_id: Any = None


def check_kill_evidence(command, answer: AckAnswer) -> None:
    """A kill is confirmed by naming the session it stopped: an answer without it, or naming another
    session, does not count (it could come from anything that merely saw the command id)."""
    if command.session_id is None:
        return
    if answer.session_id is None:
        raise Refused.invalid(
            "session_id", "a kill is confirmed with the session it stopped", code="evidence_required"
        )
    if answer.session_id != command.session_id:
        raise Refused(
            409,
            "wrong_session",
            f"session_id: the kill was for session {command.session_id!r}, not {answer.session_id!r}",
            {"field": "session_id", "expected": command.session_id},
        )
