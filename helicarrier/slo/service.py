"""The SLO service: records SLI events as they happen and reports each SLO over its windows.

Both the Operations page and ``GET /api/v1/slo`` read ``report``; the ingest hooks call ``ingest_answered``
and the alert job ``alert_cycle``. Command deliveries are counted by the control service, in the
transaction that delivers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from helicarrier.errors import Refused
from helicarrier.slo.budget import (
    CONDITIONS,
    WINDOWS,
    Condition,
    Counts,
    budget_left,
    burn_rate,
    conditions_holding,
    sli,
)
from helicarrier.slo.definitions import (
    ALERT_LAG,
    INGEST_AVAILABILITY,
    INGEST_LATENCY,
    PULSE_FRESHNESS,
    Slo,
)
from helicarrier.slo.recorder import SliRecorder, minute_of

SHOWN = ("1h", "24h", "30d")  # the windows the page and the API show an SLI for


@dataclass(frozen=True)
class SloReport:
    slo: Slo
    counts: dict[str, Counts]  # every window of WINDOWS
    sli: dict[str, Fraction | None]  # SHOWN windows
    budget_left: Fraction | None  # of the 30-day budget
    burn_rates: dict[str, Fraction | None]  # every window
    holding: list[Condition]

    @property
    def worst(self) -> Condition | None:
        return self.holding[0] if self.holding else None


def alert_cycle_events(gap: timedelta | None, interval_s: int, late_after_s: int) -> Counts:
    """The events one alert cycle stands for, from the gap since the previous cycle started.

    On time: one good event. Late: the cycle and every evaluation that should have run in the gap are bad
    (a scheduler down for 10 minutes at 15 s is 40 late cycles, not one)."""
    if gap is None:
        return Counts(1, 0)
    seconds = gap.total_seconds()
    if seconds <= late_after_s:
        return Counts(1, 0)
    missed = max(1, int(seconds // max(interval_s, 1)))
    return Counts(missed, missed)


class SloService:
    def __init__(self, repo, slos: tuple[Slo, ...], recorder: SliRecorder | None = None):
        self.repo = repo
        self.slos = slos
        self.by_name = {s.name: s for s in slos}
        self.recorder = recorder or SliRecorder(self._write)

    @property
    def targets(self) -> dict[str, int]:
        """{SLO name: target ppm}: what ``slo_burn`` alert rules judge against."""
        return {s.name: s.target_ppm for s in self.slos}

    # -- recording ---------------------------------------------------------------------------------

    def _write(self, folded) -> bool:
        """The recorder's flush: nothing while maintenance pauses writes (copy-db's parity would see it);
        the counts wait in the process until it ends."""
        try:
            self.repo.write_gate()
        except Refused:
            return False
        self.repo.add_sli_counts(folded)
        return True

    def ingest_answered(self, status: int, seconds: float, at: datetime) -> None:
        """An ingest request answered: available unless 5xx; fast unless over the latency threshold."""
        self.recorder.record(INGEST_AVAILABILITY, status >= 500, at)
        latency = self.by_name[INGEST_LATENCY]
        self.recorder.record(INGEST_LATENCY, seconds * 1000 > (latency.threshold_ms or 0), at)

    def pulse_served(self, received: list[datetime | None], at: datetime) -> None:
        """New lines a live Pulse is given at ``at``: each is fresh when it arrived at most the threshold
        before (measured where the server hands them over; a Pulse nobody has open measures nothing)."""
        limit = timedelta(milliseconds=self.by_name[PULSE_FRESHNESS].threshold_ms or 0)
        for arrived in received:
            if arrived is not None:
                self.recorder.record(PULSE_FRESHNESS, at - arrived > limit, at)

    def alert_cycle(self, previous: datetime | None, at: datetime, interval_s: int) -> None:
        """An alert evaluation cycle starting at ``at``; ``previous``: when the one before started."""
        limit_s = (self.by_name[ALERT_LAG].threshold_ms or 0) // 1000
        counts = alert_cycle_events(None if previous is None else at - previous, interval_s, limit_s)
        self.repo.add_sli_counts({(minute_of(at), ALERT_LAG): (counts.total, counts.bad)})

    def prune(self, now: datetime) -> int:
        """Delete SLI minutes older than the longest window (and a day's margin): nothing reads them."""
        return self.repo.prune_sli_rollups(minute_of(now - max(WINDOWS.values()) - timedelta(days=1)))

    # -- reporting ---------------------------------------------------------------------------------

    def report(self, now: datetime) -> list[SloReport]:
        """Every SLO over every window, from the rollups (one query)."""
        windows = {name: int(w / timedelta(minutes=1)) for name, w in WINDOWS.items()}
        sums = self.repo.sli_window_sums(minute_of(now), windows)
        out = []
        for slo in self.slos:
            found = sums.get(slo.name, {})
            counts = {w: Counts(*found.get(w, (0, 0))) for w in WINDOWS}
            out.append(
                SloReport(
                    slo=slo,
                    counts=counts,
                    sli={w: sli(counts[w]) for w in SHOWN},
                    budget_left=budget_left(counts["30d"], slo.target_ppm),
                    burn_rates={w: burn_rate(counts[w], slo.target_ppm) for w in WINDOWS},
                    holding=conditions_holding(counts, slo.target_ppm),
                )
            )
        return out


def _decimal(value: Fraction | None, places: int = 6) -> str | None:
    """A Fraction as a decimal string, rounded half-even (JSON numbers are floats to most clients)."""
    if value is None:
        return None

    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def report_json(r: SloReport) -> dict:
    """One SLO as the API and the page show it."""
    return {
        "name": r.slo.name,
        "title": r.slo.title,
        "target_percent": r.slo.target_percent,
        "good_means": r.slo.good_means,
        "threshold_ms": r.slo.threshold_ms,
        "recorded": r.slo.recorded,
        "windows": {
            w: {
                "total": r.counts[w].total,
                "bad": r.counts[w].bad,
                "sli": _decimal(sli(r.counts[w])),
                "burn_rate": _decimal(r.burn_rates[w], 3),
            }
            for w in WINDOWS
        },
        "budget_left": _decimal(r.budget_left, 4),
        "conditions": [
            {
                "name": c.name,
                "severity": c.severity,
                "burn_rate": _decimal(c.burn_rate, 1),
                "long_window": _window_name(c.long),
                "short_window": _window_name(c.short),
                "holds": c in r.holding,
            }
            for c in CONDITIONS
        ],
        "alert": r.worst.severity if r.worst else None,
    }


def _window_name(w: timedelta) -> str:
    return next(name for name, value in WINDOWS.items() if value == w)
