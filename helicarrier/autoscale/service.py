"""Keeps the fleet's desired worker count: the scheduler's leader evaluates it every few seconds, records it
(one service flag, read by every instance), audits each change with its reason and signals, and hands the
change to the configured actuator."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from helicarrier.actors import Actor
from helicarrier.autoscale.actuators import Actuator, ActuatorFailed
from helicarrier.autoscale.policy import Bounds, Decision, Signals, decide
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow

log = logging.getLogger("helicarrier.autoscale")
FLAG = "autoscale.decision"
AUTOSCALER = Actor("autoscaler", "system")


class AutoscaleService:
    def __init__(
        self,
        repo: Repository,
        bounds: Bounds,
        offline_after_s: int,
        actuator: Actuator | None = None,
        fleet_locked: Callable[[], bool] = lambda: False,
    ):
        self.repo, self.bounds, self.offline_after_s = repo, bounds, offline_after_s
        self.actuator = actuator
        self.fleet_locked = fleet_locked

    def signals(self, now: datetime) -> Signals:
        load = self.repo.autoscale_load(now - timedelta(seconds=self.offline_after_s))
        return Signals(**load, locked=self.fleet_locked())

    def last(self) -> Decision | None:
        flag = self.repo.flag(FLAG)
        if flag is None or not flag.value:
            return None
        try:
            return Decision.from_json(json.loads(flag.value))
        except (ValueError, KeyError, TypeError):
            log.warning("the stored autoscale decision does not parse; deciding afresh")
            return None

    def current(self, now: datetime | None = None) -> Decision:
        """The decision in force; before the first evaluation, what one would decide now (not kept)."""
        return self.last() or decide(self.signals(now or utcnow()), self.bounds, None, now or utcnow())

    def evaluate(self, now: datetime | None = None) -> Decision:
        now = now or utcnow()
        previous = self.last()
        decision = decide(self.signals(now), self.bounds, previous, now)
        self.repo.set_flag(FLAG, json.dumps(decision.to_json()), by=AUTOSCALER.name)
        if previous is None or decision.desired != previous.desired:
            self._changed(previous, decision)
        return decision

    def _changed(self, previous: Decision | None, decision: Decision) -> None:
        outcome, note = "ok", "no actuator configured"
        if self.actuator is not None:
            try:
                note = self.actuator.apply(decision)
            except ActuatorFailed as exc:
                outcome, note = "error", str(exc)
                log.warning("autoscale actuator failed: %s", exc)
        self.repo.record_audit(
            actor=AUTOSCALER.name,
            actor_kind=AUTOSCALER.kind,
            action="fleet.scale",
            outcome=outcome,
            target_kind="fleet",
            target_id="workers",
            reason=decision.reason,
            details={
                "from": None if previous is None else previous.desired,
                "to": decision.desired,
                "actuator": note,
                "signals": decision.to_json()["signals"],
            },
        )
