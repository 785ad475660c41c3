"""The desired worker count: from the load, within the bounds, once per cool-down, never up under a lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helicarrier.autoscale.policy import Bounds, Signals, decide

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BOUNDS = Bounds(min_workers=1, max_workers=6, tasks_per_worker=2, cooldown_s=60)


def load(tasks: int = 0, running: int = 0, locked: bool = False) -> Signals:
    return Signals(tasks, running, online_agents=3, busiest_agent_tasks=tasks, locked=locked)


def test_the_count_follows_the_load_within_the_bounds():
    assert decide(load(5, 2), BOUNDS, None, T0).desired == 4  # 7 units of work at 2 per worker
    assert decide(load(50), BOUNDS, None, T0).desired == 6
    assert "capped at the maximum 6" in decide(load(50), BOUNDS, None, T0).reason
    assert decide(load(), BOUNDS, None, T0).desired == 1


def test_the_count_changes_once_per_cool_down():
    first = decide(load(50), BOUNDS, None, T0)
    idle = decide(load(), BOUNDS, first, T0 + timedelta(seconds=30))
    assert idle.desired == 6 and "cooling down until 12:01:00" in idle.reason
    assert idle.changed_at == T0
    later = decide(load(), BOUNDS, idle, T0 + timedelta(seconds=60))
    assert later.desired == 1 and later.changed_at == T0 + timedelta(seconds=60)
    # The same count again is no change: the cool-down keeps running from the last change.
    same = decide(load(), BOUNDS, later, T0 + timedelta(seconds=90))
    assert same.desired == 1 and same.changed_at == later.changed_at


def test_a_budget_lock_holds_the_fleet_from_growing_but_lets_it_shrink():
    first = decide(load(2), BOUNDS, None, T0)
    held = decide(load(50, locked=True), BOUNDS, first, T0 + timedelta(hours=1))
    assert held.desired == first.desired == 1 and "budget lock holds the fleet at 1" in held.reason
    big = decide(load(50), BOUNDS, None, T0)
    shrunk = decide(load(locked=True), BOUNDS, big, T0 + timedelta(hours=1))
    assert shrunk.desired == 1
