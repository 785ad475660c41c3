"""What mutes an alert right now, without changing its state: silences and inhibition.

- A silence (label matchers, a start, an end, a creator, a comment) *suppresses* every alert whose labels
  it matches while ``starts_at <= now < ends_at``: the alert is still evaluated and shown, not notified.
  Silences expire by themselves; nothing has to run for that.
- A rule may *inhibit* others while it fires (Alertmanager's inhibition rules): its ``inhibits`` setting
  names target matchers and ``equal`` labels; a firing alert of the rule mutes every other rule's alert
  that matches the targets and has the same values for the ``equal`` labels (for example per-agent
  failure alerts while a provider-wide alert fires for the same provider).

Both are computed where they are needed (notifying, the feed), so they always reflect the silences and
alerts of this moment, and the feed can say what mutes each alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from helicarrier.alerts.matchers import Matcher, matches_all, parse_matchers


@dataclass(frozen=True)
class SilenceView:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""
    comment: str = ""

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def status(self, now: datetime) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"


@dataclass(frozen=True)
class InhibitRule:
    rule_id: int
    rule_name: str
    targets: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    @classmethod
    def from_setting(cls, rule_id: int, rule_name: str, setting: Mapping | None) -> InhibitRule | None:
        if not setting:
            return None
        return cls(
            rule_id,
            rule_name,
            tuple(parse_matchers(setting.get("matchers"))),
            tuple(str(x) for x in setting.get("equal") or ()),
        )


@dataclass(frozen=True)
class AlertView:
    fingerprint: str
    rule_id: int
    state: str
    labels: Mapping[str, str]  # every label


@dataclass(frozen=True)
class Overlay:
    silenced_by: tuple[int, ...] = ()
    inhibited_by: tuple[str, ...] = ()  # fingerprints of the inhibiting alerts
    inhibiting_rules: tuple[str, ...] = field(default=())

    @property
    def muted(self) -> bool:
        return bool(self.silenced_by or self.inhibited_by)


def compute(
    alerts: Sequence[AlertView],
    silences: Iterable[SilenceView],
    inhibit_rules: Iterable[InhibitRule],
    now: datetime,
) -> dict[str, Overlay]:
    """The overlay of every alert that is silenced or inhibited (alerts absent from the result are not)."""
    live = [s for s in silences if s.active(now)]
    rules = {r.rule_id: r for r in inhibit_rules}
    # Firing alerts of inhibiting rules, indexed by rule and by the values of its ``equal`` labels.
    sources: dict[int, dict[tuple[str, ...], list[AlertView]]] = {}
    for a in alerts:
        rule = rules.get(a.rule_id)
        if rule is not None and a.state == "firing":
            key = tuple(str(a.labels.get(name, "")) for name in rule.equal)
            sources.setdefault(rule.rule_id, {}).setdefault(key, []).append(a)
    out: dict[str, Overlay] = {}
    for a in alerts:
        silenced = tuple(s.id for s in live if matches_all(s.matchers, a.labels))
        inhibited: list[str] = []
        by_rules: list[str] = []
        for rule_id, by_key in sources.items():
            if rule_id == a.rule_id:
                continue  # a rule never mutes its own alerts
            rule = rules[rule_id]
            if not matches_all(rule.targets, a.labels):
                continue
            key = tuple(str(a.labels.get(name, "")) for name in rule.equal)
            hits = [s.fingerprint for s in by_key.get(key, ()) if s.fingerprint != a.fingerprint]
            if hits:
                inhibited.extend(hits)
                by_rules.append(rule.rule_name)
        if silenced or inhibited:
            out[a.fingerprint] = Overlay(silenced, tuple(inhibited), tuple(by_rules))
    return out
