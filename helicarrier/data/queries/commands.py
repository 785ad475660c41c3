"""Commands to agents, as stored: the questions and writes ``ControlService`` composes in one transaction.
Which transition happens, and what follows from it, is the service's decision (``helicarrier.control``).

Writes that move a command or an agent's control state are guarded on the state they were decided from, so
two racing requests cannot both apply a change: the second finds the state moved on and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from helicarrier.data.bulk import rows_for_keys
from helicarrier.data.models import Agent, Command, Session
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.queries.rollups import apply_session_changes, ended_sessions
from helicarrier.data.unit import TxBase

COMMAND_FIELDS = (
    "id", "agent_id", "session_id", "kind", "payload", "state", "strength", "verification", "reason",
    "issued_by", "result_message", "created_at", "expires_at", "updated_at", "delivered_at", "answered_at",
    "finished_at",
)  # fmt: skip


def _to_hand_over(delivered_before: datetime | None):
    """Pending commands, and with ``delivered_before`` the delivered ones handed over before it and still
    unanswered (a delivered command moves on when its agent answers)."""
    pending = Command.state == "pending"
    if delivered_before is None:
        return pending
    return or_(pending, and_(Command.state == "delivered", Command.delivered_at < delivered_before))


class DuplicateKey(Exception):
    """A concurrent request with the same Idempotency-Key inserted its command first."""


def command_dict(row) -> dict[str, Any]:
    d = row._mapping if hasattr(row, "_mapping") else row
    return {k: d[k] for k in COMMAND_FIELDS}


class CommandTx(TxBase):
    # -- questions ---------------------------------------------------------------------------------

    def command(self, command_id: str) -> Row | None:
        return self.conn.execute(select(Command).where(Command.id == command_id)).one_or_none()

    def command_by_key(self, issued_by: str, key: str) -> Row | None:
        stmt = select(Command).where(Command.issued_by == issued_by, Command.idempotency_key == key)
        return self.conn.execute(stmt).one_or_none()

    def agent(self, agent_id: str) -> Row | None:
        return self.conn.execute(select(Agent).where(Agent.id == agent_id)).one_or_none()

    def last_pause_or_resume(self, agent_id: str, issued_by: datetime) -> tuple[str, str] | None:
        """(kind, state) of the agent's latest pause or resume command issued at or before ``issued_by``."""
        stmt = (
            select(Command.kind, Command.state)
            .where(
                Command.agent_id == agent_id,
                Command.kind.in_(("pause", "resume")),
                Command.created_at <= issued_by,
            )
            .order_by(Command.created_at.desc())
            .limit(1)
        )
        row = self.conn.execute(stmt).one_or_none()
        return None if row is None else (row.kind, row.state)

    def agents_in_control_state(self, agent_ids: Iterable[str], state: str) -> list[str]:
        stmt = select(Agent.id).where(Agent.id.in_(list(agent_ids)), Agent.control_state == state)
        return list(self.conn.execute(stmt).scalars())

    def pending_commands(
        self, agent_id: str, limit: int, delivered_before: datetime | None = None
    ) -> list[Row]:
        """The agent's commands to hand over, oldest first: pending ones, and with ``delivered_before`` the
        delivered ones still unanswered that were handed over before it."""
        stmt = (
            select(Command)
            .where(Command.agent_id == agent_id, _to_hand_over(delivered_before))
            .order_by(Command.created_at)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).all())

    def agent_commands_in(self, agent_id: str, kinds: Iterable[str], states: Iterable[str]) -> list[Row]:
        """The agent's commands of some kinds in some states, oldest first (a hook's look at what waits)."""
        stmt = (
            select(Command)
            .where(
                Command.agent_id == agent_id, Command.kind.in_(list(kinds)), Command.state.in_(list(states))
            )
            .order_by(Command.created_at)
            .limit(50)
        )
        return list(self.conn.execute(stmt).all())

    def latest_kill(self, agent_id: str) -> Row | None:
        return self.latest_command(agent_id, "kill")

    def latest_command(self, agent_id: str, kind: str) -> Row | None:
        stmt = select(Command).where(Command.agent_id == agent_id, Command.kind == kind)
        return self.conn.execute(stmt.order_by(Command.created_at.desc()).limit(1)).one_or_none()

    def overdue_pending(self, now: datetime, agent_id: str | None = None) -> list[Row]:
        """Pending commands past their TTL."""
        stmt = select(Command).where(Command.state == "pending", Command.expires_at < now)
        if agent_id is not None:
            stmt = stmt.where(Command.agent_id == agent_id)
        return list(self.conn.execute(stmt).all())

    def kills_awaiting(self, *, answered_before: datetime | None = None, agent_ids=None) -> list[Row]:
        """Confirmed kills still settling: answered before a time, or of some agents. Asked for the agents
        of every ingest request, and nearly always none: whether there is one is asked first, cheaply."""
        if agent_ids is not None and not rows_for_keys(
            self.conn,
            "SELECT 1 FROM commands WHERE agent_id IN ({keys}) AND kind = 'kill' "
            "AND verification = 'awaiting' LIMIT 1",
            sorted(set(agent_ids)),
        ):
            return []
        stmt = select(Command).where(Command.kind == "kill", Command.verification == "awaiting")
        if answered_before is not None:
            stmt = stmt.where(Command.answered_at < answered_before)
        if agent_ids is not None:
            stmt = stmt.where(Command.agent_id.in_(list(agent_ids)))
        return list(self.conn.execute(stmt).all())

    # -- writes --------------------------------------------------------------------------------------

    def insert_command(self, values: dict[str, Any]) -> Row:
        """Raises DuplicateKey when a concurrent twin took the Idempotency-Key: the transaction is then
        spoilt (PostgreSQL) and the caller starts again."""
        try:
            self.conn.execute(insert(Command).values(**values))
        except IntegrityError:
            raise DuplicateKey(values.get("idempotency_key")) from None
        return self.command(values["id"])  # type: ignore[return-value]

    def set_command(self, command_id: str, from_state: str, **values: Any) -> bool:
        """Change a command that is still in ``from_state``; False when it has moved on."""
        stmt = update(Command).where(Command.id == command_id, Command.state == from_state).values(**values)
        return self.conn.execute(stmt).rowcount == 1

    def set_verification(self, command_id: str, verification: str, now: datetime) -> None:
        stmt = update(Command).where(Command.id == command_id, Command.verification == "awaiting")
        self.conn.execute(stmt.values(verification=verification, updated_at=now))

    def set_control_state(self, agent_id: str, from_state: str | None, to_state: str | None, now) -> bool:
        """The agent's control state (NULL is active), if it is still ``from_state``."""
        guard = Agent.control_state.is_(None) if from_state is None else Agent.control_state == from_state
        stmt = update(Agent).where(Agent.id == agent_id, guard)
        return self.conn.execute(stmt.values(control_state=to_state, updated_at=now)).rowcount == 1

    def stop_agent(self, agent_id: str, now: datetime) -> None:
        """A confirmed kill: the agent is idle with no current session."""
        stmt = update(Agent).where(Agent.id == agent_id)
        self.conn.execute(
            stmt.values(status="idle", current_session_id=None, current_task=None, updated_at=now)
        )

    def set_agent_model(self, agent_id: str, model: str | None, now: datetime) -> None:
        self.conn.execute(update(Agent).where(Agent.id == agent_id).values(model=model, updated_at=now))

    def end_session(self, session_id: str, status: str, error: str, now: datetime) -> None:
        """End a running session here (not through a session.end), counted in the session rollups now."""
        before = ended_sessions(self.conn, [session_id])
        self.conn.execute(
            update(Session)
            .where(Session.id == session_id, Session.status == "running")
            .values(status=status, ended_at=now, error=error, updated_at=now)
        )
        apply_session_changes(self.conn, before, ended_sessions(self.conn, [session_id]))


class CommandQueries(QueryBase):
    def has_pending_commands(self, agent_id: str, delivered_before: datetime | None = None) -> bool:
        """The common case of a poll: nothing waits, and no write transaction is needed to say so (what
        waits: as ``pending_commands``)."""
        waiting = _to_hand_over(delivered_before)
        stmt = select(Command.id).where(Command.agent_id == agent_id, waiting).limit(1)
        with self._read() as conn:
            return conn.execute(stmt).first() is not None

    def get_command(self, command_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(Command).where(Command.id == command_id)).one_or_none()
        return None if row is None else command_dict(row)

    def commands_list(
        self, *, agent_id: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        stmt = select(Command).order_by(Command.created_at.desc()).limit(limit)
        if agent_id:
            stmt = stmt.where(Command.agent_id == agent_id)
        if kind:
            stmt = stmt.where(Command.kind == kind)
        with self._read() as conn:
            return [command_dict(r) for r in conn.execute(stmt).all()]
