"""Each budget's burn as people read it (the Intelligence panel): share spent, rate, projected exhaustion.
Plain functions over the budgets as the repository returns them; money stays integer nano-dollars until it
is formatted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helicarrier.money import format_usd

STATE_ORDER = {"locked": 0, "soft": 1, "overridden": 2, "ok": 3}


@dataclass(frozen=True)
class BurnRow:
    name: str
    scope: str
    state: str
    spent: str  # "$8.00 of $10.00"
    percent: int  # of the limit, rounded down
    rate: str  # "$1.20/h"
    exhaustion: str  # "exhausted", "14:12 UTC", "not this day"


def _scope(b: dict[str, Any]) -> str:
    return "fleet" if b["scope"] == "fleet" else f"{b['scope']} {b['scope_value']}"


def _exhaustion(b: dict[str, Any], now: datetime) -> str:
    if b["spent_nanos"] >= b["limit_nanos"]:
        return "exhausted"
    at = b["projected_at"]
    if at is None:
        return "not at this rate" if b["rate_nanos_per_h"] else "no spend in the last hour"
    when = at.strftime("%H:%M UTC") if at.date() == now.date() else at.strftime("%Y-%m-%d %H:%M UTC")
    return when


def burn_rows(budgets: list[dict[str, Any]], now: datetime) -> list[BurnRow]:
    """Locked first, then soft, then by share spent."""
    rows = [
        BurnRow(
            name=b["name"],
            scope=_scope(b),
            state=b["state"],
            spent=f"{format_usd(b['spent_nanos'])} of {format_usd(b['limit_nanos'])} this {b['period']}",
            percent=b["spent_nanos"] * 100 // b["limit_nanos"],
            rate=f"{format_usd(b['rate_nanos_per_h'])}/h",
            exhaustion=_exhaustion(b, now),
        )
        for b in budgets
    ]
    return sorted(rows, key=lambda r: (STATE_ORDER.get(r.state, 9), -r.percent, r.name))
