"""Error budgets and burn rates, as in the Google SRE workbook's "Alerting on SLOs" chapter.

The budget is the share of events allowed to be bad, 1 - target. The burn rate over a window is the share
that was bad there divided by the budget: 1 spends the budget exactly over the SLO period (30 days), 14.4
spends it in 50 hours, so 1 hour at 14.4 costs 2% of it. Counts in, ``Fraction`` out: exact.

Alerting is the workbook's "multiwindow, multi-burn-rate" table (its recommended values for a 99.9% SLO
over 30 days): each condition holds when the burn rate is at or above its threshold over both its long
window and its short one (the short one makes an alert stop soon after the burning does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from helicarrier.slo.definitions import PPM

PERIOD = timedelta(days=30)


@dataclass(frozen=True)
class Counts:
    total: int = 0
    bad: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.total + other.total, self.bad + other.bad)


@dataclass(frozen=True)
class Condition:
    name: str  # "page_fast", ...
    severity: str  # page or ticket
    burn_rate: Fraction
    long: timedelta
    short: timedelta

    @property
    def budget_spent(self) -> Fraction:
        """The share of the 30-day budget spent by burning at the threshold for the long window."""
        return budget_spent(self.burn_rate, self.long)


# The workbook's table: 2% of the budget in 1 h, 5% in 6 h (page); 10% in 3 days (ticket).
CONDITIONS: tuple[Condition, ...] = (
    Condition("page_fast", "page", Fraction("14.4"), timedelta(hours=1), timedelta(minutes=5)),
    Condition("page_slow", "page", Fraction(6), timedelta(hours=6), timedelta(minutes=30)),
    Condition("ticket", "ticket", Fraction(1), timedelta(days=3), timedelta(hours=6)),
)
# Every window a condition or the Operations page reads.
WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "3d": timedelta(days=3),
    "30d": PERIOD,
}
WINDOW_NAMES = {v: k for k, v in WINDOWS.items()}


def error_budget(target_ppm: int) -> Fraction:
    """The share of events allowed to be bad: 99.9% -> 1/1000."""
    return Fraction(PPM - target_ppm, PPM)


def sli(counts: Counts) -> Fraction | None:
    """The share of good events; None without events (no traffic is not an outage)."""
    if counts.total <= 0:
        return None
    return Fraction(counts.total - counts.bad, counts.total)


def burn_rate(counts: Counts, target_ppm: int) -> Fraction | None:
    """(bad / total) / (1 - target) over a window; None without events."""
    if counts.total <= 0:
        return None
    return Fraction(counts.bad, counts.total) / error_budget(target_ppm)


def budget_spent(rate: Fraction, window: timedelta, period: timedelta = PERIOD) -> Fraction:
    """The share of the period's budget that burning at ``rate`` for ``window`` spends."""
    return rate * Fraction(window // timedelta(seconds=1), period // timedelta(seconds=1))


def budget_left(counts_30d: Counts, target_ppm: int) -> Fraction | None:
    """The share of the 30-day budget not spent yet (negative once overspent); None without events."""
    rate = burn_rate(counts_30d, target_ppm)
    return None if rate is None else 1 - rate


def conditions_holding(by_window: dict[str, Counts], target_ppm: int) -> list[Condition]:
    """The conditions whose burn rate is reached over both of their windows, fastest first."""
    held = []
    for cond in CONDITIONS:
        rates = [
            burn_rate(by_window.get(WINDOW_NAMES[w], Counts()), target_ppm) for w in (cond.long, cond.short)
        ]
        if all(r is not None and r >= cond.burn_rate for r in rates):
            held.append(cond)
    return held
