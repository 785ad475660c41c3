"""Notification grouping, as Alertmanager does it, with the state kept in the deliveries log (so a restart
neither repeats nor forgets a notification).

Alerts going to one receiver are grouped by the receiver's ``group_by`` labels (default: the rule name),
so 500 agents going offline under one rule are one group and one notification, not 500. For each group:

- a new group (nothing sent yet, or everything sent has resolved) waits ``group_wait`` (30 s) after its
  first alert started firing, to collect the rest of the storm, then notifies;
- an open group notifies again when its content changed (an alert joined, or one it announced resolved),
  at most once per ``group_interval`` (5 min);
- an unchanged group with alerts still firing is repeated every ``repeat_interval`` (4 h).

Pending alerts never notify; acknowledged (until the repeat interval passes), silenced and inhibited
alerts are left out by the caller before planning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_GROUP_BY = ("alertname",)
GROUP_WAIT_S = 30
GROUP_INTERVAL_S = 300
REPEAT_INTERVAL_S = 4 * 3600


@dataclass(frozen=True)
class Timing:
    group_wait_s: int = GROUP_WAIT_S
    group_interval_s: int = GROUP_INTERVAL_S
    repeat_interval_s: int = REPEAT_INTERVAL_S


@dataclass(frozen=True)
class NotifyAlert:
    """An alert as a receiver sees it: ``state`` is firing, nodata, error or resolved."""

    fingerprint: str
    state: str
    labels: Mapping[str, str]  # every label: alertname, severity, rule labels, group and context labels
    fired_at: datetime | None
    resolved_at: datetime | None = None
    extra: Mapping[str, object] = field(default_factory=dict)  # value, peak, rule id... for the payload


@dataclass(frozen=True)
class LastSend:
    """The last notification of a group: when, and which alerts in which state."""

    at: datetime
    alerts: frozenset[tuple[str, str]]  # (fingerprint, state)

    @property
    def open_fingerprints(self) -> frozenset[str]:
        return frozenset(fp for fp, state in self.alerts if state != "resolved")


@dataclass(frozen=True)
class Notification:
    group_key: str
    group_labels: dict[str, str]
    alerts: list[NotifyAlert]
    reason: str  # new | changed | repeat

    @property
    def status(self) -> str:
        return "firing" if any(a.state != "resolved" for a in self.alerts) else "resolved"

    def content(self) -> frozenset[tuple[str, str]]:
        return frozenset((a.fingerprint, a.state) for a in self.alerts)


def group_key(receiver_id: int, group_by: Sequence[str], labels: Mapping[str, str]) -> tuple[str, dict]:
    """(key, group labels): the key is a sha256 of the receiver and the group labels' values."""
    group_labels = {name: str(labels.get(name, "")) for name in sorted(set(group_by))}
    doc = json.dumps([int(receiver_id), sorted(group_labels.items())])
    return hashlib.sha256(doc.encode()).hexdigest(), group_labels


def plan(
    receiver_id: int,
    group_by: Sequence[str],
    timing: Timing,
    firing: Iterable[NotifyAlert],
    resolved: Iterable[NotifyAlert],
    last_sends: Mapping[str, LastSend],
    now: datetime,
) -> list[Notification]:
    """The notifications due now for one receiver.

    ``firing``: the alerts in a notifying state that may be notified (not pending, silenced, inhibited or
    acknowledged). ``resolved``: recently resolved alerts; one is announced only when the group's last
    notification announced it firing. ``last_sends``: each group's last notification by key.
    """
    groups: dict[str, tuple[dict, list[NotifyAlert], list[NotifyAlert]]] = {}
    for alert in firing:
        key, labels = group_key(receiver_id, group_by, alert.labels)
        groups.setdefault(key, (labels, [], []))[1].append(alert)
    for alert in resolved:
        key, labels = group_key(receiver_id, group_by, alert.labels)
        last = last_sends.get(key)
        if last is not None and alert.fingerprint in last.open_fingerprints:
            groups.setdefault(key, (labels, [], []))[2].append(alert)

    out: list[Notification] = []
    for key, (labels, live, gone) in sorted(groups.items()):
        live.sort(key=lambda a: a.fingerprint)
        gone.sort(key=lambda a: a.fingerprint)
        last = last_sends.get(key)
        if last is None or not last.open_fingerprints:
            if not live:
                continue
            first = min((a.fired_at or now) for a in live)
            if now >= first + timedelta(seconds=timing.group_wait_s):
                out.append(Notification(key, labels, live, "new"))
            continue
        current = frozenset((a.fingerprint, a.state) for a in live)
        changed = bool(gone) or not current <= last.alerts
        if changed and (live or gone):
            if now >= last.at + timedelta(seconds=timing.group_interval_s):
                out.append(Notification(key, labels, live + gone, "changed"))
        elif live and now >= last.at + timedelta(seconds=timing.repeat_interval_s):
            out.append(Notification(key, labels, live, "repeat"))
    return out
