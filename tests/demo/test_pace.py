"""The live demo fleet spends at a rate its seeded history could have: with ``make run``'s pace, today's bar
does not dwarf the month. Live spend follows the number of model calls (each call's tokens come from the same
distribution live and seeded), so the rates of model calls are compared."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from helicarrier.demo.fleet import QUICK, STEADY, Pace
from helicarrier.demo.scenario import FLEET, plan_session, step_logs
from helicarrier.demo.seed import History

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def live_calls_per_hour(pace: Pace, sessions_per_agent: int = 300) -> float:
    """The fleet's expected model calls per hour at ``pace``: each agent runs its sessions one after another,
    a log line every ``log_every`` seconds within a step, ``idle_between`` seconds between sessions."""
    rng = random.Random(3)
    log_gap = sum(pace.log_every) / 2
    idle = sum(pace.idle_between) / 2
    total = 0.0
    for agent in FLEET:
        calls = seconds = 0.0
        for _ in range(sessions_per_agent):
            plan = plan_session(rng, agent)
            for step in range(plan.outcome.at_step + 1):
                seconds += len(step_logs(rng, plan.spec, plan.kind, step, plan.steps)) * log_gap
                calls += 1
            seconds += 1.0 + idle  # the closing line, then idle
        total += calls / seconds * 3600
    return total


def seeded_busy_hour_calls() -> float:
    """Model calls in the seeded history's busy hours: the 90th percentile of its hours."""
    history = History(random.Random(7), 30, NOW)
    per_hour = Counter(
        t.replace(minute=0, second=0, microsecond=0) for t, e in history.events() if e["type"] == "usage"
    )
    hours = sorted(per_hour.values())
    return hours[int(len(hours) * 0.9)]


@pytest.fixture(scope="module")
def busy_hour() -> float:
    return seeded_busy_hour_calls()


def test_the_steady_pace_spends_like_the_seeded_history(busy_hour):
    ratio = live_calls_per_hour(STEADY) / busy_hour
    # A live demo has to show work happening, so it runs somewhat above the history's busy hours; what the
    # analyst must not see is the live hour costing a seeded day.
    assert ratio < 4, f"the live fleet makes {ratio:.1f} times the model calls of the history's busy hours"


def test_the_quick_pace_would_dwarf_the_history(busy_hour):
    # The pace tests use (sessions back to back): what `make run` did before, at ~100 times the history.
    assert live_calls_per_hour(QUICK) / busy_hour > 30
