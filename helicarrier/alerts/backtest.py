"""How often a rule would have fired over the last days: the rule editor's noise check (issue 15,
"operator thresholds in the UI").

The rule's metric is computed as of every ``step_s`` over the period (hourly over 7 days: 168 evaluations)
and a *firing* is a group that breaches where it did not at the step before, as a new alert would. The
resolution is the step: a rule that flaps within an hour counts once. Metrics of the present state only
(an agent offline now) cannot look back and show their current value at every step."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from helicarrier.alerts.lifecycle import RuleSpec, Sample, label_key, would_fire

DAYS = 7
STEP_S = 3600
NOISY_PER_DAY = 24  # the editor warns above this many firings a day


@dataclass(frozen=True)
class Backtest:
    days: int
    step_s: int
    fires: int
    max_per_day: int = NOISY_PER_DAY

    @property
    def per_day(self) -> float:
        return self.fires / self.days

    @property
    def noisy(self) -> bool:
        return self.fires > self.max_per_day * self.days

    def as_dict(self) -> dict:
        return {
            "days": self.days,
            "step_s": self.step_s,
            "fires": self.fires,
            "max_per_day": self.max_per_day,
            "noisy": self.noisy,
        }


def count_fires(
    rule: RuleSpec, samples_at: Callable[[datetime], Sequence[Sample]], times: Sequence[datetime]
) -> int:
    """New breaching groups from one time to the next, summed (the first time counts its breaches)."""
    fires, before = 0, set()
    for at in times:
        now = {label_key(s.labels) for s in would_fire(rule, samples_at(at))}
        fires += len(now - before)
        before = now
    return fires


def backtest(
    rule: RuleSpec,
    samples_at: Callable[[datetime], Sequence[Sample]],
    now: datetime,
    *,
    days: int = DAYS,
    step_s: int = STEP_S,
    max_per_day: int = NOISY_PER_DAY,
) -> Backtest:
    steps = days * 86400 // step_s
    times = [now - timedelta(seconds=step_s * i) for i in range(steps, 0, -1)] + [now]
    return Backtest(days, step_s, count_fires(rule, samples_at, times), max_per_day)


def samples_from(repo, values: Mapping, params: Mapping) -> Callable[[datetime], Sequence[Sample]]:
    """The rule's samples as of a time, from the repository."""

    def at(t: datetime) -> Sequence[Sample]:
        return repo.alert_metric(values["metric"], values["group_by"], values["window_s"], params, t)

    return at
