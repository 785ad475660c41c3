"""The Helicarrier agent client: heartbeats, sessions, usage and logs, sent in the background.

Standard library only, so any agent can vendor this one file::

    from helicarrier.client import HelicarrierClient

    with HelicarrierClient("http://127.0.0.1:8050", token="hc_...", source="host-1") as client:
        agent = client.agent("agent-7", name="Researcher", labels={"team": "billing"})
        agent.heartbeat(status="running", current_task="triage tickets", model="gpt-4.1")
        with agent.session(model="gpt-4.1", provider="openai", task="triage", task_kind="triage") as s:
            resp = openai_client.chat.completions.create(...)
            s.usage(provider="openai", response=resp)  # the provider's own payload, as returned
            s.log("info", "step done")
        # leaving the block ends the session: succeeded, or failed with the exception's text

Reporting never blocks and never raises: events go to a bounded in-memory queue (the oldest are dropped
when it is full) and ONE background thread sends them as v2 batches, with an Idempotency-Key per batch,
retrying connection errors, timeouts, 5xx and 429 with exponential backoff and full jitter.

Commands from the HUD (kill, inject a task, switch model, pause, resume) arrive through a command loop per
agent, a thread that long-polls the server and runs the agent's handlers::

    def do_task(cmd):                    # cmd.task, cmd.mode, cmd.reason, cmd.issued_by
        if busy_with_something_important():
            raise CommandRejected("busy with a deploy")   # answered "rejected", with the reason
        cmd.accept()                     # optional: say "accepted" now, before a long piece of work
        return run(cmd.task)             # answered "completed" with this message (an exception: "failed")

    agent.on_command(inject=do_task)     # kill and model have defaults, see AgentHandle.on_command
    while not agent.stop_requested.is_set():
        with agent.session(model=agent.model, task="...") as s:
            for step in plan:
                agent.check_stop()       # after a kill: raises StopRequested, the session ends "killed";
                ...                      # paused: waits here (after its model call) until resumed
                if agent.budget_locked:  # the last poll said a locked budget holds this agent: no new work
                    break
                ...
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = [
    "AgentHandle",
    "ClientStats",
    "Command",
    "CommandLoop",
    "CommandRejected",
    "HelicarrierClient",
    "Response",
    "SessionHandle",
    "StopRequested",
    "new_id",
]

log = logging.getLogger("helicarrier.client")

CLIENT_VERSION = "1"
INGEST_PATH = "/api/v1/ingest"
COMMAND_WAIT_S = 20.0  # the long-poll: the server holds the request until a command arrives or this passes
MAX_ACK_MESSAGE = 4000
MAX_REMEMBERED_COMMANDS = 1000  # command ids a loop remembers, to tell a command handed over again
# Errors worth retrying: the server may never have seen the request, or failed before answering.
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def new_id(ts_ms: int | None = None, rng: random.Random | None = None) -> str:
    """A UUIDv7-style id: 48-bit millisecond timestamp, then random bits.

    Time-ordered ids keep the server's unique index on event ids append-mostly (cheap inserts). ``rng``
    makes ids reproducible (the demo seed); by default they come from ``os.urandom``.
    """
    if ts_ms is None:
        ts_ms = time.time_ns() // 1_000_000
    rand = rng.getrandbits(74) if rng is not None else int.from_bytes(os.urandom(10), "big") >> 6
    rand_a, rand_b = rand >> 62, rand & ((1 << 62) - 1)
    value = (ts_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def utc_iso(ts: datetime | None = None) -> str:
    """ISO-8601 with an explicit UTC offset: the server refuses naive timestamps."""
    if ts is None:
        return datetime.now(UTC).isoformat()
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(UTC).isoformat()


def _json_default(obj: Any) -> Any:
    # Provider SDKs hand back pydantic models or their own objects; send what they serialize to.
    if isinstance(obj, datetime):
        return utc_iso(obj) if obj.tzinfo else obj.isoformat()
    if isinstance(obj, Decimal):
        return str(obj)
    for method in ("model_dump", "to_dict", "dict"):
        fn = getattr(obj, method, None)
        if callable(fn):
            try:
                return fn(mode="json", by_alias=True, exclude_none=True) if method == "model_dump" else fn()
            except Exception:  # noqa: BLE001 - fall through to the next way of serializing
                continue
    return str(obj)


def _plain(payload: Any) -> Any:
    """A provider object as JSON-ready data: pydantic models (OpenAI, Anthropic SDKs) are dumped."""
    if payload is None or isinstance(payload, dict | list):
        return payload
    return _json_default(payload)


@dataclass(frozen=True)
class ClientStats:
    """Counted in events. ``failed``: refused by the server or given up after retries."""

    sent: int = 0
    dropped: int = 0
    failed: int = 0
    retries: int = 0
    requests: int = 0
    queued: int = 0


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


class HelicarrierClient:
    """Queues events and sends them from one background thread. Thread-safe; never raises on report."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        source: str | None = None,
        max_batch: int = 500,
        flush_interval: float = 0.5,
        max_queue: int = 10_000,
        timeout: float = 10.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        start: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port][/prefix], not {url!r}")
        self.url = url.rstrip("/")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self.source = source or socket.gethostname()
        self.max_batch, self.flush_interval, self.max_queue = max_batch, flush_interval, max_queue
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff_base, self.backoff_max = backoff_base, backoff_max

        self._cond = threading.Condition()
        self._queue: deque[dict[str, Any]] = deque()
        self._oldest_at = 0.0  # monotonic time the oldest queued event arrived
        self._inflight = 0  # events taken by the sender and not yet settled
        self._flushers = 0  # callers waiting in flush(): send at once, don't wait for the interval
        self._counts = {"sent": 0, "dropped": 0, "failed": 0, "retries": 0, "requests": 0}
        self._stopping = False
        self._abort = threading.Event()  # set by close() after its timeout: stop retrying now
        self._healthy = True  # for logging the first failure and the recovery, not every retry
        self._local = threading.local()  # one keep-alive connection per thread that sends
        self._thread: threading.Thread | None = None
        self._rng = random.Random()
        self._loops: dict[str, CommandLoop] = {}  # agent id -> its command loop
        self._conns: dict[int, http.client.HTTPConnection] = {}  # thread id -> its connection (to interrupt)
        if start:
            self.start()

    # -- reporting ------------------------------------------------------------------------------------

    def agent(
        self, agent_id: str, *, name: str | None = None, labels: dict[str, str] | None = None
    ) -> AgentHandle:
        return AgentHandle(self, agent_id, name=name, labels=labels)

    def start_commands(
        self,
        agent: str | AgentHandle,
        handlers: Mapping[str, Callable[[Command], str | None] | None] | None = None,
        *,
        wait: float = COMMAND_WAIT_S,
    ) -> CommandLoop:
        """Start (or re-arm) the command loop of one agent: a thread that long-polls its commands and runs
        ``handlers`` (``{"kill": fn, "inject": fn, "model": fn}``; kill and model have defaults, see
        ``AgentHandle.on_command``). Calling it again for the same agent replaces the handlers."""
        handle = agent if isinstance(agent, AgentHandle) else None
        agent_id = handle.agent_id if handle is not None else str(agent)
        with self._cond:
            loop = self._loops.get(agent_id)
            if loop is not None and loop.alive:
                if handle is not None:
                    loop.agent = handle
                loop.set_handlers(handlers or {})
                return loop
            loop = CommandLoop(self, handle or self.agent(agent_id), handlers or {}, wait=wait)
            self._loops[agent_id] = loop
        loop.start()
        return loop

    def stop_commands(self, agent_id: str | None = None, timeout: float = 2.0) -> None:
        """Stop the command loop of one agent (or of all): no more commands are fetched."""
        with self._cond:
            ids = [agent_id] if agent_id is not None else list(self._loops)
            loops = [self._loops.pop(i) for i in ids if i in self._loops]
        for loop in loops:
            loop.stop()
        for loop in loops:
            loop.join(timeout)

    def emit(
        self,
        event_type: str,
        agent_id: str,
        data: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        ts: datetime | None = None,
    ) -> str | None:
        """Queue one event and return its id at once (None if it could not even be built). Never raises."""
        try:
            now = datetime.now(UTC) if ts is None else ts
            event_id = new_id(int(now.timestamp() * 1000))
            event: dict[str, Any] = {
                "id": event_id,
                "type": event_type,
                "ts": utc_iso(now),
                "agent_id": agent_id,
                "data": {k: v for k, v in (data or {}).items() if v is not None},
            }
            if session_id is not None:
                event["session_id"] = session_id
        except Exception:  # noqa: BLE001 - reporting must never break the agent
            log.exception("could not build a %s event; dropped", event_type)
            self._count(dropped=1)
            return None
        self._enqueue(event)
        return event_id

    def _enqueue(self, event: dict[str, Any]) -> None:
        with self._cond:
            if self._stopping:
                self._counts["dropped"] += 1
                return
            was_empty = not self._queue
            if was_empty:
                self._oldest_at = time.monotonic()
            # A bounded queue: under a long outage, keep the newest events (what the HUD shows now).
            while len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self._counts["dropped"] += 1
            self._queue.append(event)
            # Wake the sender when its flush-interval clock starts, and when a batch is full.
            if was_empty or len(self._queue) >= self.max_batch:
                self._cond.notify_all()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="helicarrier-client", daemon=True)
            self._thread.start()

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Send everything queued now and wait: True once nothing is left queued or in flight (delivered,
        or refused / given up: see ``stats``), False on timeout."""
        self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushers += 1
            self._cond.notify_all()
            try:
                while self._queue or self._inflight:
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining if remaining is not None else 1.0)
                return True
            finally:
                self._flushers -= 1

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the command loops, flush for up to ``timeout`` seconds, then stop the sender; what is left
        is counted as dropped."""
        self.stop_commands(timeout=min(timeout, 2.0))
        flushed = self.flush(timeout) if self._thread is not None else not self._queue
        self._abort.set()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, self.timeout + 1.0))
        with self._cond:
            self._counts["dropped"] += len(self._queue)
            self._queue.clear()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        return flushed

    def __enter__(self) -> HelicarrierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> ClientStats:
        with self._cond:
            return ClientStats(**self._counts, queued=len(self._queue) + self._inflight)

    def _count(self, **deltas: int) -> None:
        with self._cond:
            for key, n in deltas.items():
                self._counts[key] += n

    # -- the sender thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._queue:
                        due = self._oldest_at + self.flush_interval - time.monotonic()
                        if len(self._queue) >= self.max_batch or self._flushers or due <= 0:
                            break
                        self._cond.wait(due)
                    else:
                        self._cond.wait()
                n = min(self.max_batch, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
                self._inflight = n
                self._oldest_at = time.monotonic()
            try:
                self._send_batch(batch)
            except Exception:  # noqa: BLE001 - the sender must outlive any bug in one batch
                log.exception("unexpected error sending %d events; dropped", len(batch))
                self._count(failed=len(batch))
            finally:
                with self._cond:
                    self._inflight = 0
                    self._cond.notify_all()

    def _send_batch(self, events: list[dict[str, Any]], key: str | None = None) -> None:
        """Deliver one batch: same body and Idempotency-Key on every retry, so it is stored once."""
        body = json.dumps(
            {
                "version": "v2",
                "source": {"name": self.source, "provenance": f"helicarrier-client/{CLIENT_VERSION}"},
                "events": events,
            },
            default=_json_default,
            separators=(",", ":"),
        ).encode()
        key = key or uuid.uuid4().hex
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                resp = self._request("POST", INGEST_PATH, body, headers)
            except _TRANSPORT_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status in (200, 207):
                    self._accepted(events, resp)
                    return
                if resp.status == 413 and len(events) > 1:
                    # Over the server's size limits: halve and send each part under its own key.
                    half = len(events) // 2
                    self._send_batch(events[:half])
                    self._send_batch(events[half:])
                    return
                if resp.status not in _RETRY_STATUSES:
                    log.warning(
                        "server refused %d events with %d: %s; dropped",
                        len(events),
                        resp.status,
                        _error_text(resp),
                    )
                    self._count(failed=len(events))
                    return
                problem = f"HTTP {resp.status}: {_error_text(resp)}"
                retry_after = _retry_after(resp.headers.get("Retry-After"))
            attempt += 1
            if attempt > self.max_retries:
                log.warning("giving up on %d events after %d attempts: %s", len(events), attempt, problem)
                self._count(failed=len(events))
                return
            if self._healthy:
                log.warning("cannot reach %s (%s); retrying in the background", self.url, problem)
                self._healthy = False
            else:
                log.debug("attempt %d failed: %s", attempt, problem)
            self._count(retries=1)
            # Full jitter: a fleet that lost the server together does not come back in lockstep.
            delay = self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))
            if retry_after is not None:
                delay = min(retry_after, max(self.backoff_max, 60.0))
            if self._abort.wait(delay):
                log.warning("client closed: %d unsent events dropped (%s)", len(events), problem)
                self._count(dropped=len(events))
                return

    def _accepted(self, events: list[dict[str, Any]], resp: Response) -> None:
        if not self._healthy:
            log.info("%s reachable again", self.url)
            self._healthy = True
        if resp.status == 200:
            self._count(sent=len(events))
            return
        doc = resp.json() or {}
        rejected = [r for r in doc.get("results", []) if r.get("status") == "rejected"]
        self._count(sent=len(events) - len(rejected), failed=len(rejected))
        for r in rejected[:5]:
            log.warning("event %s refused: %s", r.get("id"), (r.get("error") or {}).get("message"))
        if len(rejected) > 5:
            log.warning("... and %d more events refused", len(rejected) - 5)

    # -- HTTP: the one place requests are made (the sender, command polls and acks) ---------------------

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> Response:
        """One HTTP request with the bearer token on this thread's keep-alive connection.

        ``timeout`` (seconds, default the client's) bounds connecting and each read: a long-poll passes
        more than it asks the server to wait. Raises OSError / http.client.HTTPException when no answer
        came back; any status is returned.
        """
        all_headers = {"Authorization": f"Bearer {self._token}", "User-Agent": "helicarrier-client"}
        all_headers.update(headers or {})
        limit = self.timeout if timeout is None else timeout
        conn = getattr(self._local, "conn", None)
        reused = conn is not None
        if conn is None:
            conn = self._local.conn = self._connect()
        _set_timeout(conn, limit)
        try:
            return self._exchange(conn, method, path, body, all_headers)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            conn.close()
            self._local.conn = None
            stopping = getattr(self._local, "stopping", None)
            if not reused or (stopping is not None and stopping.is_set()):
                raise
            # The server closed an idle keep-alive connection: one immediate retry on a fresh one.
            conn = self._local.conn = self._connect()
            _set_timeout(conn, limit)
            return self._exchange(conn, method, path, body, all_headers)
        except BaseException:
            conn.close()
            self._local.conn = None
            raise

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        with self._cond:
            self._conns[threading.get_ident()] = conn
        return conn

    def _drop_connection(self) -> None:
        """Close this thread's connection (a thread that is about to end)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        with self._cond:
            self._conns.pop(threading.get_ident(), None)
        if conn is not None:
            conn.close()

    def _interrupt(self, thread: threading.Thread | None) -> None:
        """Wake a thread blocked reading on its connection (a long-poll) by shutting the socket down."""
        if thread is None or thread.ident is None:
            return
        with self._cond:
            conn = self._conns.get(thread.ident)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        self._count(requests=1)
        conn.request(method, self._prefix + path, body=body, headers=headers)
        raw = conn.getresponse()
        data = raw.read()
        if raw.will_close:
            conn.close()
            self._local.conn = None
        return Response(raw.status, {k.title(): v for k, v in raw.getheaders()}, data)


def _set_timeout(conn: http.client.HTTPConnection, seconds: float) -> None:
    conn.timeout = seconds  # used when it connects
    if conn.sock is not None:
        conn.sock.settimeout(seconds)


def _error_text(resp: Response) -> str:
    doc = resp.json()
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return str(doc["error"].get("message") or doc["error"])
    return resp.body[:200].decode("utf-8", "replace")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


class AgentHandle:
    """Reports for one agent. Every method returns at once and never raises."""

    def __init__(
        self,
        client: HelicarrierClient,
        agent_id: str,
        *,
        name: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.client, self.agent_id, self.name, self.labels = client, agent_id, name, labels
        # The model the agent last reported, or was switched to by a model command: heartbeats and sessions
        # that name no model report this one. Agent code picks its model from here to obey a switch.
        self.model: str | None = None
        self.provider: str | None = None
        # Set by a kill command (default handler). ``stop_strength``: "graceful" (finish the current step)
        # or "force" (stop as soon as possible). Clear it to work again after a restart.
        self.stop_requested = threading.Event()
        self.stop_strength: str | None = None
        self.kill_grace_s = 30.0  # graceful kill: how long the agent's code gets to end its session itself
        self.current_session: SessionHandle | None = None
        # Cleared by a pause command, set again by a resume (or a kill, which must not wait for one):
        # ``check_stop()`` waits on it, so a paused agent finishes its current model call, then waits.
        self.running = threading.Event()
        self.running.set()
        self.pause_reason: str | None = None
        # What the last command poll said: a locked budget holds this agent; start no new work while True.
        self.budget_locked = False

    def on_command(
        self,
        kill: Callable[[Command], str | None] | None = None,
        inject: Callable[[Command], str | None] | None = None,
        model: Callable[[Command], str | None] | None = None,
        *,
        wait: float = COMMAND_WAIT_S,
    ) -> CommandLoop:
        """Obey commands from Helicarrier: a background thread long-polls this agent's commands.

        A handler gets a ``Command`` and returns the message to report (``completed``); raising
        ``CommandRejected(reason)`` before ``cmd.accept()`` answers ``rejected``; any other exception answers
        ``failed`` with its text. Defaults: ``kill`` sets ``stop_requested`` and ends the current session as
        ``killed`` (graceful: after the agent's code ended it itself, within ``kill_grace_s``; force: at
        once); ``model`` switches ``self.model`` so the next session and heartbeat report it. Without an
        ``inject`` handler, injected tasks are rejected.
        """
        handlers = {"kill": kill, "inject": inject, "model": model}  # pause and resume: see default_pause
        return self.client.start_commands(
            self, {k: v for k, v in handlers.items() if v is not None}, wait=wait
        )

    @property
    def paused(self) -> bool:
        return not self.running.is_set()

    def check_stop(self, timeout: float | None = None) -> None:
        """Call between steps (after a model call). While paused, wait here until a resume (or a kill, or
        ``timeout`` seconds); then raise ``StopRequested`` once a kill was requested (inside a ``with``
        session: it ends killed)."""
        self.running.wait(timeout)
        if self.stop_requested.is_set():
            raise StopRequested(self.stop_strength or "graceful")

    def heartbeat(
        self,
        status: str = "running",
        *,
        current_task: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        ts: datetime | None = None,
        **extra: Any,
    ) -> str | None:
        """status: running, idle, stalled or waiting. Name and labels ride along so the server always has
        them. Waiting on something outside the agent (a build, a human, a rate limit)? Say for how long, and
        the stuck-loop sentinel leaves it alone meanwhile: ``heartbeat("waiting", expected_s=1800,
        waiting_for="CI build")``."""
        if model is not None:
            self.model = model
        if provider is not None:
            self.provider = provider
        data = {
            "status": status,
            "current_task": current_task,
            "model": self.model,
            "provider": self.provider,
            "name": self.name,
            "labels": self.labels,
            **extra,
        }
        return self.client.emit("agent.heartbeat", self.agent_id, data, ts=ts)

    def session(
        self,
        *,
        model: str | None = None,
        provider: str | None = None,
        task: str | None = None,
        task_kind: str | None = None,
        labels: dict[str, str] | None = None,
        session_id: str | None = None,
        ts: datetime | None = None,
    ) -> SessionHandle:
        """Start a session now (the start event is queued here); end it with ``end()`` or a ``with`` block."""
        session = SessionHandle(self, session_id or new_id())
        data = {
            "model": model or self.model,
            "provider": provider or self.provider,
            "task": task,
            "task_kind": task_kind,
            "labels": labels,
        }
        self.client.emit("session.start", self.agent_id, data, session_id=session.id, ts=ts)
        self.current_session = session
        return session

    def usage(
        self,
        provider: str,
        *,
        response: Any = None,
        usage: Any = None,
        model: str | None = None,
        cost: Decimal | str | float | None = None,
        session_id: str | None = None,
        ts: datetime | None = None,
    ) -> str | None:
        """One model call: pass the provider's ``response`` (or its ``usage`` object) exactly as returned."""
        data = {
            "provider": provider,
            "model": model,
            "response": _plain(response),
            "usage": _plain(usage),
            "cost": str(cost) if isinstance(cost, Decimal) else cost,
        }
        return self.client.emit("usage", self.agent_id, data, session_id=session_id, ts=ts)

    def log(
        self,
        level: str,
        message: str,
        *,
        attrs: dict[str, Any] | None = None,
        session_id: str | None = None,
        ts: datetime | None = None,
    ) -> str | None:
        """level: debug, info, warning, error or critical."""
        data = {"level": level, "message": message, "attrs": attrs}
        return self.client.emit("log", self.agent_id, data, session_id=session_id, ts=ts)


class SessionHandle:
    """A running session. As a context manager it ends ``succeeded``, or ``failed`` with the exception."""

    def __init__(self, agent: AgentHandle, session_id: str) -> None:
        self.agent, self.id = agent, session_id
        self.ended = False
        self.status: str | None = None
        self._ended = threading.Event()

    def usage(self, provider: str, **kwargs: Any) -> str | None:
        return self.agent.usage(provider, session_id=self.id, **kwargs)

    def log(self, level: str, message: str, **kwargs: Any) -> str | None:
        return self.agent.log(level, message, session_id=self.id, **kwargs)

    def end(self, status: str = "succeeded", error: str | None = None, *, ts: datetime | None = None) -> None:
        """status: succeeded, failed, killed or timeout. Only the first call counts."""
        with self.agent.client._cond:  # the kill handler may end it from another thread
            if self.ended:
                return
            self.ended, self.status = True, status
        data = {"status": status, "error": error}
        self.agent.client.emit("session.end", self.agent.agent_id, data, session_id=self.id, ts=ts)
        if self.agent.current_session is self:
            self.agent.current_session = None
        self._ended.set()

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def __enter__(self) -> SessionHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.end("succeeded")
        elif isinstance(exc, StopRequested):
            self.end("killed", f"stopped on a {exc.strength} kill command")
        elif isinstance(exc, Exception):
            self.end("failed", f"{type(exc).__name__}: {exc}")
        else:  # KeyboardInterrupt, SystemExit: the agent was stopped, not broken
            self.end("killed", f"{type(exc).__name__}: {exc}".rstrip(": "))
        # Never swallow the exception: returning None re-raises it.


# -- commands: kill, inject, model ----------------------------------------------------------------------


class CommandRejected(Exception):
    """Raise from a command handler, before ``cmd.accept()``, to refuse a command with a reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StopRequested(Exception):
    """Raised by ``AgentHandle.check_stop()`` after a kill; a session's ``with`` block ends ``killed``."""

    def __init__(self, strength: str = "graceful") -> None:
        super().__init__(f"{strength} kill requested")
        self.strength = strength


class Command:
    """One command handed to a handler: ``kind`` (kill, inject, model), what it says and who sent it."""

    def __init__(self, loop: CommandLoop, raw: Mapping[str, Any]) -> None:
        self._loop = loop
        self.agent: AgentHandle = loop.agent
        self.id: str = str(raw.get("id"))
        self.kind: str = str(raw.get("kind"))
        self.payload: dict[str, Any] = dict(raw.get("payload") or {})
        self.reason: str | None = raw.get("reason")
        self.strength: str | None = raw.get("strength")
        self.issued_by: str | None = raw.get("issued_by")
        self.session_id: str | None = raw.get("session_id")
        self.accepted = False
        self._accept_lock = threading.Lock()

    @property
    def agent_id(self) -> str:
        return self.agent.agent_id

    @property
    def task(self) -> str | None:
        return self.payload.get("task")

    @property
    def mode(self) -> str | None:
        return self.payload.get("mode")

    @property
    def model(self) -> str | None:
        return self.payload.get("model")

    @property
    def provider(self) -> str | None:
        return self.payload.get("provider")

    def accept(self, message: str | None = None) -> None:
        """Answer ``accepted`` now (once). Done for you when the handler returns, if it did not."""
        with self._accept_lock:
            if self.accepted:
                return
            self.accepted = True
        self._loop.ack(self, "accepted", message)

    def __repr__(self) -> str:
        return f"Command({self.kind} {self.id} for {self.agent_id})"


def default_kill(cmd: Command) -> str:
    """Stop the agent: ``stop_requested`` is set and the current session ends ``killed``.

    graceful: the agent's code gets ``kill_grace_s`` to finish its step and end the session itself (see
    ``AgentHandle.check_stop``); force, or when the grace runs out: the session is ended here."""
    cmd.accept()
    agent = cmd.agent
    strength = cmd.strength or "graceful"
    agent.stop_strength = strength
    agent.stop_requested.set()
    agent.running.set()  # a paused agent must not wait for a resume to hear that it is stopped
    session = agent.current_session
    if session is None:
        return f"stopped ({strength}); no session was running"
    if strength == "graceful" and session.wait_ended(agent.kill_grace_s):
        return f"stopped (graceful) after the current step; session {session.id} ended {session.status}"
    session.end("killed", f"killed by {cmd.issued_by or 'an operator'}: {cmd.reason or 'no reason given'}")
    return f"stopped ({strength}); session {session.id} ended {session.status}"


def default_model(cmd: Command) -> str:
    """Switch the handle's model: the next session and heartbeat report it."""
    if not cmd.model:
        raise CommandRejected("no model named")
    cmd.agent.model = cmd.model
    if cmd.provider:
        cmd.agent.provider = cmd.provider
    return f"switched to {cmd.provider + '/' if cmd.provider else ''}{cmd.model}"


def default_pause(cmd: Command) -> str:
    """Pause: the agent's code finishes its current model call, then waits in ``check_stop()``."""
    agent = cmd.agent
    agent.pause_reason = cmd.reason
    agent.running.clear()
    return "paused: waiting in check_stop() after the current model call"


def default_resume(cmd: Command) -> str:
    agent = cmd.agent
    agent.pause_reason = None
    agent.running.set()
    return "resumed"


DEFAULT_HANDLERS: dict[str, Callable[[Command], str | None]] = {
    "kill": default_kill,
    "model": default_model,
    "pause": default_pause,
    "resume": default_resume,
}


class CommandLoop:
    """One agent's command loop: a thread long-polls ``GET /api/v1/agents/<id>/commands``; each command
    runs in its own short-lived thread (a kill is obeyed while an injected task is still running), and is
    answered through ``POST /api/v1/commands/<id>/ack`` with retries. Never raises into the agent: errors
    are logged and the poll backs off."""

    def __init__(
        self,
        client: HelicarrierClient,
        agent: AgentHandle,
        handlers: Mapping[str, Callable[[Command], str | None]],
        *,
        wait: float = COMMAND_WAIT_S,
    ) -> None:
        self.client, self.agent, self.wait = client, agent, wait
        self.handlers: dict[str, Callable[[Command], str | None]] = {}
        self.set_handlers(handlers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.handled = 0  # commands answered so far
        # The commands taken, newest last, with the final answer once given: the server hands a command over
        # again while it has no answer (at least once), and a repeat must not be obeyed twice.
        self._taken: OrderedDict[str, tuple[str, str | None] | None] = OrderedDict()

    def set_handlers(self, handlers: Mapping[str, Callable[[Command], str | None]]) -> None:
        self.handlers = {**DEFAULT_HANDLERS, **{k: v for k, v in handlers.items() if v is not None}}

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        if self._thread is None:
            name = f"helicarrier-commands-{self.agent.agent_id}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.client._interrupt(self._thread)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in [self._thread, *list(self._workers)]:
            if thread is not None and thread is not threading.current_thread():
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                thread.join(remaining)

    # -- polling -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        self.client._local.stopping = self._stop  # no keep-alive retry once stopping
        failures = 0
        path = f"/api/v1/agents/{quote(self.agent.agent_id, safe='')}/commands?wait={self.wait:g}"
        try:
            while not self._stop.is_set():
                try:
                    resp = self.client._request("GET", path, timeout=self.wait + self.client.timeout)
                    if resp.status != 200:
                        raise _PollError(f"HTTP {resp.status}: {_error_text(resp)}")
                    doc = resp.json()
                    commands = doc.get("commands") if isinstance(doc, dict) else None
                    if not isinstance(commands, list):
                        raise _PollError("the answer holds no command list")
                    self.agent.budget_locked = doc.get("budget_locked") is True
                except (*_TRANSPORT_ERRORS, _PollError) as exc:
                    if self._stop.is_set():
                        break
                    failures += 1
                    problem = f"{type(exc).__name__}: {exc}" if not isinstance(exc, _PollError) else str(exc)
                    if failures == 1:
                        log.warning("command poll for %s failed (%s); retrying", self.agent.agent_id, problem)
                    else:
                        log.debug("command poll for %s failed again: %s", self.agent.agent_id, problem)
                    if self._stop.wait(self._backoff(failures)):
                        break
                    continue
                except Exception:  # noqa: BLE001 - the loop must outlive any bug
                    log.exception("command poll for %s: unexpected error", self.agent.agent_id)
                    failures += 1
                    if self._stop.wait(self._backoff(failures)):
                        break
                    continue
                if failures:
                    log.info("command poll for %s works again", self.agent.agent_id)
                    failures = 0
                for raw in commands:
                    if isinstance(raw, dict):
                        self._dispatch(raw)
        finally:
            self.client._drop_connection()

    def _backoff(self, failures: int) -> float:
        cap = min(self.client.backoff_max, self.client.backoff_base * 2 ** (failures - 1))
        return cap / 2 + self._rng.uniform(0, cap / 2)

    def _dispatch(self, raw: dict[str, Any]) -> None:
        cmd = Command(self, raw)
        if not self._take(cmd):
            return
        if self._stop.is_set():  # fetched while shutting down: say so rather than leave it hanging
            self.ack(cmd, "rejected", "the agent's client is shutting down", attempts=1)
            return
        worker = threading.Thread(
            target=self._handle, args=(cmd,), name=f"helicarrier-{cmd.kind}", daemon=True
        )
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _take(self, cmd: Command) -> bool:
        """True for a command seen for the first time. A repeat is not obeyed again: still being obeyed, it
        is left to its thread; answered, its answer is sent again (the server had not heard it)."""
        with self._lock:
            if cmd.id not in self._taken:
                self._taken[cmd.id] = None
                while len(self._taken) > MAX_REMEMBERED_COMMANDS:
                    self._taken.popitem(last=False)
                return True
            answer = self._taken[cmd.id]
        if answer is not None:
            self.ack(cmd, *answer)
        return False

    # -- one command ---------------------------------------------------------------------------------

    def _handle(self, cmd: Command) -> None:
        try:
            handler = self.handlers.get(cmd.kind)
            try:
                if handler is None:
                    raise CommandRejected(f"this agent takes no {cmd.kind} commands")
                message = handler(cmd)
            except CommandRejected as exc:
                if cmd.accepted:
                    self._finish(cmd, "failed", f"rejected after accepting: {exc.reason}")
                else:
                    self.ack(cmd, "rejected", exc.reason)
            except Exception as exc:  # noqa: BLE001 - a broken handler is reported, never raised
                log.exception("%s handler of %s failed", cmd.kind, self.agent.agent_id)
                self._finish(cmd, "failed", f"{type(exc).__name__}: {exc}")
            else:
                cmd.accept()
                self._finish(cmd, "completed", "done" if message is None else str(message))
            self.handled += 1
        except Exception:  # noqa: BLE001
            log.exception("answering %r failed", cmd)
        finally:
            self.client._drop_connection()
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _finish(self, cmd: Command, state: str, message: str) -> None:
        # What the agent reported while obeying (its session's end, logs) lands before the answer: the
        # server then sees the session end "killed" through the normal path, and no usage after a kill.
        self.client.flush(timeout=min(5.0, self.client.timeout))
        self.ack(cmd, state, message)

    def ack(
        self, cmd: Command, state: str, message: str | None = None, *, attempts: int | None = None
    ) -> bool:
        """Answer a command, retrying what may not have reached the server. A 409 (the command already
        moved on, e.g. a repeated answer that had succeeded) counts as done."""
        if message is not None and len(message) > MAX_ACK_MESSAGE:
            message = message[: MAX_ACK_MESSAGE - 1] + "…"
        if state != "accepted":
            with self._lock:
                if cmd.id in self._taken:
                    self._taken[cmd.id] = (state, message)
        # The session the command was for is the evidence of which run the agent acted on: a kill is
        # confirmed only with it.
        answer = {"agent_id": cmd.agent_id, "state": state, "message": message, "session_id": cmd.session_id}
        body = json.dumps(answer).encode()
        path = f"/api/v1/commands/{quote(cmd.id, safe='')}/ack"
        headers = {"Content-Type": "application/json"}
        tries = attempts if attempts is not None else self.client.max_retries + 1
        for attempt in range(1, tries + 1):
            try:
                resp = self.client._request("POST", path, body, headers)
            except _TRANSPORT_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status == 200:
                    return True
                if resp.status == 409:
                    log.debug("%s ack of %r: already past it (%s)", state, cmd, _error_text(resp))
                    return True
                if resp.status not in _RETRY_STATUSES:
                    log.warning(
                        "%s ack of %r refused: HTTP %d %s", state, cmd, resp.status, _error_text(resp)
                    )
                    return False
                problem = f"HTTP {resp.status}: {_error_text(resp)}"
            if attempt == tries:
                log.warning(
                    "giving up on the %s ack of %r after %d attempts: %s", state, cmd, attempt, problem
                )
                return False
            log.debug("%s ack of %r failed (%s); retrying", state, cmd, problem)
            if self.client._abort.wait(self._backoff(attempt)):
                return False
        return False


class _PollError(Exception):
    """The server answered the poll with something other than a command list."""
