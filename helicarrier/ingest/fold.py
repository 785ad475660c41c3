"""What a batch says about each agent, folded in time order: the rules by which events move an agent's
reported status, model and current session. Plain functions; the repository writes the result."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def _blank(agent_id: str, ts: datetime) -> dict[str, Any]:
    return {
        "id": agent_id,
        "name": None,
        "status": None,
        "model": None,
        "provider": None,
        "current_task": None,
        "current_session_id": None,
        "labels": None,
        "heartbeat": False,
        "waiting_until": None,
        "waiting_for": None,
        "seen": ts,
    }


def _apply(a: dict[str, Any], e, late_starts: set[str]) -> None:
    d = e.data
    if e.type == "agent.heartbeat":
        a["status"] = d.status
        a["current_task"] = d.current_task if d.current_task is not None else a["current_task"]
        for key in ("name", "model", "provider", "labels"):
            if getattr(d, key) is not None:
                a[key] = getattr(d, key)
        # Each heartbeat restates the wait: one that says anything else (or no duration) ends it.
        waiting = d.status == "waiting" and d.expected_s is not None
        a["heartbeat"] = True
        a["waiting_until"] = e.ts + timedelta(seconds=d.expected_s) if waiting else None
        a["waiting_for"] = d.waiting_for if waiting else None
    elif e.type == "session.start" and e.session_id not in late_starts:
        # A start arriving after its session's end must not make the agent "running" it again.
        a["status"] = "running"
        a["current_session_id"] = e.session_id
        a["current_task"] = d.task if d.task is not None else a["current_task"]
        a["model"] = d.model or a["model"]
        a["provider"] = d.provider or a["provider"]
    elif e.type == "usage" and e.usage is not None:
        a["model"] = e.usage.model or a["model"]
        a["provider"] = e.usage.provider


def fold_agents(events: list, late_starts: set[str], now: datetime) -> tuple[list[dict], list[dict]]:
    """One row per agent of what the batch says (None where it says nothing), in agent id order, and the
    (agent, session) pairs a session.end closes. ``late_starts``: sessions already ended that a
    session.start of the batch names. ``seen`` is the agent's latest event, never later than ``now`` (a
    client clock ahead of ours must not keep an agent online)."""
    folded: dict[str, dict[str, Any]] = {}
    ended: list[dict[str, str]] = []
    for e in sorted(events, key=lambda ev: ev.ts):
        a = folded.get(e.agent_id)
        if a is None:
            a = folded[e.agent_id] = _blank(e.agent_id, e.ts)
        a["seen"] = max(a["seen"], e.ts)
        _apply(a, e, late_starts)
        if e.type == "session.end":
            ended.append({"b_a": e.agent_id, "b_s": e.session_id})
    rows = []
    for agent_id in sorted(folded):
        a = folded[agent_id]
        rows.append({**a, "seen": min(a["seen"], now)})
    return rows, sorted(ended, key=lambda x: (x["b_a"], x["b_s"]))


def started_agents(events: list, late_starts: set[str]) -> set[str]:
    """Agents that start a session in this batch (not a late start): a killed one works again."""
    return {e.agent_id for e in events if e.type == "session.start" and e.session_id not in late_starts}
