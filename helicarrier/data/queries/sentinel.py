"""What the stuck-loop sentinel reads (agents to watch, their recent logs and usage, runtime histograms) and
writes (findings, exemptions). Which agent is stuck, and what to do about it, is
``helicarrier.sentinel``'s decision, not this module's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from helicarrier.data.models import (
    Agent,
    LogEvent,
    SentinelExemption,
    SentinelFinding,
    Session,
    SessionRuntimeRollup,
    UsageEvent,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.rollups import BAND, RUNTIME_COLUMNS, day_of
from helicarrier.data.unit import TxBase

# Reported statuses of an agent that may be stuck: it says it works (or waits, or is stalled).
WATCHED_STATUSES = ("running", "waiting", "stalled")
MAX_LINES = 2000  # log lines read per agent and window: a loop shows long before this many

FINDING_FIELDS = (
    "id", "agent_id", "session_id", "detector", "state", "step", "policy", "summary", "evidence", "actions",
    "first_seen_at", "last_seen_at", "stepped_at", "acted_at", "resolved_at",
)  # fmt: skip


def finding_dict(row) -> dict[str, Any]:
    d = row._mapping if hasattr(row, "_mapping") else row
    return {k: d[k] for k in FINDING_FIELDS}


class SentinelTx(TxBase):
    def open_findings(self, agent_ids: Iterable[str] | None = None) -> list[Row]:
        stmt = select(SentinelFinding).where(SentinelFinding.state == "open")
        if agent_ids is not None:
            stmt = stmt.where(SentinelFinding.agent_id.in_(list(agent_ids)))
        return list(self.conn.execute(stmt).all())

    def last_acted(self, agent_id: str, detector: str, other_than: int) -> datetime | None:
        """The last steer or kill for this agent and detector by another finding: the cool-down's start."""
        stmt = select(func.max(SentinelFinding.acted_at)).where(
            SentinelFinding.agent_id == agent_id,
            SentinelFinding.detector == detector,
            SentinelFinding.id != other_than,
        )
        return self.conn.execute(stmt).scalar()

    def is_exempt(self, agent_id: str) -> bool:
        stmt = select(SentinelExemption.agent_id).where(SentinelExemption.agent_id == agent_id)
        return self.conn.execute(stmt).first() is not None

    def insert_finding(self, values: dict[str, Any]) -> Row:
        new_id = self.conn.execute(insert(SentinelFinding).values(**values)).inserted_primary_key[0]
        return self.finding(new_id)  # type: ignore[return-value]

    def finding(self, finding_id: int) -> Row | None:
        stmt = select(SentinelFinding).where(SentinelFinding.id == finding_id)
        return self.conn.execute(stmt).one_or_none()

    def update_finding(self, finding_id: int, from_step: str, **values: Any) -> bool:
        """Change an open finding still at ``from_step``; False when another cycle moved it on."""
        stmt = update(SentinelFinding).where(
            SentinelFinding.id == finding_id,
            SentinelFinding.state == "open",
            SentinelFinding.step == from_step,
        )
        return self.conn.execute(stmt.values(**values)).rowcount == 1

    def resolve_findings(self, finding_ids: list[int], now: datetime) -> None:
        if finding_ids:
            stmt = update(SentinelFinding).where(
                SentinelFinding.id.in_(finding_ids), SentinelFinding.state == "open"
            )
            self.conn.execute(stmt.values(state="resolved", resolved_at=now))

    def put_exemption(self, agent_id: str, reason: str | None, by: str, now: datetime) -> bool:
        """False when the agent was already exempt (its first exemption stays)."""
        if self.is_exempt(agent_id):
            return False
        values = dict(agent_id=agent_id, reason=reason, created_by=by, created_at=now)
        self.conn.execute(insert(SentinelExemption).values(**values))
        return True

    def drop_exemption(self, agent_id: str) -> bool:
        stmt = delete(SentinelExemption).where(SentinelExemption.agent_id == agent_id)
        return self.conn.execute(stmt).rowcount == 1


class SentinelQueries(QueryBase):
    def sentinel_agents(self, seen_since: datetime) -> list[dict[str, Any]]:
        """Agents the sentinel watches: heard from since ``seen_since``, saying they run (or wait, or are
        stalled), not being killed; with their running session and whether an operator exempted them."""
        stmt = (
            select(
                Agent.id,
                Agent.status,
                Agent.labels,
                Agent.current_session_id,
                Agent.last_heartbeat_at,
                Agent.waiting_until,
                Agent.waiting_for,
                Session.started_at.label("session_started_at"),
                Session.task_kind,
                Session.model.label("session_model"),
                SentinelExemption.agent_id.label("exempt"),
            )
            .select_from(Agent)
            .outerjoin(Session, (Session.id == Agent.current_session_id) & (Session.status == "running"))
            .outerjoin(SentinelExemption, SentinelExemption.agent_id == Agent.id)
            .where(
                Agent.last_heartbeat_at >= seen_since,
                # A paused agent stays watched: the ladder's next rung (kill) follows its grace unless an
                # operator resumes or exempts it meanwhile, or the evidence leaves the window.
                Agent.control_state.is_(None) | (Agent.control_state == "paused"),
                Agent.status.in_(WATCHED_STATUSES),
            )
            .order_by(Agent.id)
        )
        with self._read() as conn:
            return [{**r._asdict(), "exempt": r.exempt is not None} for r in conn.execute(stmt)]

    def log_lines(self, agent_id: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The agent's log lines in [since, until), oldest first (at most MAX_LINES, the newest)."""
        stmt = (
            select(LogEvent.ts, LogEvent.message, LogEvent.attrs, LogEvent.session_id)
            .where(LogEvent.agent_id == agent_id, LogEvent.ts >= since, LogEvent.ts < until)
            .order_by(LogEvent.seq.desc())
            .limit(MAX_LINES)
        )
        with self._read() as conn:
            rows = [r._asdict() for r in conn.execute(stmt)]
        rows.reverse()
        return rows

    def usage_between(self, agent_id: str, since: datetime, until: datetime) -> dict[str, Any]:
        """The agent's model calls in [since, until): how many, their tokens, the last one's time."""
        stmt = select(
            func.count(), func.coalesce(func.sum(UsageEvent.total_tokens), 0), func.max(UsageEvent.ts)
        ).where(UsageEvent.agent_id == agent_id, UsageEvent.ts >= since, UsageEvent.ts < until)
        with self._read() as conn:
            calls, tokens, last = conn.execute(stmt).one()
        return {"calls": int(calls), "tokens": int(tokens), "last_at": last}

    def last_usage_at(self, agent_id: str, until: datetime) -> datetime | None:
        stmt = select(func.max(UsageEvent.ts)).where(UsageEvent.agent_id == agent_id, UsageEvent.ts < until)
        with self._read() as conn:
            return conn.execute(stmt).scalar()

    def runtime_histogram(self, task_kind: str, since: datetime) -> dict[int, int]:
        """Ended sessions of a task kind (any model) since a day, as {runtime bin: sessions}."""
        t = SessionRuntimeRollup
        stmt = (
            select(t.band, *(func.sum(getattr(t, c)) for c in RUNTIME_COLUMNS))
            .where(t.task_kind == task_kind, t.day >= day_of(since))
            .group_by(t.band)
        )
        hist: dict[int, int] = {}
        with self._read() as conn:
            for band, *counts in conn.execute(stmt):
                for i, n in enumerate(counts):
                    if n:
                        hist[band * BAND + i] = hist.get(band * BAND + i, 0) + int(n)
        return hist

    def list_findings(
        self,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
        detector: str | None = None,
        state: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        stmt = select(SentinelFinding).order_by(SentinelFinding.id.desc()).limit(limit)
        for col, value in (
            (SentinelFinding.agent_id, agent_id),
            (SentinelFinding.session_id, session_id),
            (SentinelFinding.detector, detector),
            (SentinelFinding.state, state),
        ):
            if value:
                stmt = stmt.where(col == value)
        with self._read() as conn:
            return [finding_dict(r) for r in conn.execute(stmt).all()]

    def open_finding_steps(self) -> dict[str, list[tuple[str, str]]]:
        """{agent id: [(detector, step), ...]} of the open findings: the Hero Grid's sentinel badges."""
        stmt = select(SentinelFinding.agent_id, SentinelFinding.detector, SentinelFinding.step).where(
            SentinelFinding.state == "open"
        )
        out: dict[str, list[tuple[str, str]]] = {}
        with self._read() as conn:
            for agent_id, detector, step in conn.execute(stmt.order_by(SentinelFinding.id)):
                out.setdefault(agent_id, []).append((detector, step))
        return out

    def exemption(self, agent_id: str) -> dict[str, Any] | None:
        stmt = select(SentinelExemption).where(SentinelExemption.agent_id == agent_id)
        with self._read() as conn:
            row = conn.execute(stmt).one_or_none()
        return (
            None
            if row is None
            else {k: getattr(row, k) for k in ("agent_id", "reason", "created_by", "created_at")}
        )

    def list_exemptions(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(SentinelExemption).order_by(SentinelExemption.agent_id)).all()
        return [{k: getattr(r, k) for k in ("agent_id", "reason", "created_by", "created_at")} for r in rows]
