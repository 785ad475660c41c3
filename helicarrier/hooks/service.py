"""Claude Code's http hooks: a hook input is stored as native events (through ``IngestService``, so binding,
idempotency and the Pulse are the same as for client agents), then answered with what the operator wants of
the agent: a kill, a task, or nothing (allow).

Commands move through the same lifecycle as a client agent's, in one transaction with their audit entries:
the hook that carries a command *delivers* it and Helicarrier answers for the agent (a kill is ``completed``
with the hook's session as its evidence, so the settle window verifies it; a task is ``accepted`` and becomes
``completed`` at the next Stop, when Claude has worked on it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from helicarrier.auth.binding import Speaker
from helicarrier.control import lifecycle as lc
from helicarrier.control.service import ControlService
from helicarrier.control.validation import AckAnswer
from helicarrier.data.repository import Repository, Tx
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet.service import FleetService
from helicarrier.hooks import claude_code as cc
from helicarrier.ingest.service import IngestService
from helicarrier.jsonio import parse_json

ROUTE = "/api/v1/hooks/claude-code"


class Abandoned(Exception):
    """The caller was answered without this decision: its transaction rolls back (nobody hears of it)."""


class ClaudeCodeHooks:
    def __init__(self, repo: Repository, ingest: IngestService, control: ControlService, fleet: FleetService):
        self.repo = repo
        self.ingest = ingest
        self.control = control
        self.fleet = fleet

    def handle(
        self,
        speaker: Speaker,
        agent: str | None,
        body: bytes,
        remote_addr: str | None = None,
        abandoned: Callable[[], bool] = bool,
    ) -> dict[str, Any]:
        """One hook input -> the decision to answer. Raises Refused (bad input, a token that does not speak
        for the agent); anything else is the caller's to turn into an allow."""
        hook = cc.check_input(parse_json(body))
        agent_id = cc.agent_for(agent, hook)
        # The token must speak for the agent (claiming it on first use, as on ingest): else 403, audited.
        self.fleet.require(speaker, agent_id, "hooks.claude_code", remote_addr)
        now = utcnow()
        batch = {
            "version": "v2",
            "source": {"name": cc.SOURCE, "provenance": "claude-code http hook"},
            "events": cc.events_for(agent_id, hook, body, now),
        }
        status, answer = self.ingest.ingest(speaker, orjson.dumps(batch), None, ROUTE, remote_addr)
        if status >= 300:
            raise Refused(422, "schema_violation", "the hook input could not be stored", orjson.loads(answer))
        return self.decide(agent_id, hook, now, abandoned)

    def decide(
        self, agent_id: str, hook: dict[str, Any], now: datetime, abandoned: Callable[[], bool] = bool
    ) -> dict[str, Any]:
        """The decision for this hook, with the commands it delivers recorded in the same transaction;
        rolled back when the caller has meanwhile been answered without it (``abandoned()``)."""
        event = hook["hook_event_name"]
        if event not in cc.KILL_POINTS:
            return cc.ALLOW
        with self.repo.transaction() as tx:
            decision = self._decide_in(tx, agent_id, hook, event, now)
            if abandoned():
                raise Abandoned("the hook was answered (allow) before its decision was made")
        return decision

    def _decide_in(
        self, tx: Tx, agent_id: str, hook: dict[str, Any], event: str, now: datetime
    ) -> dict[str, Any]:
        agent = tx.agent(agent_id)
        if agent is None:
            return cc.ALLOW
        self.control._expire(tx, tx.overdue_pending(now, agent_id), now)
        waiting = tx.agent_commands_in(agent_id, lc.KINDS, ("pending", "accepted"))
        if event == "Stop":  # Claude stopped: the tasks it was given are done
            for cmd in (c for c in waiting if c.kind == "inject" and c.state == "accepted"):
                self._answer(tx, cmd, "completed", "Claude Code finished its turn", hook, now)
        pending = [c for c in waiting if c.state == "pending"]
        for cmd in (c for c in pending if c.kind == "model"):
            if self._deliver(tx, cmd, now):
                self._answer(tx, cmd, "rejected", "Claude Code hooks cannot switch the model", hook, now)
        kill = next((c for c in pending if c.kind == "kill"), None)
        if kill is not None:
            return self._kill(tx, kill, event, hook, now)
        for cmd in (c for c in pending if c.kind in ("pause", "resume")):
            if self._deliver(tx, cmd, now):  # the state moved when it was issued: the hook answers for it
                self._answer(tx, cmd, "completed", f"{cmd.kind}d at {event}", hook, now)
        if agent.control_state == "paused" and event in cc.PAUSE_POINTS:
            return cc.pause_decision(event, _pause_message(tx.latest_command(agent_id, "pause")))
        if event == "PreToolUse" and agent.control_state == "killed":
            last = tx.latest_kill(agent_id)
            if last is not None and last.strength == "force":
                return cc.deny_tool(_stop_message(last))
        task = next((c for c in pending if c.kind == "inject"), None)
        # A parallel hook (Claude Code runs PreToolUse hooks concurrently) may have taken it first.
        if task is not None and event in cc.TASK_POINTS and self._deliver(tx, task, now):
            self._answer(tx, task, "accepted", f"handed to Claude Code at {event}", hook, now)
            return cc.task_decision(event, (task.payload or {})["task"])
        return cc.ALLOW

    def _kill(self, tx: Tx, cmd, event: str, hook: dict[str, Any], now: datetime) -> dict[str, Any]:
        message = _stop_message(cmd)
        if not self._deliver(tx, cmd, now):
            return cc.kill_decision(event, message)  # a parallel hook delivered it: this one stops too
        try:
            self._answer(tx, cmd, "completed", f"stopped at {event}", hook, now)
        except Refused as refused:  # e.g. the kill named another session than the one this hook is in
            self._answer(tx, cmd, "failed", f"not stopped: {refused.message}", hook, now)
            return cc.ALLOW
        return cc.kill_decision(event, message)

    @staticmethod
    def _deliver(tx: Tx, cmd, now: datetime) -> bool:
        """False when another request delivered it meanwhile (the update found it no longer pending)."""
        return tx.set_command(
            cmd.id, cmd.state, state=lc.transition(cmd.state, "deliver"), delivered_at=now, updated_at=now
        )

    def _answer(self, tx: Tx, cmd, state: str, message: str, hook: dict[str, Any], now: datetime) -> None:
        answer = AckAnswer(state, message, hook["session_id"])
        self.control.apply_ack(tx, cmd.id, cmd.agent_id, answer, now)


def _pause_message(cmd) -> str:
    who, why = (cmd.issued_by, cmd.reason) if cmd is not None else ("an operator", None)
    return (
        f"Paused by Helicarrier ({who}): {why or 'no reason given'}. "
        "Do not retry: this session is held until an operator resumes it."
    )


def _stop_message(cmd) -> str:
    return f"Stopped by Helicarrier ({cmd.issued_by}): {cmd.reason or 'no reason given'}"
