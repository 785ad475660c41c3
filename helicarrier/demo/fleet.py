"""A live demo fleet: simulated agents (threads) reporting through ``helicarrier.client`` to a server.

Each agent heartbeats every ~5 s, runs sessions on its models, writes a log line every 1-3 s, reports
usage per step and ends its sessions succeeded, failed, killed or timed out. Now and then one stalls
(heartbeat ``stalled``, no logs for a while) or goes silent for over a minute, so the HUD shows it
offline, and comes back. Stops cleanly on ``stop_event``, SIGINT, SIGTERM or after ``duration``.

The agents obey Helicarrier's commands through the client's command loop: a kill stops the agent (its
session ends ``killed`` and it stays idle: graceful after the current step, force at once); an injected task
becomes its current task and its next session works on it (a ``steer`` wraps the running session up first),
and the command completes when that session is done; a model command switches the model it calls.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from helicarrier.client import (
    COMMAND_WAIT_S,
    AgentHandle,
    Command,
    CommandRejected,
    HelicarrierClient,
    SessionHandle,
    default_model,
)
from helicarrier.demo.scenario import (
    MODELS_BY_NAME,
    AgentSpec,
    ModelSpec,
    Outcome,
    SessionPlan,
    final_log,
    fleet,
    plan_session,
    step_logs,
    usage_data,
)
from helicarrier.formatting import plural

log = logging.getLogger("helicarrier.demo")

HEARTBEAT_EVERY = 5.0
STALL_CHANCE = 0.04  # per step
STALL_SECONDS = (15.0, 40.0)
SILENCE_CHANCE = 0.04  # per session end
SILENCE_SECONDS = (65.0, 110.0)  # beyond the HUD's 60 s offline threshold
TICK = 0.25  # how often a waiting agent looks at its commands
KILL_WAIT = {"force": 10.0, "graceful": 60.0}  # how long a kill waits for the agent to stop
INJECTED_STEPS = 3  # an injected task is short: the demo shows it done within a minute
INJECTED_TIMEOUT = 600.0
SCALE_EVERY = 5.0  # how often the local supervisor asks for the desired count
# The demo agent that gets stuck in a retry loop first thing, for the stuck-loop sentinel to find (issue 16):
# `make run` lets the sentinel steer staging agents (scripts/run.sh), so within minutes it is seen, alerted,
# steered, and the agent changes approach.
LOOPER = "juno-10"
LOOP_LINES = 80  # then it gives up by itself
LOOP_AGAIN_CHANCE = 0.03  # per session afterwards


@dataclass(frozen=True)
class Pace:
    """How fast the simulated agents work: seconds between log lines within a step, and idle seconds
    between sessions."""

    log_every: tuple[float, float]
    idle_between: tuple[float, float]


# `make run`: about a fifth of the agents run at any moment, and the fleet spends at a rate its seeded
# history could have (a few times its busiest hours, not a hundred times: with back-to-back sessions the
# live fleet made ~450 times the history's model calls; today's bar dwarfed the month, the projection
# jumped).
STEADY = Pace(log_every=(4.0, 10.0), idle_between=(120.0, 600.0))
# Tests and screenshots: sessions end within a minute, so a kill or a task is seen through quickly.
QUICK = Pace(log_every=(1.0, 3.0), idle_between=(2.0, 8.0))


def run_demo_fleet(
    url: str,
    token: str,
    count: int,
    *,
    seed: int | None = None,
    stop_event: threading.Event | None = None,
    duration: float | None = None,
    command_wait: float = COMMAND_WAIT_S,
    pace: Pace = QUICK,
    scale_token: str | None = None,
    scale_every: float = SCALE_EVERY,
) -> dict[str, Any]:
    """Run ``count`` simulated agents until stopped; returns the client's counters and sessions run.
    ``command_wait``: how long each agent's command poll waits on the server. ``scale_token`` (a ``read``
    token): be the auto-scaler's local supervisor, starting and retiring agents to the count
    ``GET /api/v1/fleet/scale`` asks for, every ``scale_every`` seconds."""
    stop = stop_event or threading.Event()
    master = random.Random(seed)
    client = HelicarrierClient(url, token, source="demo-fleet")
    pool = _Pool(client, master, stop, pace, command_wait)
    with _stop_on_signals(stop):
        pool.resize(count)
        supervisor = None if scale_token is None else Supervisor(url, scale_token, pool, stop, scale_every)
        if supervisor is not None:
            supervisor.start()
        deadline = None if duration is None else time.monotonic() + duration
        # Short waits, so a signal handler never has to interrupt a long blocking wait.
        while not stop.wait(0.5):
            if deadline is not None and time.monotonic() >= deadline:
                break
        stop.set()
        if supervisor is not None:
            supervisor.join(timeout=10)
        for t in pool.threads:
            t.join(timeout=10)
    client.close(timeout=5)
    stats = client.stats
    return {
        "agents": len(pool.sims),
        "sessions": sum(s.sessions for s in pool.sims),
        "sent": stats.sent,
        "dropped": stats.dropped,
        "failed": stats.failed,
        "retries": stats.retries,
    }


class _Pool:
    """The fleet's agents: started in roster order, retired newest first (a retired agent finishes its
    session, says so in its log and stops)."""

    def __init__(self, client: HelicarrierClient, master: random.Random, stop, pace: Pace, wait: float):
        self.client, self.master, self.stop, self.pace, self.wait = client, master, stop, pace, wait
        self.sims: list[SimAgent] = []
        self.threads: list[threading.Thread] = []

    @property
    def working(self) -> list[SimAgent]:
        return [s for s in self.sims if not s.retire.is_set()]

    def resize(self, count: int) -> None:
        working = self.working
        for sim in reversed(working[count:]):
            sim.retire.set()
        for spec in fleet(len(self.sims) + max(0, count - len(working)))[len(self.sims) :]:
            sim = SimAgent(
                self.client, spec, random.Random(self.master.getrandbits(64)), self.stop, self.pace
            )
            sim.listen(self.wait)
            thread = threading.Thread(target=sim.run, name=f"demo-{spec.id}", daemon=True)
            self.sims.append(sim)
            self.threads.append(thread)
            thread.start()


class Supervisor(threading.Thread):
    """The auto-scaler's local actuator: reads the desired count and resizes the pool to it."""

    def __init__(self, url: str, token: str, pool: _Pool, stop: threading.Event, every: float):
        super().__init__(name="demo-supervisor", daemon=True)
        self.url, self.token, self.pool, self.stop, self.every = url.rstrip("/"), token, pool, stop, every

    def desired(self) -> int | None:
        req = urllib.request.Request(
            f"{self.url}/api/v1/fleet/scale", headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(json.loads(resp.read())["desired"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("the fleet's desired count is not available: %s", exc)
            return None  # keep the fleet as it is; ask again

    def run(self) -> None:
        while not self.stop.wait(self.every):
            count = self.desired()
            if count is not None and count != len(self.pool.working):
                log.warning("auto-scaler: %d agents working, %d wanted", len(self.pool.working), count)
                self.pool.resize(count)


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


class _Retired(Exception):
    """The auto-scaler retired this agent: it stops once its session is over."""


class _Killed(Exception):
    """A kill command: the agent stops working."""


@dataclass
class _Injected:
    """A task handed over from the Jarvis Terminal; the handler thread waits on ``done``."""

    task: str
    mode: str
    issued_by: str | None
    done: threading.Event = field(default_factory=threading.Event)
    result: str | None = None
    error: str | None = None

    def finish(self, result: str | None = None, error: str | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


class SimAgent:
    def __init__(
        self,
        client: HelicarrierClient,
        spec: AgentSpec,
        rng: random.Random,
        stop: threading.Event,
        pace: Pace = QUICK,
    ):
        self.spec, self.rng, self.stop, self.pace = spec, rng, stop, pace
        self.retire = threading.Event()  # the auto-scaler wants one agent fewer: stop after this session
        self.agent: AgentHandle = client.agent(spec.id, name=spec.name, labels=spec.labels)
        self.status, self.task, self.model, self.provider = "idle", None, None, None
        self.next_beat = 0.0
        self.sessions = 0
        # Commands: set by the handler threads, read by the agent's own thread.
        self.halt = threading.Event()  # a kill arrived
        self.halted = threading.Event()  # the agent's thread has stopped working
        self.kill: Command | None = None
        self.stop_note = "no session was running"
        self.inbox: deque[_Injected] = deque()
        self.in_session = self.in_step = False
        self.model_override: ModelSpec | None = None
        self.loops_left = 1 if spec.id == LOOPER else 0

    def listen(self, wait: float = COMMAND_WAIT_S) -> None:
        """Obey commands from Helicarrier (the client's command loop, one long-poll per agent)."""
        self.agent.on_command(kill=self._on_kill, inject=self._on_inject, model=self._on_model, wait=wait)

    def run(self) -> None:
        try:
            while True:
                try:
                    self._work()
                except _Killed:
                    self._halt()
                    self._quiet()
        except _Stopped:
            self.agent.heartbeat("idle")
        except _Retired:
            self.agent.log("info", "retired by the auto-scaler: the fleet needs fewer workers")
            self.agent.heartbeat("idle")
        except Exception:  # noqa: BLE001 - one broken simulated agent must not take the demo down
            log.exception("demo agent %s crashed", self.spec.id)
        finally:
            while self.inbox:
                self.inbox.popleft().finish(error="the demo fleet stopped before the task ran")

    def _work(self) -> None:
        while True:
            job = self.inbox.popleft() if self.inbox else None
            plan = plan_session(self.rng, self.spec)
            if job is None and self.loops_left > 0:
                self.loops_left -= 1
                self._loop(plan)
                continue
            if self.model_override is not None:
                plan = replace(plan, spec=self.model_override)
            if job is not None:
                steps = min(plan.steps, INJECTED_STEPS)
                plan = replace(
                    plan, task=job.task, steps=steps, outcome=Outcome("succeeded", None, steps - 1)
                )
            while self.agent.budget_locked and not self.inbox:  # a locked budget: no new session
                self._wait(TICK, idle=True)
            self._session(plan, job)
            if self.retire.is_set() and not self.inbox:
                raise _Retired
            if job is None and self.rng.random() < SILENCE_CHANCE:
                self._silence()
            if self.spec.id == LOOPER and self.rng.random() < LOOP_AGAIN_CHANCE:
                self.loops_left = 1
            self._wait(self.rng.uniform(*self.pace.idle_between), idle=True)

    def _open(self, plan: SessionPlan, labels: dict[str, str]) -> SessionHandle:
        """Running ``plan``: said in a heartbeat, then its session started."""
        spec = plan.spec
        self.status, self.task, self.model, self.provider = "running", plan.task, spec.model, spec.provider
        self._beat()
        session = self.agent.session(
            model=spec.model, provider=spec.provider, task=plan.task, task_kind=plan.kind, labels=labels
        )
        self.sessions += 1
        self.in_session = True
        return session

    def _session(self, plan: SessionPlan, job: _Injected | None = None) -> None:
        spec = plan.spec
        session = self._open(plan, {**self.spec.labels, "task_kind": plan.kind})
        try:
            session.log("info", f"session started: {plan.task}")
            for step in range(plan.outcome.at_step + 1):
                self._step(session, plan, step)
                if self.halt.is_set():  # graceful: the step is done, stop here
                    raise _Killed
                self._hold_while_paused(session)
                if job is None and self._steered() and step < plan.outcome.at_step:
                    session.log("info", "steered: wrapping up to take an injected task")
                    session.end("succeeded")
                    return
            self._wait(self.rng.uniform(0.5, 1.5))
            level, message = final_log(plan)
            session.log(level, message, attrs={"status": plan.outcome.status})
            session.end(plan.outcome.status, plan.outcome.error)
            if job is not None:
                job.finish(f"done in {plural(plan.steps, 'step')} on {spec.model}: {plan.task}")
        except _Killed:
            who, why, strength = self._kill_words()
            session.log("warning", f"received kill command ({strength}) from {who}: {why}; stopping")
            session.end("killed", f"killed by {who}: {why}")
            self.stop_note = f"session {session.id} ended killed"
            if job is not None:
                job.finish(error="killed before the task was done")
            raise
        except _Stopped:
            session.log("warning", "demo fleet stopping; abandoning the task")
            session.end("killed", "demo fleet stopped")
            if job is not None:
                job.finish(error="the demo fleet stopped before the task was done")
            raise
        finally:
            self.in_session = False
            self.status, self.task = "idle", None
        self._beat()

    def _loop(self, plan: SessionPlan) -> None:
        """Stuck in a retry loop: the same failing call again and again, tokens burning, until steered (a
        task arrives), killed, or it gives up."""
        spec = plan.spec
        session = self._open(plan, self.spec.labels)
        ticket = self.rng.randint(1000, 9800)
        try:
            for i in range(LOOP_LINES):
                if self.inbox:  # steered (by the sentinel or an operator): the task is taken next
                    session.log("info", "steered: leaving the retry loop to change approach")
                    session.end("failed", "stuck in a retry loop (HTTP 429); steered")
                    return
                self._wait(self.rng.uniform(*self.pace.log_every))
                session.log("warning", f"retry {i + 1}: POST /v1/tickets/{ticket}/comments failed (HTTP 429)")
                if i % 3 == 2:
                    session.usage(**usage_data(self.rng, spec, i, int(time.time())))
            session.end("failed", f"gave up after {LOOP_LINES} retries (HTTP 429)")
        except _Killed:
            who, why, strength = self._kill_words()
            session.log("warning", f"received kill command ({strength}) from {who}: {why}; stopping")
            session.end("killed", f"killed by {who}: {why}")
            self.stop_note = f"session {session.id} ended killed"
            raise
        except _Stopped:
            session.end("killed", "demo fleet stopped")
            raise
        finally:
            self.in_session = False
            self.status, self.task = "idle", None
        self._beat()

    def _step(self, session: SessionHandle, plan: SessionPlan, step: int) -> None:
        spec = self.model_override or plan.spec  # a model command applies from the next call
        self.in_step = True
        try:
            for level, message, attrs in step_logs(self.rng, spec, plan.kind, step, plan.steps):
                self._wait(self.rng.uniform(*self.pace.log_every))
                session.log(level, message, attrs=attrs)
            if self.rng.random() < STALL_CHANCE:
                self._stall(session)
            session.usage(**usage_data(self.rng, spec, step, int(time.time())))
        finally:
            self.in_step = False

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
            if self.stop.wait(min(TICK, max(0.0, deadline - time.monotonic()))):
                raise _Stopped
            if self.halt.is_set() or self.inbox:
                break  # a command woke it up
        self.agent.log("warning", "agent process resumed after a long pause")
        self._beat()

    def _wait(self, seconds: float, *, idle: bool = False) -> None:
        """Sleep ``seconds``, heartbeating every HEARTBEAT_EVERY seconds; raise _Stopped on shutdown and
        _Killed on a kill (force: at once; graceful: not inside a step). ``idle``: a task cuts it short."""
        deadline = time.monotonic() + seconds
        while True:
            if self.halt.is_set() and (not self.in_step or self._kill_words()[2] == "force"):
                raise _Killed
            if idle and self.inbox:
                return
            if idle and self.retire.is_set():
                raise _Retired
            now = time.monotonic()
            if now >= self.next_beat:
                self._beat()
            remaining = deadline - now
            if remaining <= 0:
                return
            if self.stop.wait(min(remaining, TICK, max(0.05, self.next_beat - now))):
                raise _Stopped

    def _hold_while_paused(self, session: SessionHandle) -> None:
        """Paused (a pause command, e.g. a budget's lock): the model call before this is done; wait, still
        heartbeating, until a resume (a kill still ends it)."""
        if not self.agent.paused:
            return
        session.log(
            "warning", f"paused: {self.agent.pause_reason or 'no reason given'}; waiting for a resume"
        )
        while self.agent.paused:
            self._wait(TICK)
        session.log("info", "resumed")

    def _beat(self) -> None:
        self.agent.heartbeat(self.status, current_task=self.task, model=self.model, provider=self.provider)
        self.next_beat = time.monotonic() + HEARTBEAT_EVERY * self.rng.uniform(0.9, 1.1)

    # -- after a kill ----------------------------------------------------------------------------------

    def _halt(self) -> None:
        self.status, self.task = "idle", None
        self._beat()
        while self.inbox:
            self.inbox.popleft().finish(error="killed before the task ran")
        self.halted.set()

    def _quiet(self) -> None:
        """Killed: the process stays up (heartbeats, idle) but does no more work until the fleet stops."""
        while not self.stop.wait(TICK):
            if time.monotonic() >= self.next_beat:
                self._beat()
        raise _Stopped

    def _kill_words(self) -> tuple[str, str, str]:
        cmd = self.kill
        if cmd is None:
            return "an operator", "no reason given", "graceful"
        return cmd.issued_by or "an operator", cmd.reason or "no reason given", cmd.strength or "graceful"

    def _steered(self) -> bool:
        return any(job.mode == "steer" for job in list(self.inbox))

    # -- command handlers (run on the client's command threads) ----------------------------------------

    def _on_kill(self, cmd: Command) -> str:
        if self.halted.is_set():
            return "already stopped"
        cmd.accept()
        strength = cmd.strength or "graceful"
        self.kill = cmd
        self.agent.stop_strength = strength
        self.agent.stop_requested.set()
        self.halt.set()
        if not self.halted.wait(KILL_WAIT.get(strength, 60.0)):
            raise TimeoutError(f"the agent did not stop within {KILL_WAIT.get(strength, 60.0):.0f} s")
        return f"stopped ({strength}); {self.stop_note}"

    def _on_inject(self, cmd: Command) -> str:
        task = (cmd.task or "").strip()
        if self.halt.is_set():
            raise CommandRejected("this agent was killed; restart it to give it work")
        if not task:
            raise CommandRejected("the task is empty")
        job = _Injected(task, cmd.mode or "steer", cmd.issued_by)
        cmd.accept()
        self.agent.log(
            "info",
            f"received task: {task}",
            attrs={"command_id": cmd.id, "from": cmd.issued_by, "mode": job.mode},
        )
        self.inbox.append(job)
        if not self.in_session or job.mode == "steer":
            self.task = task  # it is the agent's current task from now on
            self._beat()
        if not job.done.wait(INJECTED_TIMEOUT):
            raise TimeoutError(f"the task did not finish within {INJECTED_TIMEOUT:.0f} s")
        if job.error:
            raise RuntimeError(job.error)
        return job.result or "done"

    def _on_model(self, cmd: Command) -> str:
        spec = MODELS_BY_NAME.get(cmd.model or "")
        if spec is None or (cmd.provider and cmd.provider != spec.provider):
            raise CommandRejected(f"this demo agent cannot call {cmd.provider or '?'}/{cmd.model}")
        self.model_override = spec
        message = default_model(cmd)
        self.model, self.provider = spec.model, spec.provider
        self.agent.log("info", f"switching model to {spec.model}" + (f": {cmd.reason}" if cmd.reason else ""))
        self._beat()
        return message
