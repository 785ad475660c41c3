"""Commands to agents: issue, deliver, answer, cancel, expire, verify kills. Every state change goes through
``helicarrier.control.lifecycle.transition``; each runs in one transaction with its audit entry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from helicarrier.control.lifecycle import ACK_EVENTS, TERMINAL, IllegalTransition, transition
from helicarrier.data.models import Agent, AuditEntry, Command, Session
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.queries.rollups import apply_session_changes, ended_sessions
from helicarrier.data.types import utcnow


class CommandRefused(Exception):
    """A request that must change nothing: carries the HTTP-ish status and a machine code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass(frozen=True)
class Actor:
    name: str
    kind: str  # user | token | agent | system
    role: str | None = None
    remote_addr: str | None = None


def command_dict(row) -> dict[str, Any]:
    d = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return {
        k: d[k]
        for k in (
            "id",
            "agent_id",
            "session_id",
            "kind",
            "payload",
            "state",
            "strength",
            "verification",
            "reason",
            "issued_by",
            "result_message",
            "created_at",
            "expires_at",
            "updated_at",
            "delivered_at",
            "answered_at",
            "finished_at",
        )
    }


def _audit(conn: Connection, actor: Actor, action: str, outcome: str, **kw) -> None:
    conn.execute(
        insert(AuditEntry).values(
            ts=utcnow(),
            actor=actor.name,
            actor_kind=actor.kind,
            role=actor.role,
            action=action,
            outcome=outcome,
            remote_addr=actor.remote_addr,
            **kw,
        )
    )


class CommandQueries(QueryBase):
    # -- operators ---------------------------------------------------------------------------------

    def issue_command(
        self,
        *,
        actor: Actor,
        agent_id: str,
        kind: str,
        payload: dict[str, Any],
        reason: str | None,
        strength: str | None,
        ttl_s: int,
        offline_after_s: int,
        idempotency_key: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """Create a command; returns (command, created). A repeated Idempotency-Key returns the first one.

        Refusals (unknown agent, agent killed or offline, key reused for another request) raise
        CommandRefused and store nothing but their audit entry."""
        now = utcnow()
        with self._write() as conn:
            if idempotency_key:
                existing = conn.execute(
                    select(Command).where(
                        Command.issued_by == actor.name, Command.idempotency_key == idempotency_key
                    )
                ).one_or_none()
                if existing is not None:
                    same = (existing.agent_id, existing.kind, existing.payload or {}) == (
                        agent_id,
                        kind,
                        payload,
                    )
                    if not same:
                        raise CommandRefused(
                            409,
                            "idempotency_conflict",
                            "this Idempotency-Key was used for another command",
                            {"command_id": existing.id},
                        )
                    return command_dict(existing), False
            agent = conn.execute(select(Agent).where(Agent.id == agent_id)).one_or_none()
            if agent is None:
                raise CommandRefused(404, "unknown_agent", f"no agent {agent_id!r}")
            if kind == "kill":
                self._check_killable(agent, now, offline_after_s)
            cid = str(uuid.uuid4())
            values = dict(
                id=cid,
                agent_id=agent_id,
                session_id=agent.current_session_id,
                kind=kind,
                payload=payload,
                state="pending",
                strength=strength,
                reason=reason,
                issued_by=actor.name,
                idempotency_key=idempotency_key,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_s),
                updated_at=now,
            )
            try:
                conn.execute(insert(Command).values(**values))
            except IntegrityError:  # a concurrent twin with the same key won the race
                raise CommandRefused(
                    409, "duplicate_request", "the same request is being processed"
                ) from None
            if kind == "kill":
                conn.execute(
                    update(Agent).where(Agent.id == agent_id).values(control_state="killing", updated_at=now)
                )
            _audit(
                conn,
                actor,
                f"command.{kind}",
                "ok",
                target_kind="agent",
                target_id=agent_id,
                reason=reason,
                details={"command_id": cid, "payload": payload, "strength": strength},
            )
            row = conn.execute(select(Command).where(Command.id == cid)).one()
        return command_dict(row), True

    @staticmethod
    def _check_killable(agent, now: datetime, offline_after_s: int) -> None:
        if agent.control_state in ("killing", "killed"):
            raise CommandRefused(
                409,
                "already_killed",
                f"agent {agent.id} is already {agent.control_state}",
                {"control_state": agent.control_state},
            )
        seen = agent.last_heartbeat_at
        if seen is None or (now - seen).total_seconds() > offline_after_s:
            raise CommandRefused(
                409,
                "agent_offline",
                f"agent {agent.id} is offline (no heartbeat for over {offline_after_s} s): "
                "a kill could not be delivered",
                {"last_heartbeat_at": seen and seen.isoformat()},
            )

    def cancel_command(self, command_id: str, actor: Actor) -> dict[str, Any]:
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(select(Command).where(Command.id == command_id)).one_or_none()
            if row is None:
                raise CommandRefused(404, "unknown_command", f"no command {command_id}")
            try:
                state = transition(row.state, "cancel")
            except IllegalTransition as exc:
                raise CommandRefused(409, "illegal_transition", str(exc), {"state": row.state}) from None
            conn.execute(
                update(Command)
                .where(Command.id == command_id)
                .values(state=state, updated_at=now, finished_at=now)
            )
            if row.kind == "kill":
                self._clear_killing(conn, row.agent_id, now)
            _audit(conn, actor, "command.cancel", "ok", target_kind="command", target_id=command_id)
            return command_dict(conn.execute(select(Command).where(Command.id == command_id)).one())

    def record_refusal(
        self, actor: Actor, action: str, target_id: str | None, reason: str, details=None
    ) -> None:
        with self._write() as conn:
            _audit(
                conn,
                actor,
                action,
                "refused",
                target_kind="agent",
                target_id=target_id,
                reason=reason,
                details=details,
            )

    # -- agents ------------------------------------------------------------------------------------

    def deliver_commands(self, agent_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The agent's poll: pending commands become delivered (expired ones expire on the way)."""
        now = utcnow()
        with self._read() as conn:
            waiting = conn.execute(
                select(Command.id).where(Command.agent_id == agent_id, Command.state == "pending").limit(1)
            ).first()
        if waiting is None:  # the common case of a poll: no write transaction at all
            return []
        with self._write() as conn:
            self._expire(conn, now, agent_id)
            rows = conn.execute(
                select(Command)
                .where(Command.agent_id == agent_id, Command.state == "pending")
                .order_by(Command.created_at)
                .limit(limit)
            ).all()
            out = []
            for row in rows:
                state = transition(row.state, "deliver")
                conn.execute(
                    update(Command)
                    .where(Command.id == row.id)
                    .values(state=state, delivered_at=now, updated_at=now)
                )
                out.append({**command_dict(row), "state": state, "delivered_at": now})
            return out

    def ack_command(self, command_id: str, agent_id: str, state: str, message: str | None) -> dict[str, Any]:
        """``POST /api/v1/commands/<cid>/ack``: the same path as a command.ack event."""
        with self._write() as conn:
            row = apply_ack(conn, command_id, agent_id, state, message, utcnow())
            return command_dict(row)

    # -- reading -----------------------------------------------------------------------------------

    def get_command(self, command_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(Command).where(Command.id == command_id)).one_or_none()
        return None if row is None else command_dict(row)

    def commands_list(
        self, *, agent_id: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list:
        stmt = select(Command).order_by(Command.created_at.desc()).limit(limit)
        if agent_id:
            stmt = stmt.where(Command.agent_id == agent_id)
        if kind:
            stmt = stmt.where(Command.kind == kind)
        with self._read() as conn:
            return [command_dict(r) for r in conn.execute(stmt).all()]

    # -- housekeeping (scheduler) ------------------------------------------------------------------

    def expire_commands(self) -> int:
        with self._write() as conn:
            return self._expire(conn, utcnow(), None)

    def _expire(self, conn: Connection, now: datetime, agent_id: str | None) -> int:
        stmt = select(Command.id, Command.kind, Command.agent_id).where(
            Command.state == "pending", Command.expires_at < now
        )
        if agent_id:
            stmt = stmt.where(Command.agent_id == agent_id)
        rows = conn.execute(stmt).all()
        for r in rows:
            conn.execute(
                update(Command)
                .where(Command.id == r.id)
                .values(state=transition("pending", "expire"), updated_at=now, finished_at=now)
            )
            if r.kind == "kill":
                self._clear_killing(conn, r.agent_id, now)
            _audit(
                conn, Actor("system", "system"), "command.expire", "ok", target_kind="command", target_id=r.id
            )
        return len(rows)

    def verify_kills(self, settle_s: int) -> list[str]:
        """Confirmed kills with no usage from the agent for ``settle_s`` seconds become verified."""
        now = utcnow()
        with self._write() as conn:
            rows = conn.execute(
                select(Command.id, Command.agent_id).where(
                    Command.kind == "kill",
                    Command.verification == "awaiting",
                    Command.answered_at < now - timedelta(seconds=settle_s),
                )
            ).all()
            for r in rows:
                conn.execute(
                    update(Command).where(Command.id == r.id).values(verification="verified", updated_at=now)
                )
                _audit(
                    conn,
                    Actor("system", "system"),
                    "command.kill.verified",
                    "ok",
                    target_kind="agent",
                    target_id=r.agent_id,
                    details={"command_id": r.id},
                )
        return [r.id for r in rows]

    @staticmethod
    def _clear_killing(conn: Connection, agent_id: str, now: datetime) -> None:
        conn.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.control_state == "killing")
            .values(control_state=None, updated_at=now)
        )


def apply_ack(
    conn: Connection, command_id: str, agent_id: str, state: str, message: str | None, now: datetime
):
    """An agent's answer to a command, inside the caller's transaction. Raises CommandRefused."""
    row = conn.execute(select(Command).where(Command.id == command_id)).one_or_none()
    if row is None:
        raise CommandRefused(404, "unknown_command", f"no command {command_id}")
    if row.agent_id != agent_id:
        raise CommandRefused(403, "wrong_agent", f"command {command_id} is not for {agent_id}")
    if state not in ACK_EVENTS:
        raise CommandRefused(422, "schema_violation", f"state must be one of {', '.join(ACK_EVENTS)}")
    try:
        new_state = transition(row.state, ACK_EVENTS[state])
    except IllegalTransition as exc:
        raise CommandRefused(409, "illegal_transition", str(exc), {"state": row.state}) from None
    values: dict[str, Any] = {"state": new_state, "updated_at": now, "result_message": message}
    if new_state == "accepted":
        values["answered_at"] = now
    if new_state in TERMINAL:
        values["finished_at"] = now
        values.setdefault("answered_at", now)
    if row.kind == "kill" and new_state == "completed":
        values["verification"] = "awaiting"
        values["answered_at"] = now  # the settle time counts from the confirmation
        _confirm_kill(conn, row, message, now)
    elif row.kind == "kill" and new_state in ("rejected", "failed"):
        CommandQueries._clear_killing(conn, row.agent_id, now)
    elif row.kind == "model" and new_state == "completed":
        conn.execute(
            update(Agent)
            .where(Agent.id == row.agent_id)
            .values(model=(row.payload or {}).get("model"), updated_at=now)
        )
    conn.execute(update(Command).where(Command.id == command_id).values(**values))
    _audit(
        conn,
        Actor(agent_id, "agent"),
        f"command.{ACK_EVENTS[state]}",
        "ok",
        target_kind="command",
        target_id=command_id,
        reason=message,
    )
    return conn.execute(select(Command).where(Command.id == command_id)).one()


def _confirm_kill(conn: Connection, cmd, message: str | None, now: datetime) -> None:
    conn.execute(
        update(Agent)
        .where(Agent.id == cmd.agent_id)
        .values(
            control_state="killed", status="idle", current_session_id=None, current_task=None, updated_at=now
        )
    )
    if cmd.session_id:
        before = ended_sessions(conn, [cmd.session_id])
        conn.execute(
            update(Session)
            .where(Session.id == cmd.session_id, Session.status == "running")
            .values(
                status="killed",
                ended_at=now,
                error=f"killed by {cmd.issued_by}: {cmd.reason or 'no reason'}",
                updated_at=now,
            )
        )
        # The session ends here, not through a session.end: count it in the session rollups now.
        apply_session_changes(conn, before, ended_sessions(conn, [cmd.session_id]))


def flag_ineffective_kills(conn: Connection, usage: list[tuple[str, datetime]], now: datetime) -> list[str]:
    """Usage from an agent after it confirmed a kill (still settling): the kill did not take. Returns ids."""
    if not usage:
        return []
    latest: dict[str, datetime] = {}
    for agent_id, ts in usage:
        latest[agent_id] = max(ts, latest.get(agent_id, ts))
    rows = conn.execute(
        select(Command.id, Command.agent_id, Command.answered_at).where(
            Command.kind == "kill", Command.verification == "awaiting", Command.agent_id.in_(list(latest))
        )
    ).all()
    flagged = []
    for r in rows:
        if latest[r.agent_id] > r.answered_at:
            conn.execute(
                update(Command).where(Command.id == r.id).values(verification="ineffective", updated_at=now)
            )
            _audit(
                conn,
                Actor("system", "system"),
                "command.kill.ineffective",
                "error",
                target_kind="agent",
                target_id=r.agent_id,
                details={"command_id": r.id, "usage_at": latest[r.agent_id].isoformat()},
            )
            flagged.append(r.id)
    return flagged
