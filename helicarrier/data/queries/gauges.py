"""The counts a Prometheus scrape reads (helicarrier.observability.gauges): grouped counts over small tables
and one indexed read, a few milliseconds together, so a scrape every 15 s costs the database nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from helicarrier.data.models import Agent, AlertEvalCycle, Command
from helicarrier.data.queries.base import QueryBase


class GaugeQueries(QueryBase):
    def command_counts(self) -> list[tuple[str, str, int]]:
        """(kind, state, commands) over every command: operators issue them by hand, so the table stays
        small (see docs/performance.md for the figure at 100,000)."""
        stmt = select(Command.kind, Command.state, func.count()).group_by(Command.kind, Command.state)
        with self._read() as conn:
            return [(kind, state, int(n)) for kind, state, n in conn.execute(stmt)]

    def agent_status_counts(self, seen_since: datetime) -> list[tuple[str, str | None, bool, int]]:
        """(reported status, control state, heard from since ``seen_since``, agents)."""
        seen = case((Agent.last_heartbeat_at >= seen_since, True), else_=False).label("seen")
        stmt = select(Agent.status, Agent.control_state, seen, func.count()).group_by(
            Agent.status, Agent.control_state, seen
        )
        with self._read() as conn:
            return [(status, control, bool(s), int(n)) for status, control, s, n in conn.execute(stmt)]

    def autoscale_load(self, seen_since: datetime) -> dict[str, int]:
        """The auto-scaler's signals: open injected tasks (and the most on one agent), and the agents heard
        from since ``seen_since`` (all, and those running). Small tables only (commands, agents)."""
        open_states = ("pending", "delivered", "accepted")
        per_agent = (
            select(func.count().label("n"))
            .where(Command.kind == "inject", Command.state.in_(open_states))
            .group_by(Command.agent_id)
            .subquery()
        )
        seen = Agent.last_heartbeat_at >= seen_since
        running = case((seen & (Agent.status == "running") & Agent.control_state.is_(None), 1), else_=0)
        with self._read() as conn:
            tasks, busiest = conn.execute(
                select(func.coalesce(func.sum(per_agent.c.n), 0), func.max(per_agent.c.n))
            ).one()
            online, busy = conn.execute(
                select(func.count().filter(seen), func.coalesce(func.sum(running), 0))
            ).one()
        return {
            "open_tasks": int(tasks or 0),
            "busiest_agent_tasks": int(busiest or 0),
            "online_agents": int(online or 0),
            "running_agents": int(busy or 0),
        }

    def last_alert_cycle_at(self) -> datetime | None:
        """When the latest alert evaluation cycle started (the newest row by its indexed start)."""
        with self._read() as conn:
            return conn.execute(select(func.max(AlertEvalCycle.started_at))).scalar()
