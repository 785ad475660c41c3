"""A live demo fleet: simulated agents (threads) reporting through ``helicarrier.client`` to a server.

Each agent heartbeats every ~5 s, runs sessions on its models, writes a log line every 1-3 s, reports
usage per step and ends its sessions succeeded, failed, killed or timed out. Now and then one stalls
(heartbeat ``stalled``, no logs for a while) or goes silent for over a minute, so the HUD shows it
offline, and comes back. Stops cleanly on ``stop_event``, SIGINT, SIGTERM or after ``duration``.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from helicarrier.client import AgentHandle, HelicarrierClient, SessionHandle
from helicarrier.demo.scenario import (
    AgentSpec,
    SessionPlan,
    final_log,
    fleet,
    plan_session,
    step_logs,
    usage_data,
)

log = logging.getLogger("helicarrier.demo")

HEARTBEAT_EVERY = 5.0
LOG_EVERY = (1.0, 3.0)
IDLE_BETWEEN = (2.0, 8.0)
STALL_CHANCE = 0.04  # per step
STALL_SECONDS = (15.0, 40.0)
SILENCE_CHANCE = 0.04  # per session end
SILENCE_SECONDS = (65.0, 110.0)  # beyond the HUD's 60 s offline threshold


def run_demo_fleet(
    url: str,
    token: str,
    count: int,
    *,
    seed: int | None = None,
    stop_event: threading.Event | None = None,
    duration: float | None = None,
) -> dict[str, Any]:
    """Run ``count`` simulated agents until stopped; returns the client's counters and sessions run."""
    stop = stop_event or threading.Event()
    master = random.Random(seed)
    client = HelicarrierClient(url, token, source="demo-fleet")
    sims = [SimAgent(client, spec, random.Random(master.getrandbits(64)), stop) for spec in fleet(count)]
    threads = [threading.Thread(target=s.run, name=f"demo-{s.spec.id}", daemon=True) for s in sims]
    with _stop_on_signals(stop):
        for t in threads:
            t.start()
        deadline = None if duration is None else time.monotonic() + duration
        # Short waits, so a signal handler never has to interrupt a long blocking wait.
        while not stop.wait(0.5):
            if deadline is not None and time.monotonic() >= deadline:
                break
        stop.set()
        for t in threads:
            t.join(timeout=10)
    client.close(timeout=5)
    stats = client.stats
    return {
        "agents": count,
        "sessions": sum(s.sessions for s in sims),
        "sent": stats.sent,
        "dropped": stats.dropped,
        "failed": stats.failed,
        "retries": stats.retries,
    }


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (only the main thread may install handlers; elsewhere: a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stopped(Exception):
    """The fleet is shutting down: unwind the agent's loop."""


class SimAgent:
    def __init__(self, client: HelicarrierClient, spec: AgentSpec, rng: random.Random, stop: threading.Event):
        self.spec, self.rng, self.stop = spec, rng, stop
        self.agent: AgentHandle = client.agent(spec.id, name=spec.name, labels=spec.labels)
        self.status, self.task, self.model, self.provider = "idle", None, None, None
        self.next_beat = 0.0
        self.sessions = 0

    def run(self) -> None:
        try:
            while True:
                self._session(plan_session(self.rng, self.spec))
                if self.rng.random() < SILENCE_CHANCE:
                    self._silence()
                self._wait(self.rng.uniform(*IDLE_BETWEEN))
        except _Stopped:
            self.agent.heartbeat("idle")
        except Exception:  # noqa: BLE001 - one broken simulated agent must not take the demo down
            log.exception("demo agent %s crashed", self.spec.id)

    def _session(self, plan: SessionPlan) -> None:
        spec = plan.spec
        self.status, self.task, self.model, self.provider = "running", plan.task, spec.model, spec.provider
        self._beat()
        session = self.agent.session(
            model=spec.model,
            provider=spec.provider,
            task=plan.task,
            task_kind=plan.kind,
            labels={**self.spec.labels, "task_kind": plan.kind},
        )
        self.sessions += 1
        try:
            session.log("info", f"session started: {plan.task}")
            for step in range(plan.outcome.at_step + 1):
                self._step(session, plan, step)
            self._wait(self.rng.uniform(0.5, 1.5))
            level, message = final_log(plan)
            session.log(level, message, attrs={"status": plan.outcome.status})
            session.end(plan.outcome.status, plan.outcome.error)
        except _Stopped:
            session.log("warning", "demo fleet stopping; abandoning the task")
            session.end("killed", "demo fleet stopped")
            raise
        finally:
            self.status, self.task = "idle", None
        self._beat()

    def _step(self, session: SessionHandle, plan: SessionPlan, step: int) -> None:
        for level, message, attrs in step_logs(self.rng, plan.spec, plan.kind, step, plan.steps):
            self._wait(self.rng.uniform(*LOG_EVERY))
            session.log(level, message, attrs=attrs)
        if self.rng.random() < STALL_CHANCE:
            self._stall(session)
        session.usage(**usage_data(self.rng, plan.spec, step, int(time.time())))

    def _stall(self, session: SessionHandle) -> None:
        """Stuck on a tool call: heartbeats say stalled, no logs, then the agent recovers."""
        self.status = "stalled"
        self._beat()
        seconds = self.rng.uniform(*STALL_SECONDS)
        session.log("warning", f"tool call not returning; waiting (up to {seconds:.0f}s)")
        try:
            self._wait(seconds)
        finally:
            self.status = "running"
        session.log("info", f"tool call returned after {seconds:.0f}s; resuming")
        self._beat()

    def _silence(self) -> None:
        """The process hangs: no heartbeats at all for over a minute (the HUD marks it offline)."""
        deadline = time.monotonic() + self.rng.uniform(*SILENCE_SECONDS)
        while time.monotonic() < deadline:
            if self.stop.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                raise _Stopped
        self.agent.log("warning", "agent process resumed after a long pause")
        self._beat()

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, heartbeating every HEARTBEAT_EVERY seconds; raise _Stopped on shutdown."""
        deadline = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= self.next_beat:
                self._beat()
            remaining = deadline - now
            if remaining <= 0:
                return
            if self.stop.wait(min(remaining, max(0.05, self.next_beat - now))):
                raise _Stopped

    def _beat(self) -> None:
        self.agent.heartbeat(self.status, current_task=self.task, model=self.model, provider=self.provider)
        self.next_beat = time.monotonic() + HEARTBEAT_EVERY * self.rng.uniform(0.9, 1.1)
