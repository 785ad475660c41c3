"""The fleet as the HUD shows it: agents and their headline figures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from helicarrier.data.models import Agent, Alert, Session, UsageEvent
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow


class FleetQueries(QueryBase):
    def kpis(self, offline_after_s: int = 60) -> dict[str, int]:
        """Headline numbers for the KPI strip: agents online, sessions running, spend today, active alerts."""
        now = utcnow()
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with self._read() as conn:
            online = conn.execute(
                select(func.count())
                .select_from(Agent)
                .where(Agent.last_heartbeat_at >= now - timedelta(seconds=offline_after_s))
            ).scalar_one()
            running = conn.execute(
                select(func.count()).select_from(Session).where(Session.status == "running")
            ).scalar_one()
            spend = conn.execute(
                select(func.coalesce(func.sum(UsageEvent.cost_nanos), 0)).where(UsageEvent.ts >= day_start)
            ).scalar_one()
            alerts = conn.execute(
                select(func.count()).select_from(Alert).where(Alert.state == "firing")
            ).scalar_one()
        return {
            "agents_online": int(online),
            "sessions_running": int(running),
            "spend_today_nanos": int(spend),
            "alerts_firing": int(alerts),
        }

    def count_agents(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(Agent)).scalar_one()
