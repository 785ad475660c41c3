"""What the OTLP receiver could not map, counted per signal and reason: in memory, per process.

Only counts are kept, never the payloads, and at most ``MAX_REASONS`` distinct reasons (reasons name an
event or a metric, which a sender chooses: past the cap they are counted under one "other" reason). A
restart starts from zero, and with several workers each counts what it received; the Operations page shows
this process's counts and says so. A table would survive restarts but put a hot row on every export.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

MAX_REASONS = 200
OTHER = "other (too many distinct reasons)"


@dataclass(frozen=True)
class UnmappedCount:
    signal: str
    reason: str
    count: int
    last_seen: datetime


class UnmappedCounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], list] = {}  # (signal, reason) -> [count, last_seen]

    def add(self, signal: str, reasons: Counter, now: datetime) -> None:
        if not reasons:
            return
        with self._lock:
            for reason, n in reasons.items():
                key = (signal, reason)
                if key not in self._counts and len(self._counts) >= MAX_REASONS:
                    key = (signal, OTHER)
                entry = self._counts.setdefault(key, [0, now])
                entry[0] += n
                entry[1] = now

    def snapshot(self) -> list[UnmappedCount]:
        with self._lock:
            rows = [UnmappedCount(s, r, c, t) for (s, r), (c, t) in self._counts.items()]
        return sorted(rows, key=lambda u: (u.signal, -u.count, u.reason))
