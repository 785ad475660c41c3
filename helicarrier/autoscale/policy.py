"""The desired worker count, decided from the fleet's load within bounds and a cool-down.

Work is the open injected tasks (handed over, not finished) plus the agents running a session; each worker
is meant to carry ``tasks_per_worker`` of it. The count stays within [min_workers, max_workers], changes at
most once per ``cooldown_s`` (so a burst does not make the fleet flap), and never grows while a budget lock
holds the fleet (a locked scope must not start new work).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Bounds:
    min_workers: int
    max_workers: int
    tasks_per_worker: int
    cooldown_s: int


@dataclass(frozen=True)
class Signals:
    open_tasks: int  # injected tasks pending, delivered or accepted
    running_agents: int  # agents heard from recently whose heartbeat says running
    online_agents: int  # agents heard from recently: the workers there are now
    busiest_agent_tasks: int  # the most open tasks queued on one agent
    locked: bool = False  # a budget lock holds the fleet: never scale up


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str
    decided_at: datetime
    changed_at: datetime  # when ``desired`` last changed (the cool-down runs from here)
    signals: Signals

    @classmethod
    def from_json(cls, doc: dict) -> Decision:
        return cls(
            int(doc["desired"]),
            str(doc["reason"]),
            datetime.fromisoformat(doc["decided_at"]),
            datetime.fromisoformat(doc["changed_at"]),
            Signals(**doc["signals"]),
        )

    def to_json(self) -> dict:
        return {
            "desired": self.desired,
            "reason": self.reason,
            "decided_at": self.decided_at.isoformat(),
            "changed_at": self.changed_at.isoformat(),
            "signals": asdict(self.signals),
        }


def wanted(signals: Signals, bounds: Bounds) -> tuple[int, str]:
    """The count the load asks for, within the bounds, and why."""
    work = signals.open_tasks + signals.running_agents
    raw = math.ceil(work / max(1, bounds.tasks_per_worker))
    count = min(bounds.max_workers, max(bounds.min_workers, raw))
    why = (
        f"{signals.open_tasks} open tasks + {signals.running_agents} running agents at "
        f"{bounds.tasks_per_worker} per worker: {raw}"
    )
    if raw > bounds.max_workers:
        why += f", capped at the maximum {bounds.max_workers}"
    elif raw < bounds.min_workers:
        why += f", raised to the minimum {bounds.min_workers}"
    return count, why


def decide(signals: Signals, bounds: Bounds, previous: Decision | None, now: datetime) -> Decision:
    """The next decision; ``previous`` is the last one kept (None: the first)."""
    count, why = wanted(signals, bounds)
    if previous is None:
        return Decision(count, why, now, now, signals)
    held = previous.desired
    if count > held and signals.locked:
        return Decision(
            held, f"{why}; a budget lock holds the fleet at {held}", now, previous.changed_at, signals
        )
    if count != held and now < previous.changed_at + timedelta(seconds=bounds.cooldown_s):
        until = previous.changed_at + timedelta(seconds=bounds.cooldown_s)
        return Decision(
            held, f"{why}; cooling down until {until:%H:%M:%S} UTC", now, previous.changed_at, signals
        )
    return Decision(count, why, now, now if count != held else previous.changed_at, signals)
