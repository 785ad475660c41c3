"""Control actions, without Flask or Dash: the API routes and the HUD's buttons both call these.

Validation happens before anything is stored; a refused request changes nothing but leaves an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helicarrier.control.lifecycle import KILL_STRENGTHS, KINDS
from helicarrier.data.queries.commands import Actor, CommandRefused
from helicarrier.data.repository import Repository
from helicarrier.pricing.registry import PriceBooks

INJECT_MODES = ("steer", "follow_up", "queue")
MAX_REASON = 2000


@dataclass(frozen=True)
class ControlLimits:
    ttl_s: int = 300
    max_task_bytes: int = 16 * 1024
    offline_after_s: int = 60
    kill_settle_s: int = 30


def _text(value: Any, field: str, *, required: bool, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CommandRefused(422, "schema_violation", f"{field}: must not be empty", {"field": field})
        return None
    if not isinstance(value, str):
        raise CommandRefused(422, "schema_violation", f"{field}: must be a string", {"field": field})
    if len(value.encode()) > limit:
        raise CommandRefused(
            413,
            "too_large",
            f"{field}: {len(value.encode())} bytes; the limit is {limit}",
            {"field": field, "limit": limit},
        )
    return value


class ControlService:
    def __init__(self, repo: Repository, price_books: PriceBooks, limits: ControlLimits):
        self.repo = repo
        self.price_books = price_books
        self.limits = limits

    def issue(self, actor: Actor, agent_id: str, body: dict[str, Any], idempotency_key: str | None) -> tuple:
        """Validate and issue one command from a request body with a ``kind``. Returns (command, created)."""
        kind = body.get("kind")
        if kind not in KINDS:
            raise CommandRefused(
                422,
                "unknown_kind",
                f"kind: unknown command kind {kind!r}; known: {', '.join(KINDS)}",
                {"field": "kind", "known": list(KINDS)},
            )
        reason = _text(body.get("reason"), "reason", required=kind == "kill", limit=MAX_REASON)
        strength = None
        if kind == "kill":
            strength = body.get("strength") or "graceful"
            if strength not in KILL_STRENGTHS:
                raise CommandRefused(
                    422,
                    "schema_violation",
                    f"strength: one of {', '.join(KILL_STRENGTHS)}",
                    {"field": "strength"},
                )
            payload: dict[str, Any] = {"strength": strength}
        elif kind == "inject":
            task = _text(body.get("task"), "task", required=True, limit=self.limits.max_task_bytes)
            mode = body.get("mode") or "steer"
            if mode not in INJECT_MODES:
                raise CommandRefused(
                    422, "schema_violation", f"mode: one of {', '.join(INJECT_MODES)}", {"field": "mode"}
                )
            payload = {"task": task, "mode": mode}
        else:
            payload = self._model_payload(agent_id, body)
        return self.repo.issue_command(
            actor=actor,
            agent_id=agent_id,
            kind=kind,
            payload=payload,
            reason=reason,
            strength=strength,
            ttl_s=self.limits.ttl_s,
            offline_after_s=self.limits.offline_after_s,
            idempotency_key=idempotency_key,
        )

    def _model_payload(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        model = _text(body.get("model"), "model", required=True, limit=200)
        provider = body.get("provider")
        if provider is None:
            detail = self.repo.agent_detail(agent_id, log_limit=0)
            provider = detail and detail["agent"]["provider"]
        if not provider:
            raise CommandRefused(
                422,
                "schema_violation",
                "provider: needed (the agent has not reported one)",
                {"field": "provider"},
            )
        book = self.price_books.active()
        if not book.knows_model(provider, model):
            raise CommandRefused(
                422,
                "unknown_model",
                f"model: {provider}/{model} is not in the price table {book.version}",
                {"field": "model", "pricing_version": book.version},
            )
        return {"model": model, "provider": provider}

    def refuse(self, actor: Actor, action: str, agent_id: str | None, refused: CommandRefused) -> None:
        self.repo.record_refusal(actor, action, agent_id, refused.message, {"code": refused.code})
