"""Maintenance mode: a switch every instance reads from the database (``service_flags``), so one
``python -m helicarrier maintenance on`` pauses ingest on all of them. While it is on, the routes that write
what agents report answer 503 ``maintenance`` with ``Retry-After``: the agent client keeps the events queued
and sends them once it is off, so nothing is lost; reads and pages keep working, under a banner.

Each process caches the switch for ``CACHE_S`` seconds: ingest must not pay a database read per request, and
a cutover can wait that long after ``maintenance on`` before copying (the runbook says so).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson

from helicarrier.data.repository import Repository
from helicarrier.errors import Refused

FLAG = "maintenance"
CACHE_S = 2.0
# Clients retry after this long; short, so ingest resumes soon after the switch is off.
RETRY_AFTER_S = 5


@dataclass(frozen=True)
class MaintenanceState:
    on: bool
    reason: str | None = None
    since: datetime | None = None
    by: str | None = None


OFF = MaintenanceState(False)


def read_state(repo: Repository) -> MaintenanceState:
    """The switch as stored (no cache): the flag's value is ``{"reason": ...}`` while on, NULL while off."""
    flag = repo.flag(FLAG)
    if flag is None or flag.value is None:
        return OFF
    reason = orjson.loads(flag.value).get("reason")
    return MaintenanceState(True, reason, flag.updated_at, flag.updated_by)


def switch(repo: Repository, on: bool, reason: str | None, by: str) -> None:
    """Turn maintenance on or off (audited)."""
    repo.set_flag(FLAG, orjson.dumps({"reason": reason}).decode() if on else None, by)
    repo.record_audit(
        actor=by,
        actor_kind="user",
        action="maintenance.on" if on else "maintenance.off",
        outcome="ok",
        reason=reason,
    )


class Maintenance:
    """The per-process view of the switch, read at most every ``cache_s`` seconds."""

    def __init__(
        self, repo: Repository, cache_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic
    ):
        self.repo = repo
        self.cache_s = cache_s
        self.clock = clock
        self._lock = threading.Lock()
        self._state = OFF
        self._read_at: float | None = None

    def state(self) -> MaintenanceState:
        now = self.clock()
        with self._lock:
            if self._read_at is None or now - self._read_at >= self.cache_s:
                self._state = read_state(self.repo)
                self._read_at = now
            return self._state

    def refuse_writes(self) -> None:
        """Raise the 503 a write route answers while maintenance is on."""
        state = self.state()
        if not state.on:
            return
        why = f" ({state.reason})" if state.reason else ""
        raise Refused(
            503,
            "maintenance",
            f"Helicarrier is in maintenance{why}; nothing was stored; retry after {RETRY_AFTER_S} s",
            {"reason": state.reason, "since": state.since.isoformat() if state.since else None},
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
