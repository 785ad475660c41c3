"""Is this instance ready to serve: the database answers, its schema is the code's, and some process runs
the background jobs (alerts, kill verification, reports). Plain functions over what was measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

HEARTBEAT_FLAG = "scheduler.heartbeat"
HEARTBEAT_EVERY_S = 5
# Three missed beats: the leader died and nobody took over (a follower takes over within seconds).
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_EVERY_S + 5)
RETRY_AFTER_S = 5


@dataclass
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)  # name -> "ok" or what is wrong

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


def scheduler_check(heartbeat_at: datetime | None, now: datetime) -> str:
    if heartbeat_at is None:
        return "no scheduler has run here yet"
    age = now - heartbeat_at
    if age > STALE_AFTER:
        return f"the scheduler's last heartbeat is {int(age.total_seconds())} s old"
    return "ok"
