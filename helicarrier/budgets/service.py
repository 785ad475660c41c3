"""Budgets: CRUD for admins, the evaluation the leader runs every ~30 s, and the lock's effects.

The evaluation reads each budget's spend in its current period from the rollups, its burn rate over the last
hour, and when that rate would exhaust it; then moves its state (``budgets.lifecycle``): soft (the soft alert
fires through the alert rule ``BUDGET_RULE``), locked (the scope's running agents are paused, killed or left
to finish, by the budget's policy), and back to ok at the period's reset (the agents the lock paused are
resumed). Every command it issues goes through ``ControlService`` as the actor ``budget``: the same
lifecycle, idempotency and audit as an operator's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from helicarrier.actors import Actor
from helicarrier.budgets import lifecycle as bl
from helicarrier.budgets import periods, scope
from helicarrier.control.lifecycle import IllegalTransition
from helicarrier.control.service import ControlService
from helicarrier.control.validation import MAX_REASON, text
from helicarrier.data.queries.budgets import QUARTER_S
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.money import format_usd, usd_text, usd_to_nanos

log = logging.getLogger("helicarrier.budgets")
BUDGET_ACTOR = Actor("budget", "system")
MAX_PROJECTION_S = 400 * 86400  # a projection past a year says nothing (and past 9999 overflows a datetime)
RATE_WINDOW_QUARTERS = 4  # the burn rate: the last hour's spend (the current quarter hour included)
BUDGET_RULE = {
    "name": "Budget threshold",
    "description": "A budget crossed its soft threshold, is projected to run out before its period ends, "
    "or is locked (built in; see docs/api.md#budgets).",
    "metric": "budget_state",
    "group_by": "budget",
    "comparator": ">",
    "threshold": "0",
    "window_s": 300,
    "severity": "warning",
    "nodata_state": "ok",
}


@dataclass(frozen=True)
class Figures:
    spent: int
    rate_per_h: int
    projected_at: datetime | None


def public(b: dict[str, Any]) -> dict[str, Any]:
    """A budget as the API answers it: money as exact decimal text, never a float."""
    return {
        "id": b["id"],
        "name": b["name"],
        "scope": b["scope"],
        "scope_value": b["scope_value"] or None,
        "period": b["period"],
        "limit_usd": usd_text(b["limit_nanos"]),
        "soft_percent": b["soft_percent"],
        "policy": b["policy"],
        "state": b["state"],
        "period_start": b["period_start"],
        "spent_usd": usd_text(b["spent_nanos"]),
        "burn_rate_usd_per_h": usd_text(b["rate_nanos_per_h"]),
        "projected_exhaustion_at": b["projected_at"],
        "lock_reason": b["lock_reason"],
        "locked_at": b["locked_at"],
        "evaluated_at": b["evaluated_at"],
    }


def lock_view(b: dict[str, Any]) -> dict[str, Any]:
    """What an agent or a refused operator is told of a lock."""
    return {"id": b["id"], "name": b["name"], "scope": b["scope"], "lock_reason": b["lock_reason"]}


class BudgetService:
    def __init__(self, repo: Repository, control: ControlService, tz: str = "UTC"):
        self.repo = repo
        self.control = control
        self.zone = ZoneInfo(tz)

    # -- what agents and operators are told --------------------------------------------------------

    def locks_for(self, agent) -> list[dict[str, Any]]:
        """The locked budgets whose scope holds this agent (a row with id, model, labels)."""
        return [lock_view(b) for b in self.repo.locked_budgets() if scope.holds(b, agent)]

    def locks_for_id(self, agent_id: str) -> list[dict[str, Any]]:
        locked = self.repo.locked_budgets()
        if not locked:
            return []  # the common case: one small query per poll or heartbeat
        agent = next((a for a in self.repo.budget_agents() if a["id"] == agent_id), {"id": agent_id})
        return [lock_view(b) for b in locked if scope.holds(b, agent)]

    # -- admins ------------------------------------------------------------------------------------

    def create(self, actor: Actor, body: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        now = now or utcnow()
        values = _checked(body, partial=False)
        if self.repo.budget_named(values["name"]) is not None:
            raise Refused(409, "name_taken", f"name: a budget named {values['name']!r} exists")
        row = self.repo.insert_budget(
            {
                **values,
                "state": "ok",
                "spent_nanos": 0,
                "rate_nanos_per_h": 0,
                "created_by": actor.name,
                "created_at": now,
                "updated_at": now,
            }
        )
        self.repo.ensure_alert_rule(_budget_rule())
        with self.repo.transaction() as tx:
            tx.audit(
                actor,
                "budget.create",
                "ok",
                target_kind="budget",
                target_id=str(row["id"]),
                details={"limit_usd": usd_text(row["limit_nanos"]), "scope": row["scope"]},
            )
        return public(self.evaluate_one(row["id"], now))

    def update(self, actor: Actor, budget_id: int, body: dict[str, Any], now: datetime | None = None):
        """Change a budget; raising the limit above the spend unlocks it (audited as ``budget.raise``)."""
        now = now or utcnow()
        values = _checked(body, partial=True)
        named = self.repo.budget_named(values["name"]) if "name" in values else None
        if named is not None and named["id"] != budget_id:
            raise Refused(409, "name_taken", f"name: a budget named {values['name']!r} exists")
        with self.repo.transaction() as tx:
            row = _found(tx.budget(budget_id), budget_id)
            tx.set_budget(budget_id, **values, updated_at=now)
            tx.audit(
                actor,
                "budget.update",
                "ok",
                target_kind="budget",
                target_id=str(budget_id),
                reason=body.get("reason") if isinstance(body.get("reason"), str) else None,
                details={k: usd_text(v) if k == "limit_nanos" else v for k, v in values.items()},
            )
        limit = values.get("limit_nanos", row.limit_nanos)
        if row.state in ("locked", "soft") and limit > row.spent_nanos:
            soft_line = limit * values.get("soft_percent", row.soft_percent) // 100
            if row.state == "locked" or row.spent_nanos < soft_line:
                self._unlock(budget_id, "raise", actor, f"limit raised to {format_usd(limit)}", now)
        return public(self.evaluate_one(budget_id, now))

    def override(self, actor: Actor, budget_id: int, reason: Any, now: datetime | None = None):
        """Lift a lock for the rest of the period, with a reason (audited)."""
        now = now or utcnow()
        reason = text(reason, "reason", required=True, limit=MAX_REASON)
        row = _found(self.repo.get_budget(budget_id), budget_id)
        if row["state"] != "locked":
            raise Refused(
                409,
                "not_locked",
                f"budget {row['name']!r} is {row['state']}, not locked",
                {"state": row["state"]},
            )
        self._unlock(budget_id, "override", actor, reason, now)
        return public(self.repo.get_budget(budget_id))

    def delete(self, actor: Actor, budget_id: int, now: datetime | None = None) -> dict[str, Any]:
        now = now or utcnow()
        row = _found(self.repo.get_budget(budget_id), budget_id)
        if row["state"] == "locked":
            self._unlock(budget_id, "raise", actor, "budget deleted", now)
        self.repo.delete_budget(budget_id)
        with self.repo.transaction() as tx:
            tx.audit(actor, "budget.delete", "ok", target_kind="budget", target_id=str(budget_id))
        return {"deleted": budget_id}

    def status(self, budget_id: int) -> dict[str, Any]:
        return public(_found(self.repo.get_budget(budget_id), budget_id))

    def list(self) -> list[dict[str, Any]]:
        return [public(b) for b in self.repo.budgets()]

    # -- the evaluation (the leader's job) ---------------------------------------------------------

    def evaluate(self, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or utcnow()
        agents = self.repo.budget_agents()
        out = []
        for b in self.repo.budgets():
            try:
                out.append(self._evaluate(b, agents, now))
            except Exception:  # noqa: BLE001 - one broken budget must not leave the others unevaluated
                log.exception("budget %s (%s): evaluation failed", b["id"], b["name"])
        return out

    def evaluate_one(self, budget_id: int, now: datetime) -> dict[str, Any]:
        return self._evaluate(self.repo.get_budget(budget_id), self.repo.budget_agents(), now)

    def _evaluate(self, b: dict[str, Any], agents: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
        start, end = periods.bounds(b["period"], self.zone, now)
        if b["period_start"] is not None and b["period_start"] != start and b["state"] != "ok":
            self._unlock(b["id"], "reset", BUDGET_ACTOR, f"the {b['period']} reset", now)
            b = self.repo.get_budget(b["id"])
        fig = self._figures(b, agents, start, now)
        event = _next_event(b, fig, end)
        values: dict[str, Any] = dict(
            period_start=start,
            spent_nanos=fig.spent,
            rate_nanos_per_h=fig.rate_per_h,
            projected_at=fig.projected_at,
            evaluated_at=now,
        )
        with self.repo.transaction() as tx:
            if event is not None:
                values["state"] = bl.transition(b["state"], event)
            if event == "lock":
                values["locked_at"] = now
                values["lock_reason"] = (
                    f"{format_usd(fig.spent)} of {format_usd(b['limit_nanos'])} spent this {b['period']}"
                )
            tx.set_budget(b["id"], **values)
            if event is not None:
                tx.audit(
                    BUDGET_ACTOR,
                    f"budget.{event}",
                    "ok",
                    target_kind="budget",
                    target_id=str(b["id"]),
                    reason=values.get("lock_reason"),
                    details={
                        "spent_usd": usd_text(fig.spent),
                        "limit_usd": usd_text(b["limit_nanos"]),
                        "projected_exhaustion_at": fig.projected_at and fig.projected_at.isoformat(),
                    },
                )
        b = {**b, **values}
        if b["state"] == "locked":
            self._enforce(b, agents, now)  # every evaluation: an agent that started work meanwhile too
        return b

    def _figures(self, b: dict[str, Any], agents, start: datetime, now: datetime) -> Figures:
        ids, model = scope.spend_filter(b, agents)
        spent = self.repo.scope_spend(ids, model, start, now)
        q_now = int(now.timestamp()) // QUARTER_S
        q0 = q_now - RATE_WINDOW_QUARTERS + 1
        recent = 0 if ids == [] else self.repo.quarter_spend(ids, model, q0, q_now)
        elapsed = max(int(now.timestamp()) - q0 * QUARTER_S, 1)
        rate = recent * 3600 // elapsed
        left = b["limit_nanos"] - spent
        projected = None
        if rate > 0 and 0 < left * 3600 // rate <= MAX_PROJECTION_S:
            projected = now + timedelta(seconds=left * 3600 // rate)
        return Figures(spent, rate, projected)

    # -- the lock's effects ------------------------------------------------------------------------

    def _enforce(self, b: dict[str, Any], agents, now: datetime) -> None:
        """The budget's policy on its scope's running agents: pause or kill them (finish: nothing)."""
        if b["policy"] == "finish":
            return
        running = [
            a
            for a in agents
            if a["status"] == "running" and (a["control_state"] or "active") == "active" and scope.holds(b, a)
        ]
        reason = f"budget {b['name']!r} locked: {b['lock_reason']}"
        # Per evaluation: an agent resumed by an operator under the lock is paused again at the next one
        # (only active agents are acted on, so an agent is never paused twice by one lock in a row).
        stamp = int(now.timestamp())
        for a in running:
            key = f"budget-{b['id']}-{stamp}-{b['policy']}-{a['id']}"
            body = {"kind": b["policy"], "reason": reason}
            try:
                self.control.issue(BUDGET_ACTOR, a["id"], body, key)
            except Refused:
                continue  # refused (offline, already stopped) and audited by the control service
            if b["policy"] == "pause":
                with self.repo.transaction() as tx:
                    tx.add_budget_pause(b["id"], a["id"], now)

    def _unlock(self, budget_id: int, event: str, actor: Actor, reason: str, now: datetime) -> None:
        """Move the budget out of its lock (or soft state) and resume the agents its lock paused, unless
        another locked budget still holds them (that one resumes them at its own unlock)."""
        with self.repo.transaction() as tx:
            row = tx.budget(budget_id)
            try:
                state = bl.transition(row.state, event)
            except IllegalTransition as exc:
                raise Refused(409, "illegal_transition", str(exc), {"state": row.state}) from None
            tx.set_budget(
                budget_id,
                state=state,
                updated_at=now,
                **({"lock_reason": None, "locked_at": None} if state != "overridden" else {}),
            )
            paused = tx.take_budget_pauses(budget_id)
            tx.audit(
                actor,
                f"budget.{event}",
                "ok",
                target_kind="budget",
                target_id=str(budget_id),
                reason=reason,
                details={"from": row.state, "to": state, "resumed": paused},
            )
        agents = {a["id"]: a for a in self.repo.budget_agents()}
        for agent_id in paused:
            agent = agents.get(agent_id, {"id": agent_id})
            holding = self.locks_for(agent)
            if holding:
                with self.repo.transaction() as tx:
                    tx.add_budget_pause(holding[0]["id"], agent_id, now)
                continue
            try:
                self.control.issue(
                    BUDGET_ACTOR,
                    agent_id,
                    {"kind": "resume", "reason": f"budget unlocked: {reason}"},
                    f"budget-{budget_id}-{event}-{int(now.timestamp())}-{agent_id}",
                )
            except Refused:
                continue  # resumed or killed by an operator meanwhile (audited as refused)


def _next_event(b: dict[str, Any], fig: Figures, end: datetime) -> str | None:
    state, limit = b["state"], b["limit_nanos"]
    if state in ("ok", "soft") and fig.spent >= limit:
        return "lock"
    soft_line = limit * b["soft_percent"] // 100
    early = fig.projected_at is not None and fig.projected_at < end
    if state == "ok" and (fig.spent >= soft_line or early):
        return "soft"
    return None


def _budget_rule():
    from helicarrier.alerts.rules import validate_rule

    return validate_rule(BUDGET_RULE)


def _found(row, budget_id: int):
    if row is None:
        raise Refused(404, "unknown_budget", f"no budget {budget_id}")
    return row


def _money(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Refused.invalid(field, 'a decimal amount in USD as text, e.g. "25.00" (never a float)')
    try:
        usd = Decimal(str(value))
    except InvalidOperation:
        raise Refused.invalid(field, f"{value!r} is not a decimal amount") from None
    if not usd.is_finite() or usd <= 0 or usd > Decimal(10) ** 9:
        raise Refused.invalid(field, "more than 0 and at most 1000000000")
    return usd_to_nanos(usd)


def _choice(body, field: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.get(field, default)
    if value not in allowed:
        raise Refused.invalid(field, f"one of {', '.join(allowed)}")
    return value


def _checked(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    """The budget's columns from an admin's body (422 naming the field); ``partial``: only those given."""
    out: dict[str, Any] = {}
    if not partial or "name" in body:
        out["name"] = text(body.get("name"), "name", required=True, limit=200)
    if not partial or "scope" in body or "scope_value" in body:
        out["scope"] = _choice(body, "scope", bl.SCOPES, None if not partial else "fleet")
        value = body.get("scope_value")
        if out["scope"] == "fleet":
            out["scope_value"] = ""
        else:
            out["scope_value"] = text(value, "scope_value", required=True, limit=321)
            if out["scope"] == "label" and "=" not in out["scope_value"]:
                raise Refused.invalid("scope_value", "a label budget names key=value")
    if not partial or "period" in body:
        out["period"] = _choice(body, "period", bl.PERIODS, "day")
    if not partial or "limit_usd" in body:
        out["limit_nanos"] = _money(body.get("limit_usd"), "limit_usd")
    if not partial or "soft_percent" in body:
        soft = body.get("soft_percent", 80)
        if isinstance(soft, bool) or not isinstance(soft, int) or not 1 <= soft <= 100:
            raise Refused.invalid("soft_percent", "a whole number from 1 to 100")
        out["soft_percent"] = soft
    if not partial or "policy" in body:
        out["policy"] = _choice(body, "policy", bl.POLICIES, "pause")
    return out
