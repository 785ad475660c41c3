"""Which agents a budget's scope holds: the fleet, agents with a ``key=value`` label, one agent, or every
agent's calls to one model. Plain functions over agent rows (id, model, labels)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _label(value: str) -> tuple[str, str]:
    key, _, val = value.partition("=")
    return key, val


def holds(budget: Mapping[str, Any], agent: Any) -> bool:
    """Whether ``agent`` (a row or mapping with id, model, labels) works inside the budget's scope."""
    get = agent.get if isinstance(agent, Mapping) else lambda k: getattr(agent, k, None)
    scope, value = budget["scope"], budget["scope_value"]
    if scope == "fleet":
        return True
    if scope == "agent":
        return get("id") == value
    if scope == "model":
        return get("model") == value
    key, val = _label(value)
    return str((get("labels") or {}).get(key)) == val if key in (get("labels") or {}) else False


def spend_filter(budget: Mapping[str, Any], agents: Iterable[Mapping[str, Any]]):
    """(agent ids or None for all, model or None for any): what the rollups are summed over."""
    scope, value = budget["scope"], budget["scope_value"]
    if scope == "fleet":
        return None, None
    if scope == "model":
        return None, value
    if scope == "agent":
        return [value], None
    return [a["id"] for a in agents if holds(budget, a)], None
