"""The fleet: the agents as the Hero Grid sees them, and who speaks for each (admins re-assign)."""

from __future__ import annotations

from dataclasses import asdict

from helicarrier.api.http import app_context, json_response, read_json_object, token_actor
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet.status import effective_status


def _agent_json(row: dict, offline_after_s: int, now) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "status": effective_status(
            row["status"], row["control_state"], row["last_heartbeat_at"], now, offline_after_s
        ),
        "reported_status": row["status"],
        "control_state": row["control_state"] or "active",
        "model": row["model"],
        "provider": row["provider"],
        "current_task": row["current_task"],
        "current_session_id": row["current_session_id"],
        "labels": row["labels"],
        "last_heartbeat_at": row["last_heartbeat_at"],
        "owner": row["owner"],
    }


def list_agents():
    ctx = app_context()
    now = utcnow()
    rows = ctx.repo.agents_snapshot()
    return json_response({"agents": [_agent_json(r, ctx.settings.offline_after_s, now) for r in rows]})


def set_owner(agent_id: str):
    """Give the agent to another token (``{"token": null}``: to the next token that reports for it)."""
    token = read_json_object().get("token")
    if token is not None and (not isinstance(token, str) or not token or len(token) > 100):
        raise Refused.invalid("token", "a token's name, or null")
    owner = app_context().fleet.reassign(token_actor(), agent_id, token)
    return json_response({"agent_id": agent_id, "owner": owner})


def scale():
    """The desired worker count: the leader's latest decision (before its first, one made now)."""
    ctx = app_context()
    decision = ctx.autoscale.current()
    doc = decision.to_json()
    return json_response(
        {**doc, "current": decision.signals.online_agents, "bounds": asdict(ctx.autoscale.bounds)}
    )
