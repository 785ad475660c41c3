"""The fleet as the HUD shows it: agents and their headline figures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from helicarrier.data.models import Agent, Alert, ApiToken, Command, LogEvent, Session, UsageEvent
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow

LEVELS = ["debug", "info", "warning", "error", "critical"]


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

    # -- Hero Grid ---------------------------------------------------------------------------------

    def agents_snapshot(self) -> list[dict]:
        """Every agent with its running session's figures: one query, at 500 agents a few ms."""
        stmt = (
            select(
                Agent.id,
                Agent.name,
                Agent.status,
                Agent.control_state,
                Agent.model,
                Agent.provider,
                Agent.current_task,
                Agent.current_session_id,
                Agent.labels,
                Agent.last_heartbeat_at,
                Session.started_at.label("session_started_at"),
                Session.input_tokens,
                Session.output_tokens,
                Session.cost_nanos,
                Session.unpriced_events,
                Session.status.label("session_status"),
                ApiToken.name.label("owner"),
            )
            .select_from(Agent)
            .outerjoin(Session, Session.id == Agent.current_session_id)
            .outerjoin(ApiToken, ApiToken.id == Agent.owner_token_id)
            .order_by(Agent.name)
        )
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt)]

    def agent_detail(self, agent_id: str, log_limit: int = 50) -> dict | None:
        with self._read() as conn:
            agent = conn.execute(select(Agent).where(Agent.id == agent_id)).one_or_none()
            if agent is None:
                return None
            session = None
            if agent.current_session_id:
                session = conn.execute(
                    select(Session).where(Session.id == agent.current_session_id)
                ).one_or_none()
            logs = conn.execute(
                select(LogEvent.seq, LogEvent.ts, LogEvent.level, LogEvent.message)
                .where(LogEvent.agent_id == agent_id)
                .order_by(LogEvent.seq.desc())
                .limit(log_limit)
            ).all()
            commands = conn.execute(
                select(
                    Command.id,
                    Command.kind,
                    Command.state,
                    Command.created_at,
                    Command.issued_by,
                    Command.result_message,
                )
                .where(Command.agent_id == agent_id)
                .order_by(Command.created_at.desc())
                .limit(20)
            ).all()
            owner = (
                conn.execute(select(ApiToken.name).where(ApiToken.id == agent.owner_token_id)).scalar()
                if agent.owner_token_id
                else None
            )
        return {
            "agent": {**agent._asdict(), "owner": owner},
            "session": session._asdict() if session else None,
            "logs": [r._asdict() for r in logs],
            "commands": [r._asdict() for r in commands],
        }

    # -- System Pulse ------------------------------------------------------------------------------

    def logs_after(
        self,
        after_seq: int | None,
        *,
        limit: int = 200,
        agent_id: str | None = None,
        min_level: str | None = None,
        text: str | None = None,
    ) -> list[dict]:
        """Log lines after ``after_seq`` in sequence order; with ``after_seq`` None, the newest ``limit``.

        The live tail asks only for what came after the last sequence number it holds, so each poll reads
        a handful of rows by primary key, never the whole log again.
        """
        stmt = select(
            LogEvent.seq,
            LogEvent.ts,
            LogEvent.agent_id,
            LogEvent.session_id,
            LogEvent.level,
            LogEvent.message,
            LogEvent.received_at,  # the Pulse's freshness SLI: how long a line waited to be shown
        )
        if agent_id:
            stmt = stmt.where(LogEvent.agent_id == agent_id)
        if min_level and min_level in LEVELS:
            stmt = stmt.where(LogEvent.level.in_(LEVELS[LEVELS.index(min_level) :]))
        if text:
            # The user's text is a bound parameter; LIKE wildcards in it are escaped so they match literally.
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(LogEvent.message.ilike(f"%{escaped}%", escape="\\"))
        if after_seq is None:
            stmt = stmt.order_by(LogEvent.seq.desc()).limit(limit)
            with self._read() as conn:
                rows = conn.execute(stmt).all()
            rows.reverse()
        else:
            stmt = stmt.where(LogEvent.seq > after_seq).order_by(LogEvent.seq).limit(limit)
            with self._read() as conn:
                rows = conn.execute(stmt).all()
        return [r._asdict() for r in rows]

    def agent_names(self, agent_ids: list[str]) -> dict[str, str]:
        """The name of each of these agents that exists."""
        ids = sorted(set(agent_ids))
        out: dict[str, str] = {}
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                stmt = select(Agent.id, Agent.name).where(Agent.id.in_(ids[i : i + 500]))
                out.update((a, n) for a, n in conn.execute(stmt))
        return out

    def agent_ids(self) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(select(Agent.id).order_by(Agent.id)).scalars())

    def latest_log_seq(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(LogEvent.seq), 0))).scalar_one())
