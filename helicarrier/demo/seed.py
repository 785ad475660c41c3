"""A month of demo history, sent through the ingest service: the same path agents' events take.

Nothing here writes a table. The history is built as v2 events, sorted by time and sent in batches of 500
through ``IngestService.ingest``, so seeding also exercises validation, normalization and pricing. The
same ``seed`` and ``now`` give the same event ids and values; re-seeding stores nothing new (the ids are
already known to the server, the events come back as duplicates).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from helicarrier.auth.binding import Speaker
from helicarrier.client import new_id
from helicarrier.demo.scenario import (
    FLEET,
    AgentSpec,
    SessionPlan,
    final_log,
    outcome,
    plan_session,
    runaway_plan,
)
from helicarrier.demo.scenario import step_logs as make_step_logs
from helicarrier.demo.scenario import usage_data as make_usage
from helicarrier.ingest.service import IngestService

SOURCE = "demo-seed"
SESSIONS_PER_DAY = 40.0  # per agent of activity 1.0; the live fleet's STEADY pace is set against it
# Seconds per step by task kind: a coding step runs tests, a triage step reads one ticket.
OVERLOADED = (
    "OverloadedError: 529 {'type': 'overloaded_error', 'message': 'Overloaded'}",
    "APIError: 500 Internal Server Error from anthropic",
)
STEP_SECONDS = {
    "coding": (20, 150),
    "research": (15, 90),
    "triage": (4, 30),
    "summarize": (8, 45),
    "data-analysis": (15, 120),
}


def seed_demo(
    ingest_service: IngestService,
    *,
    days: int = 30,
    seed: int = 7,
    now: datetime | None = None,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Send ``days`` of history for the demo fleet, ending at ``now``. Returns what was built and stored."""
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    history = History(random.Random(seed), days, now)
    events = sorted(history.events(), key=lambda pair: pair[0])
    caller = Speaker.internal(SOURCE)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    batches = 0
    for i in range(0, len(events), batch_size):
        envelope = {
            "version": "v2",
            "source": {"name": SOURCE, "provenance": "helicarrier demo seed"},
            "events": [e for _, e in events[i : i + batch_size]],
        }
        status, text = ingest_service.ingest(caller, orjson.dumps(envelope), None, "/api/v1/ingest")
        if status not in (200, 207):
            raise RuntimeError(f"seeding failed: the ingest service answered {status}: {text[:500]}")
        answer = orjson.loads(text)
        for key in totals:
            totals[key] += answer[key]
        batches += 1
    kinds = Counter(e["type"] for _, e in events)
    return {
        "agents": len({e["agent_id"] for _, e in events}),
        "sessions": kinds["session.start"],
        "usage": kinds["usage"],
        "logs": kinds["log"],
        "heartbeats": kinds["agent.heartbeat"],
        "events": len(events),
        "batches": batches,
        **totals,
        "seconds": round(time.perf_counter() - started, 2),
    }


class History:
    """Builds the events: per agent, sessions one after another with work-hours rhythm, plus two stories:
    an Anthropic overload incident and a runaway session killed by the budget guard."""

    def __init__(self, rng: random.Random, days: int, now: datetime):
        self.rng, self.days, self.now = rng, days, now
        self.start = now - timedelta(days=days)
        self.incident = (self.start + timedelta(days=days * 0.6), timedelta(hours=6))
        self.runaway_at = self.start + timedelta(days=days * 0.35)

    def events(self) -> Iterator[tuple[datetime, dict[str, Any]]]:
        for agent in FLEET:
            # One stream per agent, drawn from the seed: the agents' histories do not shift each other.
            yield from self._agent(random.Random(self.rng.getrandbits(64)), agent)

    def _agent(self, rng: random.Random, agent: AgentSpec) -> Iterator[tuple[datetime, dict[str, Any]]]:
        mean_gap = 86400 / (SESSIONS_PER_DAY * agent.activity)
        t = self.start + timedelta(seconds=rng.uniform(0, 3600))
        runaway_due = agent.id == "hermes-07"
        last = t
        while True:
            t += timedelta(seconds=rng.expovariate(1 / mean_gap) / _busyness(t))
            if runaway_due and t >= self.runaway_at:
                plan, runaway_due = runaway_plan(rng, agent), False
            else:
                plan = self._incident(rng, plan_session(rng, agent), t)
            session = list(self._session(rng, agent, plan, t))
            end = session[-1][0]
            if end >= self.now:
                break
            yield from session
            t = last = end
        yield self._event(
            rng, last + timedelta(seconds=1), agent, "agent.heartbeat", _heartbeat(agent, "idle")
        )

    def _incident(self, rng: random.Random, plan: SessionPlan, t: datetime) -> SessionPlan:
        """During the incident Anthropic is overloaded: its sessions fail far more often, with 529s."""
        begin, span = self.incident
        if plan.spec.provider != "anthropic" or not (begin <= t < begin + span):
            return plan
        result = outcome(rng, plan.spec, plan.kind, plan.steps, penalty=0.45)
        if result.status == "failed":
            result = replace(result, error=rng.choice(OVERLOADED))
        return replace(plan, outcome=result)

    def _session(
        self, rng: random.Random, agent: AgentSpec, plan: SessionPlan, t: datetime
    ) -> Iterator[tuple[datetime, dict[str, Any]]]:
        spec, sid = plan.spec, new_id(_ms(t), rng)
        beat = _heartbeat(agent, "running", current_task=plan.task, model=spec.model, provider=spec.provider)
        yield self._event(rng, t, agent, "agent.heartbeat", beat)
        start = {
            "model": spec.model,
            "provider": spec.provider,
            "task": plan.task,
            "task_kind": plan.kind,
            "labels": {**agent.labels, "task_kind": plan.kind},
        }
        t += timedelta(milliseconds=200)
        yield self._event(rng, t, agent, "session.start", start, sid)
        yield self._log(
            rng, t + timedelta(milliseconds=300), agent, sid, "info", f"session started: {plan.task}"
        )
        lo, hi = STEP_SECONDS[plan.kind]
        for step in range(plan.outcome.at_step + 1):
            duration = rng.uniform(lo, hi) * (1 + 0.15 * plan.scale)
            lines = make_step_logs(rng, spec, plan.kind, step, plan.steps)
            for j, (level, message, attrs) in enumerate(lines):
                at = t + timedelta(seconds=duration * (j + 1) / (len(lines) + 1))
                yield self._log(rng, at, agent, sid, level, message, attrs)
            t += timedelta(seconds=duration)
            # A call that failed at the provider (429, 5xx) returned no usage; every other step did.
            last_step = step == plan.outcome.at_step
            if not (last_step and "Error: 5" in (plan.outcome.error or "")):
                usage = make_usage(rng, spec, step, int(t.timestamp()), plan.scale)
                yield self._event(rng, t, agent, "usage", usage, sid)
        level, message = final_log(plan)
        t += timedelta(seconds=rng.uniform(0.5, 3))
        yield self._log(rng, t, agent, sid, level, message, {"status": plan.outcome.status})
        t += timedelta(milliseconds=200)
        end = {"status": plan.outcome.status, "error": plan.outcome.error}
        yield self._event(rng, t, agent, "session.end", {k: v for k, v in end.items() if v}, sid)
        yield self._event(rng, t + timedelta(seconds=1), agent, "agent.heartbeat", _heartbeat(agent, "idle"))

    def _log(
        self,
        rng: random.Random,
        t: datetime,
        agent: AgentSpec,
        sid: str,
        level: str,
        message: str,
        attrs: dict | None = None,
    ) -> tuple[datetime, dict[str, Any]]:
        data: dict[str, Any] = {"level": level, "message": message}
        if attrs:
            data["attrs"] = attrs
        return self._event(rng, t, agent, "log", data, sid)

    def _event(
        self,
        rng: random.Random,
        t: datetime,
        agent: AgentSpec,
        type_: str,
        data: dict[str, Any],
        sid: str | None = None,
    ) -> tuple[datetime, dict[str, Any]]:
        event = {
            "id": new_id(_ms(t), rng),
            "type": type_,
            "ts": t.isoformat(),
            "agent_id": agent.id,
            "data": data,
        }
        if sid is not None:
            event["session_id"] = sid
        return t, event


def _heartbeat(agent: AgentSpec, status: str, **fields: str) -> dict[str, Any]:
    return {"status": status, "name": agent.name, "labels": agent.labels, **fields}


def _busyness(t: datetime) -> float:
    """Relative activity: busy in (UTC) working hours, quiet at night and at weekends."""
    weight = 1.6 if 7 <= t.hour < 19 else 0.45
    return weight * (0.5 if t.weekday() >= 5 else 1.0)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)
