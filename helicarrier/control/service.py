"""Command & Control, without Flask or Dash: the API's views and the HUD's buttons both call this, so
validation, idempotency, the decisions and the audit trail are the same wherever a command comes from.

Each action runs in one transaction (``repo.transaction()``) with its audit entry; a refused request
changes nothing and leaves an audit entry of the refusal. Every change of a command's state goes through
the command lifecycle, every change of an agent's control state through the agent-control table
(``helicarrier.control.lifecycle``).
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from helicarrier.actors import SYSTEM, Actor
from helicarrier.auth.binding import Speaker
from helicarrier.control import lifecycle as lc
from helicarrier.control.validation import AckAnswer, CommandRequest, check_kill_evidence, check_request
from helicarrier.data.queries.commands import CommandTx, DuplicateKey, command_dict
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet.service import FleetService
from helicarrier.observability.tracing import set_attributes, span
from helicarrier.pricing.registry import PriceBooks
from helicarrier.slo.definitions import COMMAND_DELIVERY
from helicarrier.slo.recorder import minute_of

DELIVER_LIMIT = 20
AGENT_EVENTS = ("kill", "pause", "resume")  # command kinds that are also an agent-control event


def _no_locks(agent) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class ControlLimits:
    ttl_s: int = 300
    # A delivered command not answered within this time is handed over again (the answer to the poll, or the
    # agent holding it, was lost); 0: never (at most once).
    redeliver_s: int = 30
    max_task_bytes: int = 16 * 1024
    offline_after_s: int = 60
    kill_settle_s: int = 30
    delivery_slo_s: int = 10  # a command delivered later than this after it was issued is late (issue 15)


def _transition(before: str, after: str) -> None:
    """The command's move through its lifecycle, on the current span."""
    set_attributes(command__state__before=before, command__state=after)


def _refusal(exc: lc.IllegalTransition, state: str) -> Refused:
    return Refused(409, "illegal_transition", str(exc), {"state": state})


class ControlService:
    def __init__(self, repo: Repository, price_books: PriceBooks, limits: ControlLimits, fleet: FleetService):
        self.repo = repo
        self.price_books = price_books
        self.limits = limits
        self.fleet = fleet
        # The locked budgets whose scope holds an agent (set by the app to BudgetService.locks_for).
        self.budget_locks = _no_locks

    # -- operators ---------------------------------------------------------------------------------

    def issue(
        self, actor: Actor, agent_id: str, body: dict[str, Any], idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Validate and issue one command from a request body with a ``kind``; returns (command, created).
        A repeated Idempotency-Key returns the first command (created False)."""
        action = f"command.{body.get('kind')}"[:64]
        with (
            span("control.issue", command__kind=str(body.get("kind"))[:32], agent__id=agent_id),
            self._refusals_audited(actor, action, "agent", agent_id),
        ):
            request = check_request(body, self.limits.max_task_bytes, self._provider_check(agent_id))
            try:
                return self._issue(actor, agent_id, request, idempotency_key)
            except DuplicateKey:
                # A concurrent twin (a double click) committed the same key first: now it is found.
                return self._issue(actor, agent_id, request, idempotency_key)

    def _issue(self, actor, agent_id, req: CommandRequest, key: str | None) -> tuple[dict[str, Any], bool]:
        now = utcnow()
        with self.repo.transaction() as tx:
            if key:
                existing = tx.command_by_key(actor.name, key)
                if existing is not None:
                    if (existing.agent_id, existing.kind, existing.payload or {}) != (
                        agent_id,
                        req.kind,
                        req.payload,
                    ):
                        raise Refused(
                            409,
                            "idempotency_conflict",
                            "this Idempotency-Key was used for another command",
                            {"command_id": existing.id},
                        )
                    return command_dict(existing), False
            agent = tx.agent(agent_id)
            if agent is None:
                raise Refused(404, "unknown_agent", f"no agent {agent_id!r}")
            self._check_allowed(agent, req, now)
            row = tx.insert_command(self._command_values(agent, req, actor, key, now))
            if req.kind in AGENT_EVENTS:  # kill, pause, resume move the agent's control state at once
                state = lc.agent_transition(agent.control_state, req.kind)
                tx.set_control_state(agent_id, agent.control_state, lc.stored_control_state(state), now)
            set_attributes(command__id=row.id, command__state="pending")
            tx.audit(
                actor,
                f"command.{req.kind}",
                "ok",
                target_kind="agent",
                target_id=agent_id,
                reason=req.reason,
                details={"command_id": row.id, "payload": req.payload, "strength": req.strength},
            )
            return command_dict(row), True

    def _command_values(self, agent, req: CommandRequest, actor: Actor, key, now: datetime) -> dict[str, Any]:
        return dict(
            id=str(uuid.uuid4()),
            agent_id=agent.id,
            session_id=agent.current_session_id,
            kind=req.kind,
            payload=req.payload,
            state="pending",
            strength=req.strength,
            reason=req.reason,
            issued_by=actor.name,
            idempotency_key=key,
            created_at=now,
            expires_at=now + timedelta(seconds=self.limits.ttl_s),
            updated_at=now,
        )

    def _check_allowed(self, agent, req: CommandRequest, now: datetime) -> None:
        """What the agent's control state, liveness and budgets allow: one kill at a time, and only to an
        agent that can hear it; a pause only of an active agent, a resume only of a paused one; no task for
        the current run of an agent that is being or was killed or is paused; no task at all into a scope
        whose budget is locked."""
        state = agent.control_state or "active"
        if req.kind == "kill":
            if state not in ("active", "paused"):
                raise Refused(
                    409, "already_killed", f"agent {agent.id} is already {state}", {"control_state": state}
                )
            self._check_online(agent, now)
        elif req.kind in ("pause", "resume"):
            try:
                lc.agent_transition(agent.control_state, req.kind)
            except lc.IllegalTransition as exc:
                code = "already_paused" if state == "paused" else f"cannot_{req.kind}"
                raise Refused(409, code, str(exc), {"control_state": state}) from None
        elif req.kind == "inject":
            self._check_budgets(agent)
            if state != "active" and req.payload["mode"] != "queue":
                raise Refused(
                    409,
                    "agent_killed" if state != "paused" else "agent_paused",
                    f"agent {agent.id} is {state}: "
                    + ("resume it first" if state == "paused" else "release it first")
                    + ", or queue the task for its next run",
                    {"control_state": state},
                )

    def _check_online(self, agent, now: datetime) -> None:
        seen = agent.last_heartbeat_at
        if seen is None or (now - seen).total_seconds() > self.limits.offline_after_s:
            raise Refused(
                409,
                "agent_offline",
                f"agent {agent.id} is offline (no heartbeat for over {self.limits.offline_after_s} s): "
                "a kill could not be delivered",
                {"last_heartbeat_at": seen and seen.isoformat()},
            )

    def _check_budgets(self, agent) -> None:
        """A locked budget refuses new work in its scope, naming itself (telemetry is still taken)."""
        locks = self.budget_locks(agent)
        if locks:
            first = locks[0]
            raise Refused(
                409,
                "budget_locked",
                f"budget {first['name']!r} is locked ({first['lock_reason']}): "
                f"no new work for agent {agent.id}",
                {"budget": first, "budgets": [b["name"] for b in locks]},
            )

    def _provider_check(self, agent_id: str):
        """For a model switch: the provider (the agent's own when not given) and that the model is priced."""

        def check(model: str, provider: str | None) -> str:
            if provider is None:
                detail = self.repo.agent_detail(agent_id, log_limit=0)
                provider = detail and detail["agent"]["provider"]
            if not provider:
                raise Refused.invalid("provider", "needed (the agent has not reported one)")
            book = self.price_books.active()
            if not book.knows_model(provider, model):
                raise Refused.invalid(
                    "model",
                    f"{provider}/{model} is not in the price table {book.version}",
                    code="unknown_model",
                    pricing_version=book.version,
                )
            return provider

        return check

    def cancel(self, actor: Actor, command_id: str) -> dict[str, Any]:
        """Cancel a command its agent has not fetched yet."""
        now = utcnow()
        with (
            span("control.cancel", command__id=command_id),
            self._refusals_audited(actor, "command.cancel", "command", command_id),
            self.repo.transaction() as tx,
        ):
            row = tx.command(command_id)
            if row is None:
                raise Refused(404, "unknown_command", f"no command {command_id}")
            try:
                state = lc.transition(row.state, "cancel")
            except lc.IllegalTransition as exc:
                raise _refusal(exc, row.state) from None
            tx.set_command(command_id, row.state, state=state, updated_at=now, finished_at=now)
            _transition(row.state, state)
            self._undo(tx, row, now)
            tx.audit(actor, "command.cancel", "ok", target_kind="command", target_id=command_id)
            return command_dict(tx.command(command_id))

    def release(self, actor: Actor, agent_id: str, reason: Any = None) -> str:
        """Let a killed agent work again; returns its control state (active)."""
        now = utcnow()
        with (
            span("control.release", agent__id=agent_id),
            self._refusals_audited(actor, "agent.release", "agent", agent_id),
        ):
            if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
                raise Refused.invalid("reason", "text of at most 2000 characters")
            with self.repo.transaction() as tx:
                agent = tx.agent(agent_id)
                if agent is None:
                    raise Refused(404, "unknown_agent", f"no agent {agent_id!r}")
                try:
                    state = lc.agent_transition(agent.control_state, "release")
                except lc.IllegalTransition as exc:
                    raise Refused(
                        409, "not_killed", str(exc), {"control_state": agent.control_state or "active"}
                    ) from None
                tx.set_control_state(agent_id, agent.control_state, lc.stored_control_state(state), now)
                tx.audit(actor, "agent.release", "ok", target_kind="agent", target_id=agent_id, reason=reason)
                return state

    @contextmanager
    def _refusals_audited(self, actor: Actor, action: str, kind: str, target: str | None):
        """A refused action changes nothing but leaves an audit entry saying who tried what and why not
        (except a refusal for maintenance: nothing at all may be written then)."""
        try:
            yield
        except Refused as refused:
            if refused.code == "maintenance":
                raise
            self.repo.record_audit(
                actor=actor.name,
                actor_kind=actor.kind,
                role=actor.role,
                action=action,
                outcome="refused",
                target_kind=kind,
                target_id=target,
                reason=refused.message,
                details={"code": refused.code},
                remote_addr=actor.remote_addr,
            )
            raise

    # -- agents ------------------------------------------------------------------------------------

    def check_poller(self, speaker: Speaker, agent_id: str, remote_addr: str | None = None) -> None:
        """Only the token that speaks for an agent fetches its commands (an agent nobody knows has none)."""
        exists, _owner, _name = self.repo.agent_owner(agent_id)
        if exists:
            self.fleet.require(speaker, agent_id, "command.poll", remote_addr)

    def deliver(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's poll: its pending commands become delivered (overdue ones expire on the way), and
        delivered ones it has not answered within ``redeliver_s`` are handed over again (at least once: the
        answer to an earlier poll may never have reached it). Agents tell a repeat by its id."""
        now = utcnow()
        unanswered = now - timedelta(seconds=self.limits.redeliver_s) if self.limits.redeliver_s else None
        if not self.repo.has_pending_commands(agent_id, unanswered):
            return []
        with span("control.deliver", agent__id=agent_id), self.repo.transaction() as tx:
            self._expire(tx, tx.overdue_pending(now, agent_id), now)
            out = []
            first = late = 0
            for row in tx.pending_commands(agent_id, DELIVER_LIMIT, unanswered):
                event = "deliver" if row.state == "pending" else "redeliver"
                state = lc.transition(row.state, event)
                if tx.set_command(row.id, row.state, state=state, delivered_at=now, updated_at=now):
                    out.append({**command_dict(row), "state": state, "delivered_at": now})
                    if event == "deliver":  # the SLI times the first hand-over after the command was issued
                        first += 1
                        late += now - row.created_at > timedelta(seconds=self.limits.delivery_slo_s)
            if first:
                # The command delivery SLI, written with the deliveries it counts (a poll is rare enough).
                tx.add_sli_counts({(minute_of(now), COMMAND_DELIVERY): (first, late)})
            return out

    def ack(
        self,
        speaker: Speaker,
        command_id: str,
        agent_id: str,
        answer: AckAnswer,
        remote_addr: str | None = None,
    ) -> dict[str, Any]:
        """``POST /api/v1/commands/<id>/ack``: the same path as a ``command.ack`` event. Only the token that
        speaks for the agent answers for it."""
        self.fleet.require(speaker, agent_id, "command.ack", remote_addr)
        with span("control.ack", command__id=command_id, agent__id=agent_id), self.repo.transaction() as tx:
            return command_dict(self.apply_ack(tx, command_id, agent_id, answer, utcnow()))

    def check_ack(self, tx: CommandTx, command_id: str, agent_id: str):
        """The command an agent answers, if it exists and is addressed to that agent."""
        row = tx.command(command_id)
        if row is None:
            raise Refused(404, "unknown_command", f"no command {command_id}")
        if row.agent_id != agent_id:
            raise Refused(403, "wrong_agent", f"command {command_id} is not for {agent_id}")
        return row

    def apply_ack(self, tx: CommandTx, command_id: str, agent_id: str, answer: AckAnswer, now):
        """An agent's answer, inside the caller's transaction: the command moves on, and a confirmed kill
        stops the agent and its session. Raises Refused."""
        with span("control.apply_ack", command__id=command_id, command__answer=str(answer.state)[:32]):
            return self._apply_ack(tx, command_id, agent_id, answer, now)

    def _apply_ack(self, tx: CommandTx, command_id: str, agent_id: str, answer: AckAnswer, now):
        row = self.check_ack(tx, command_id, agent_id)
        set_attributes(command__kind=row.kind)
        state, message = answer.state, answer.message
        if state not in lc.ACK_EVENTS:
            raise Refused.invalid("state", f"must be one of {', '.join(lc.ACK_EVENTS)}")
        if row.kind == "kill" and state == "completed":
            check_kill_evidence(row, answer)
        try:
            new_state = lc.transition(row.state, lc.ACK_EVENTS[state])
        except lc.IllegalTransition as exc:
            raise _refusal(exc, row.state) from None
        values: dict[str, Any] = {"state": new_state, "updated_at": now, "result_message": message}
        if new_state == "accepted" or new_state in lc.TERMINAL:
            values["answered_at"] = now
        if new_state in lc.TERMINAL:
            values["finished_at"] = now
        if row.kind == "kill" and new_state == "completed":
            values["verification"] = "awaiting"  # the settle time counts from the confirmation
            self._confirm_kill(tx, row, now)
        elif new_state in ("rejected", "failed"):
            self._undo(tx, row, now)
        elif row.kind == "model" and new_state == "completed":
            tx.set_agent_model(row.agent_id, (row.payload or {}).get("model"), now)
        tx.set_command(command_id, row.state, **values)
        _transition(row.state, new_state)
        tx.audit(
            Actor(agent_id, "agent"),
            f"command.{lc.ACK_EVENTS[state]}",
            "ok",
            target_kind="command",
            target_id=command_id,
            reason=message,
        )
        return tx.command(command_id)

    def _confirm_kill(self, tx: CommandTx, cmd, now: datetime) -> None:
        self._move_agent(tx, cmd.agent_id, "confirm", now)
        tx.stop_agent(cmd.agent_id, now)
        if cmd.session_id:
            tx.end_session(
                cmd.session_id, "killed", f"killed by {cmd.issued_by}: {cmd.reason or 'no reason'}", now
            )

    def _undo(self, tx: CommandTx, row, now: datetime) -> None:
        """A kill or pause that will not happen (rejected, failed, expired, cancelled): the agent is as it
        was before it, active or, for a kill issued while its pause stood, paused (unless something else
        moved it meanwhile: a pause that lapses while a kill is on its way leaves the kill alone)."""
        paused = row.kind == "kill" and lc.pause_stands(tx.last_pause_or_resume(row.agent_id, row.created_at))
        event = lc.UNDONE_BY.get((row.kind, paused))
        if event is not None:
            self._move_agent(tx, row.agent_id, event, now)

    @staticmethod
    def _move_agent(tx: CommandTx, agent_id: str, event: str, now: datetime) -> None:
        agent = tx.agent(agent_id)
        try:
            state = lc.agent_transition(agent.control_state, event)
        except lc.IllegalTransition:
            return  # released or restarted meanwhile: the agent's state already says what is true
        tx.set_control_state(agent_id, agent.control_state, lc.stored_control_state(state), now)

    def restart_agents(self, tx: CommandTx, agent_ids, now: datetime) -> None:
        """Killed agents that start a new session work again (their ``session.start`` is the way out)."""
        if not agent_ids:
            return  # the common case on the ingest path: no query at all
        for agent_id in tx.agents_in_control_state(agent_ids, "killed"):
            self._move_agent(tx, agent_id, "restart", now)
            tx.audit(Actor(agent_id, "agent"), "agent.restart", "ok", target_kind="agent", target_id=agent_id)

    def flag_ineffective_kills(
        self, tx: CommandTx, usage: list[tuple[str, str | None, datetime]], now
    ) -> None:
        """Usage after a confirmed kill, in the killed session or before the agent started a new one: the
        kill did not take. ``usage``: (agent, session, time) of each usage event stored."""
        if not usage:
            return
        awaiting = tx.kills_awaiting(agent_ids={a for a, _s, _t in usage})
        if not awaiting:
            return
        still_killed = set(tx.agents_in_control_state({c.agent_id for c in awaiting}, "killed"))
        for cmd in awaiting:
            late = [
                ts
                for agent_id, session_id, ts in usage
                if agent_id == cmd.agent_id
                and ts > cmd.answered_at
                and (session_id == cmd.session_id or agent_id in still_killed)
            ]
            if late:
                tx.set_verification(cmd.id, "ineffective", now)
                tx.audit(
                    SYSTEM,
                    "command.kill.ineffective",
                    "error",
                    target_kind="agent",
                    target_id=cmd.agent_id,
                    details={"command_id": cmd.id, "usage_at": max(late).isoformat()},
                )

    # -- housekeeping (the scheduler) ----------------------------------------------------------------

    def expire_commands(self) -> int:
        now = utcnow()
        with self.repo.transaction() as tx:
            return self._expire(tx, tx.overdue_pending(now), now)

    def _expire(self, tx: CommandTx, rows, now: datetime) -> int:
        for row in rows:
            tx.set_command(
                row.id, row.state, state=lc.transition(row.state, "expire"), updated_at=now, finished_at=now
            )
            self._undo(tx, row, now)
            tx.audit(SYSTEM, "command.expire", "ok", target_kind="command", target_id=row.id)
        return len(rows)

    def verify_kills(self, settle_s: int | None = None) -> list[str]:
        """Confirmed kills with no usage from the agent for the settle time become verified."""
        now = utcnow()
        settle = self.limits.kill_settle_s if settle_s is None else settle_s
        with self.repo.transaction() as tx:
            rows = tx.kills_awaiting(answered_before=now - timedelta(seconds=settle))
            for r in rows:
                tx.set_verification(r.id, "verified", now)
                tx.audit(
                    SYSTEM,
                    "command.kill.verified",
                    "ok",
                    target_kind="agent",
                    target_id=r.agent_id,
                    details={"command_id": r.id},
                )
        return [r.id for r in rows]
