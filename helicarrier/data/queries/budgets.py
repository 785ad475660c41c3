"""Budgets: their rows, the agents their locks paused, and the spend of a scope over a stretch of time from
the usage rollups (never the raw events: the evaluation runs every ~30 s). The decisions are
helicarrier.budgets.service's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from helicarrier.data.models import (
    Agent,
    Budget,
    BudgetPause,
    UsageAgentRollup,
    UsageModelRollup,
    UsageQuarterRollup,
    UsageRollup,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.unit import TxBase

HOUR_S = 3600
QUARTER_S = 900


def budget_dict(row) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in Budget.__table__.columns}


class BudgetTx(TxBase):
    def budget(self, budget_id: int):
        return self.conn.execute(select(Budget).where(Budget.id == budget_id)).one_or_none()

    def set_budget(self, budget_id: int, **values: Any) -> None:
        self.conn.execute(update(Budget).where(Budget.id == budget_id).values(**values))

    def add_budget_pause(self, budget_id: int, agent_id: str, now: datetime) -> None:
        """Remember that this budget paused the agent (once: it may pause it again after an operator's
        resume while the lock holds)."""
        held = select(BudgetPause.agent_id).where(
            BudgetPause.budget_id == budget_id, BudgetPause.agent_id == agent_id
        )
        if self.conn.execute(held).first() is None:
            self.conn.execute(
                insert(BudgetPause).values(budget_id=budget_id, agent_id=agent_id, paused_at=now)
            )

    def take_budget_pauses(self, budget_id: int) -> list[str]:
        """The agents this budget paused, forgotten as they are returned (their resume is the caller's)."""
        ids = list(
            self.conn.execute(
                select(BudgetPause.agent_id).where(BudgetPause.budget_id == budget_id)
            ).scalars()
        )
        self.conn.execute(delete(BudgetPause).where(BudgetPause.budget_id == budget_id))
        return ids

    def agents_paused_by_budgets(self, agent_ids: Iterable[str]) -> set[str]:
        stmt = select(BudgetPause.agent_id).where(BudgetPause.agent_id.in_(list(agent_ids)))
        return set(self.conn.execute(stmt).scalars())


class BudgetQueries(QueryBase):
    def budgets(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [budget_dict(r) for r in conn.execute(select(Budget).order_by(Budget.id)).all()]

    def get_budget(self, budget_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(Budget).where(Budget.id == budget_id)).one_or_none()
        return row and budget_dict(row)

    def budget_named(self, name: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(Budget).where(Budget.name == name)).one_or_none()
        return row and budget_dict(row)

    def locked_budgets(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(Budget).where(Budget.state == "locked").order_by(Budget.id)).all()
        return [budget_dict(r) for r in rows]

    def insert_budget(self, values: dict[str, Any]) -> dict[str, Any]:
        with self._write() as conn:
            budget_id = conn.execute(insert(Budget).values(**values)).inserted_primary_key[0]
            return budget_dict(conn.execute(select(Budget).where(Budget.id == budget_id)).one())

    def delete_budget(self, budget_id: int) -> bool:
        with self._write() as conn:
            conn.execute(delete(BudgetPause).where(BudgetPause.budget_id == budget_id))
            return conn.execute(delete(Budget).where(Budget.id == budget_id)).rowcount == 1

    def budget_agents(self) -> list[dict[str, Any]]:
        """Every agent with what a budget's scope matches on and what a lock acts on."""
        cols = (
            Agent.id,
            Agent.model,
            Agent.labels,
            Agent.status,
            Agent.control_state,
            Agent.last_heartbeat_at,
        )
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(*cols)).all()]

    def scope_spend(
        self, agent_ids: list[str] | None, model: str | None, start: datetime, end: datetime
    ) -> int:
        """Nano-dollars spent by these agents (None: all) on this model (None: any) from ``start`` to ``end``
        (the rollup bucket holding ``end`` counts whole: it holds nothing later than now). Whole hours from
        the hourly rollups; the part of an hour before the first whole one (a zone whose midnight is not on
        a UTC hour) from the quarter-hour rollups, so a local day is exact in every zone."""
        t0, t1 = int(start.timestamp()), int(end.timestamp())
        first_hour = -(-t0 // HOUR_S)
        total = self._hours_spend(agent_ids, model, first_hour, t1 // HOUR_S)
        if t0 < first_hour * HOUR_S:
            total += self.quarter_spend(agent_ids, model, t0 // QUARTER_S, first_hour * 4 - 1)
        return total

    def quarter_spend(self, agent_ids: list[str] | None, model: str | None, q0: int, q1: int) -> int:
        """Nano-dollars in the quarter hours q0..q1 (inclusive)."""
        t = UsageQuarterRollup
        stmt = select(func.coalesce(func.sum(t.cost_nanos), 0)).where(t.quarter >= q0, t.quarter <= q1)
        if agent_ids is not None:
            stmt = stmt.where(t.agent_id.in_(agent_ids))
        if model is not None:
            stmt = stmt.where(t.model == model)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def _hours_spend(self, agent_ids: list[str] | None, model: str | None, h0: int, h1: int) -> int:
        if h1 < h0 or agent_ids == []:
            return 0
        if agent_ids is None:
            t = UsageModelRollup  # ~agents times fewer rows for the fleet and a model
            stmt = select(func.coalesce(func.sum(t.cost_nanos), 0)).where(t.hour >= h0, t.hour <= h1)
            if model is not None:
                stmt = stmt.where(t.model == model)
        else:
            t = UsageAgentRollup
            stmt = select(func.coalesce(func.sum(t.cost_nanos), 0)).where(
                t.hour >= h0, t.hour <= h1, t.agent_id.in_(agent_ids)
            )
            if model is not None:  # an agent's spend on one model: the per-agent-and-model rollup
                t = UsageRollup
                stmt = select(func.coalesce(func.sum(t.cost_nanos), 0)).where(
                    t.hour >= h0, t.hour <= h1, t.agent_id.in_(agent_ids), t.model == model
                )
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())
