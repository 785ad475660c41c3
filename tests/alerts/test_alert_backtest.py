"""The 7-day firing count behind the rule editor's noise warning: plain functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from helicarrier.alerts.backtest import backtest, count_fires
from helicarrier.alerts.lifecycle import RuleSpec, Sample

RULE = RuleSpec(id=1, comparator=">", threshold=Decimal(10))
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_group_fires_again_only_after_it_stopped_breaching():
    values = {"a": [11, 12, 5, 13, 14], "b": [1, 1, 20, 1, 1]}
    times = [T0 + timedelta(hours=i) for i in range(5)]

    def at(t: datetime) -> list[Sample]:
        i = times.index(t)
        return [Sample({"agent": g}, Decimal(v[i])) for g, v in values.items()]

    assert count_fires(RULE, at, times) == 3  # a twice (apart), b once


def test_more_than_24_a_day_is_noisy():
    flapping = {"n": 0}

    def at(_t: datetime) -> list[Sample]:  # breaches every other hour: 12 firings a day per group
        flapping["n"] += 1
        return [Sample({"agent": f"g{i}"}, Decimal(20 if flapping["n"] % 2 else 0)) for i in range(3)]

    result = backtest(RULE, at, T0)
    assert (result.fires, result.noisy) == (3 * 85, True)  # 169 steps, 85 of them breaching: 36 a day
    assert not backtest(RULE, lambda _t: [], T0).noisy
