"""The alert lifecycle, written once as a table of transitions, and ``evaluate``: a pure function from a
rule, its metric's samples, the time and the stored alerts to the changes to make. No SQL, no clock.

One alert per rule and group, identified by a fingerprint (sha256 of the rule id and the sorted group
labels). States::

    inactive --breach--> pending --hold--> firing --clear--> resolved
        |                   \\--clear--> inactive (never notified)      |
        \\--hold (for = 0)--> firing                                    |--reopen--> firing (same episode)
                                                                       \\--breach/hold--> pending/firing (new)
    any state --nodata--> nodata     any state --error--> error     nodata/error --clear--> resolved

Events, computed per group from the samples:

- ``breach``: the condition holds and ``for`` has not yet elapsed since ``active_since``;
- ``hold``: the condition holds and has held for ``for`` (with ``for`` = 0 at once);
- ``reopen``: the condition holds again within ``reopen_s`` of the alert's resolution: the same episode
  fires again (same start, same peak) instead of a new one;
- ``clear``: the condition does not hold (a group missing from the samples counts as clear);
- ``nodata`` / ``error``: the metric returned nothing, or its evaluation failed. What they do is the
  rule's setting, as in Grafana: ``nodata``/``error`` put the rule-level alert in that state (it notifies
  like a firing one), ``alert`` treats it as a breach, ``keep_last`` changes nothing, ``ok`` clears.

The ``for`` timer is ``active_since``, stored with the alert, so a restart resumes it where it was.

Acknowledgement, silences and inhibition are *not* states: they are overlays computed when notifying or
showing an alert (``acked`` is a flag on a firing alert that pauses its notifications until it resolves or
the receiver's repeat interval passes; ``suppressed`` and ``inhibited`` come from the silences and the
other rules' firing alerts at that moment). An alert keeps being evaluated and keeps its true state under
any of them; ``helicarrier.alerts.overlays`` works them out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

STATES = ("inactive", "pending", "firing", "resolved", "nodata", "error")
OPEN_STATES = frozenset({"pending", "firing", "nodata", "error"})
CLOSED_STATES = frozenset({"inactive", "resolved"})
# States that notify a receiver (pending never does).
NOTIFYING_STATES = frozenset({"firing", "nodata", "error"})
EVENTS = ("breach", "hold", "reopen", "clear", "nodata", "error")

# Rule settings for "the metric has no data" and "the evaluation failed".
NODATA_SETTINGS = ("nodata", "alert", "keep_last", "ok")
ERROR_SETTINGS = ("error", "alert", "keep_last", "ok")
COMPARATORS = (">", ">=", "<", "<=", "==", "!=")

_ANY_OPEN_OR_CLOSED = ("inactive", "pending", "firing", "resolved", "nodata", "error")

TRANSITIONS: dict[tuple[str, str], str] = {
    ("inactive", "breach"): "pending",
    ("inactive", "hold"): "firing",
    ("inactive", "clear"): "inactive",
    ("pending", "breach"): "pending",
    ("pending", "hold"): "firing",
    ("pending", "clear"): "inactive",  # a pending alert that clears goes away without notifying
    ("firing", "breach"): "firing",
    ("firing", "hold"): "firing",
    ("firing", "clear"): "resolved",
    ("resolved", "breach"): "pending",  # a new episode
    ("resolved", "hold"): "firing",
    ("resolved", "reopen"): "firing",  # the same episode, within the reopen interval
    ("resolved", "clear"): "resolved",
    ("nodata", "breach"): "pending",
    ("nodata", "hold"): "firing",
    ("nodata", "clear"): "resolved",
    ("error", "breach"): "pending",
    ("error", "hold"): "firing",
    ("error", "clear"): "resolved",
    **{(s, "nodata"): "nodata" for s in _ANY_OPEN_OR_CLOSED},
    **{(s, "error"): "error" for s in _ANY_OPEN_OR_CLOSED},
}


class IllegalTransition(ValueError):
    def __init__(self, state: str, event: str):
        super().__init__(f"an alert in state {state} cannot take event {event}")
        self.state = state
        self.event = event


def transition(state: str, event: str) -> str:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


# -- values ----------------------------------------------------------------------------------------


def fingerprint(rule_id: int, group_labels: Mapping[str, str]) -> str:
    """sha256 of the rule id and the sorted group labels: the alert's identity, and the dedup key.
    Every part is length-prefixed, so no label text can make two label sets hash alike."""
    parts = [f"{int(rule_id)}"]
    for k, v in sorted((str(k), str(v)) for k, v in group_labels.items()):
        parts.append(f"{len(k)}:{k}{len(v)}:{v}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A group's labels as a hashable key (cheaper than its fingerprint, for matching samples to alerts)."""
    if len(labels) <= 1:  # nearly always: {} or {"agent": ...}
        return tuple(labels.items())
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def compare(value: Decimal, comparator: str, threshold: Decimal) -> bool:
    if comparator == ">":
        return value > threshold
    if comparator == ">=":
        return value >= threshold
    if comparator == "<":
        return value < threshold
    if comparator == "<=":
        return value <= threshold
    if comparator == "==":
        return value == threshold
    if comparator == "!=":
        return value != threshold
    raise ValueError(f"unknown comparator {comparator!r}")


def worse(a: Decimal | None, b: Decimal | None, comparator: str) -> Decimal | None:
    """The peak: the value furthest on the alerting side (the lowest for ``<``/``<=`` rules)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b) if comparator in ("<", "<=") else max(a, b)


@dataclass(frozen=True)
class RuleSpec:
    """What the evaluator needs of a rule (money thresholds as Decimal, never float)."""

    id: int
    comparator: str
    threshold: Decimal
    for_s: int = 0
    nodata_state: str = "nodata"
    error_state: str = "error"
    reopen_s: int = 300
    # Metrics that count bad things (kills unconfirmed, sessions over a limit) return nothing when all is
    # well: for them, no samples means "clear", not "no data".
    empty_is_ok: bool = False


NO_LABELS: Mapping[str, str] = MappingProxyType({})


class Sample(NamedTuple):
    """One group's value (a tuple: metrics build thousands of them per cycle)."""

    labels: Mapping[str, str]  # the group labels: {} for the whole fleet, {"agent": "atlas-01"}, ...
    value: Decimal
    # Labels that describe the group without identifying it (an agent's provider and model), for
    # inhibition and silences; never part of the fingerprint.
    context: Mapping[str, str] | None = None


@dataclass(frozen=True)
class EvalFailure:
    """The metric could not be computed; ``message`` is shown on the rule and the error alert."""

    message: str


@dataclass(frozen=True)
class AlertState:
    """One stored alert, as the evaluator reads it."""

    fingerprint: str
    state: str
    labels: Mapping[str, str]
    value: Decimal | None = None
    peak: Decimal | None = None
    active_since: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    episode: int = 1
    acked_at: datetime | None = None
    context: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Outcome:
    """The evaluation's verdict for one alert: the state before and after, and the values to store."""

    fingerprint: str
    labels: Mapping[str, str]
    before: str
    after: str
    event: str | None  # None: no event this cycle (keep_last)
    value: Decimal | None
    peak: Decimal | None
    active_since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    episode: int
    context: Mapping[str, str] = field(default_factory=dict)
    new_episode: bool = False
    clear_ack: bool = False
    message: str | None = None  # the error, for error alerts

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def touched(self) -> bool:
        """Worth writing: a state change, or an open alert whose last-seen and value move on."""
        return self.changed or self.after in OPEN_STATES

    def as_state(self, acked_at: datetime | None = None) -> AlertState:
        """The alert as stored after this outcome (what the next evaluation reads back)."""
        return AlertState(
            fingerprint=self.fingerprint,
            state=self.after,
            labels=self.labels,
            value=self.value,
            peak=self.peak,
            active_since=self.active_since,
            fired_at=self.fired_at,
            resolved_at=self.resolved_at,
            episode=self.episode,
            acked_at=None if self.clear_ack else acked_at,
            context=self.context,
        )


# -- evaluation ------------------------------------------------------------------------------------


def _event(rule: RuleSpec, prev: AlertState, holds: bool, now: datetime) -> str:
    if not holds:
        return "clear"
    reopening = prev.state == "resolved" and prev.resolved_at is not None
    if reopening and (now - prev.resolved_at).total_seconds() <= rule.reopen_s:  # type: ignore[operator]
        return "reopen"
    since = prev.active_since if prev.state in ("pending", "firing") and prev.active_since else now
    return "hold" if (now - since).total_seconds() >= rule.for_s else "breach"


def step(
    rule: RuleSpec,
    prev: AlertState,
    event: str,
    value: Decimal | None,
    now: datetime,
    context: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Outcome:
    """Apply one event to one alert: the table says the next state; this fills in the timestamps."""
    after = transition(prev.state, event)
    before = prev.state
    episode, active_since, fired_at = prev.episode, prev.active_since, prev.fired_at
    resolved_at, peak = prev.resolved_at, prev.peak
    starts_episode = before in CLOSED_STATES and after in OPEN_STATES and event != "reopen"
    if starts_episode:
        episode, active_since, fired_at, resolved_at, peak = prev.episode + 1, now, None, None, None
    elif before in ("nodata", "error") and after in ("pending", "firing"):
        active_since = now  # data is back: the for timer starts again
    if after in NOTIFYING_STATES and before != after and event != "reopen":
        fired_at = now  # since when it notifies (a reopened alert keeps its first firing time)
    if event == "reopen":
        resolved_at = None
    elif after == "resolved" and before != "resolved":
        resolved_at = now
    if after == "inactive":
        active_since = None
    if event in ("breach", "hold", "reopen"):
        peak = worse(peak, value, rule.comparator)
    return Outcome(
        fingerprint=prev.fingerprint,
        labels=prev.labels,
        before=before,
        after=after,
        event=event,
        value=value,
        peak=peak,
        active_since=active_since,
        fired_at=fired_at,
        resolved_at=resolved_at,
        episode=episode,
        context=context if context is not None else (prev.context or NO_LABELS),
        new_episode=starts_episode,
        clear_ack=prev.acked_at is not None and (after in CLOSED_STATES or starts_episode),
        message=message,
    )


def _blank(rule_id: int, labels: Mapping[str, str]) -> AlertState:
    return AlertState(fingerprint(rule_id, labels), "inactive", dict(labels), episode=0)


def evaluate(
    rule: RuleSpec,
    samples: Sequence[Sample] | EvalFailure,
    now: datetime,
    previous: Mapping[str, AlertState],
) -> list[Outcome]:
    """The outcome for every alert of ``rule`` this cycle.

    ``previous`` holds the rule's stored alerts by fingerprint (at least the open ones, and the resolved
    ones still within their reopen interval); a fingerprint not in it is a new alert. Outcomes for
    closed alerts that stay closed are left out: there is nothing to write.
    """
    out: list[Outcome] = []
    rule_level = fingerprint(rule.id, {})
    if isinstance(samples, EvalFailure) or (not samples and not rule.empty_is_ok):
        kind = "error" if isinstance(samples, EvalFailure) else "nodata"
        setting = rule.error_state if kind == "error" else rule.nodata_state
        message = samples.message if isinstance(samples, EvalFailure) else None
        if setting == "keep_last":
            return []
        for fp, prev in previous.items():
            if fp == rule_level or prev.state not in OPEN_STATES:
                continue
            if setting == "ok":
                out.append(step(rule, prev, "clear", None, now))
        prev = previous.get(rule_level) or _blank(rule.id, {})
        if setting == "ok":
            event = "clear"
        elif setting == "alert":
            event = _event(rule, prev, True, now)
        else:
            event = kind
        outcome = step(rule, prev, event, None, now, message=message)
        if outcome.touched:
            out.append(outcome)
        return out

    if not previous:
        # The common case, a rule with no alert: only the groups whose condition holds need any work.
        samples = [s for s in samples if compare(s.value, rule.comparator, rule.threshold)]
    by_key = {label_key(p.labels): p for p in previous.values()}
    seen: set[tuple] = set()
    for sample in samples:
        key = label_key(sample.labels)
        if key in seen:
            continue  # a metric must not return a group twice; the first one wins
        seen.add(key)
        holds = compare(sample.value, rule.comparator, rule.threshold)
        prev = by_key.get(key)
        if prev is None:
            if not holds:
                continue  # the common case: a quiet group with no alert; nothing to compute or write
            prev = _blank(rule.id, sample.labels)
        outcome = step(rule, prev, _event(rule, prev, holds, now), sample.value, now, sample.context or None)
        if outcome.touched:
            out.append(replace(outcome, labels=dict(sample.labels)))
    for key, prev in by_key.items():
        if key not in seen and prev.state in OPEN_STATES:
            out.append(step(rule, prev, "clear", None, now))  # the group is gone: its condition is false
    return out


def would_fire(rule: RuleSpec, samples: Sequence[Sample]) -> list[Sample]:
    """The groups whose condition holds now (the rule editor's preview, ``for`` aside)."""
    return [s for s in samples if compare(s.value, rule.comparator, rule.threshold)]


def can_ack(state: str) -> bool:
    """Acknowledgement is an overlay, not a state: only an alert that notifies can be acknowledged."""
    return state in NOTIFYING_STATES


def close_all(rule: RuleSpec, alerts: Sequence[AlertState], now: datetime) -> list[Outcome]:
    """A rule disabled, or changed to watch something else: each of its open alerts clears now."""
    return [step(rule, a, "clear", None, now) for a in alerts]
