"""A receiver's rate cap: at most ``max_per_hour`` notifications in any hour. Past it, the groups that are
due collapse into one summary ("N alert groups (M alerts) suppressed by the rate cap: ..."), sent at most
once per group interval. The suppressed groups are not marked notified, so they stay due and go out as
themselves once the hour has room again: a storm is delayed and counted, never lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from helicarrier.alerts.grouping import LastSend, Notification

SUMMARY_KEY = "rate-cap"  # the summary's group key in the deliveries log (its send time is its memory)
SUMMARY_REASON = "rate_cap"
HOUR = timedelta(hours=1)
LISTED_GROUPS = 20


@dataclass(frozen=True)
class Capped:
    send: list[Notification]  # the groups that go out as themselves
    suppressed: list[Notification]  # held back by the cap (still due)
    summarize: bool  # send one summary of ``suppressed`` now


def apply(
    due: Sequence[Notification],
    max_per_hour: int,
    sent_last_hour: int,
    last_summary: LastSend | None,
    group_interval_s: int,
    now: datetime,
) -> Capped:
    """Which of ``due`` go out, given how many notifications (summaries too) the receiver had in the last
    hour. ``max_per_hour`` 0: no cap."""
    if not max_per_hour:
        return Capped(list(due), [], False)
    room = max(max_per_hour - sent_last_hour, 0)
    send, suppressed = list(due[:room]), list(due[room:])
    quiet = last_summary is None or now >= last_summary.at + timedelta(seconds=group_interval_s)
    return Capped(send, suppressed, bool(suppressed) and quiet)


def summary_text(suppressed: Sequence[Notification]) -> str:
    alerts = sum(len(n.alerts) for n in suppressed)
    groups = [", ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items())) for n in suppressed]
    listed = "; ".join(g or "all alerts" for g in groups[:LISTED_GROUPS])
    more = f"; and {len(groups) - LISTED_GROUPS} more" if len(groups) > LISTED_GROUPS else ""
    return f"{len(suppressed)} alert groups ({alerts} alerts) suppressed by the rate cap: {listed}{more}"


def summary_counts(suppressed: Sequence[Notification]) -> Mapping[str, int]:
    firing = sum(1 for n in suppressed for a in n.alerts if a.state != "resolved")
    total = sum(len(n.alerts) for n in suppressed)
    return {"groups": len(suppressed), "alerts": total, "firing": firing, "resolved": total - firing}
