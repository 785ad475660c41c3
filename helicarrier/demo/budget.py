"""The demo's budget (issue 16's "a budget at work within the first minutes" of `make run`): the research
team's day, capped just above what the seeded history already spent today, so the soft alert fires at once
and the live fleet locks it within minutes (its agents pause until the local midnight, or until an admin
raises the limit or overrides the lock on the API)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from helicarrier.actors import Actor
from helicarrier.budgets.service import BudgetService

DEMO_ACTOR = Actor("demo", "system")
NAME = "research daily (demo)"
HEADROOM = Decimal("1.04")  # 4% above today's spend: a few minutes of the live fleet's calls
MIN_HEADROOM_USD = Decimal("0.50")


def demo_budget(budgets: BudgetService, now: datetime | None = None) -> dict[str, Any]:
    """Create the demo budget (once: a second call finds it by name) and size its limit from today's spend."""
    existing = next((b for b in budgets.list() if b["name"] == NAME), None)
    if existing is not None:
        return existing
    body = {"name": NAME, "scope": "label", "scope_value": "team=research", "period": "day"}
    created = budgets.create(DEMO_ACTOR, {**body, "limit_usd": "1000000", "policy": "pause"}, now)
    spent = Decimal(created["spent_usd"])
    limit = max(spent * HEADROOM, spent + MIN_HEADROOM_USD).quantize(Decimal("0.01"))
    return budgets.update(DEMO_ACTOR, created["id"], {"limit_usd": str(limit)}, now)
