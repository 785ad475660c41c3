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
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["AgentHandle", "ClientStats", "HelicarrierClient", "Response", "SessionHandle", "new_id"]

log = logging.getLogger("helicarrier.client")

CLIENT_VERSION = "1"
INGEST_PATH = "/api/v1/ingest"
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
        if start:
            self.start()

    # -- reporting ------------------------------------------------------------------------------------

    def agent(
        self, agent_id: str, *, name: str | None = None, labels: dict[str, str] | None = None
    ) -> AgentHandle:
        return AgentHandle(self, agent_id, name=name, labels=labels)

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
        """Flush for up to ``timeout`` seconds, then stop the sender; what is left is counted as dropped."""
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

    # -- HTTP: the one place requests are made (the command loop will poll through it too) -------------

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        """One HTTP request with the bearer token on this thread's keep-alive connection.

        Raises OSError / http.client.HTTPException when no answer came back; any status is returned.
        """
        all_headers = {"Authorization": f"Bearer {self._token}", "User-Agent": "helicarrier-client"}
        all_headers.update(headers or {})
        conn = getattr(self._local, "conn", None)
        reused = conn is not None
        if conn is None:
            conn = self._local.conn = self._connect()
        try:
            return self._exchange(conn, method, path, body, all_headers)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            conn.close()
            self._local.conn = None
            if not reused:
                raise
            # The server closed an idle keep-alive connection: one immediate retry on a fresh one.
            conn = self._local.conn = self._connect()
            return self._exchange(conn, method, path, body, all_headers)
        except BaseException:
            conn.close()
            self._local.conn = None
            raise

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout)

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
        """status: running, idle or stalled. Name and labels ride along so the server always has them."""
        data = {
            "status": status,
            "current_task": current_task,
            "model": model,
            "provider": provider,
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
        data = {"model": model, "provider": provider, "task": task, "task_kind": task_kind, "labels": labels}
        self.client.emit("session.start", self.agent_id, data, session_id=session.id, ts=ts)
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

    def usage(self, provider: str, **kwargs: Any) -> str | None:
        return self.agent.usage(provider, session_id=self.id, **kwargs)

    def log(self, level: str, message: str, **kwargs: Any) -> str | None:
        return self.agent.log(level, message, session_id=self.id, **kwargs)

    def end(self, status: str = "succeeded", error: str | None = None, *, ts: datetime | None = None) -> None:
        """status: succeeded, failed, killed or timeout. Only the first call counts."""
        if self.ended:
            return
        self.ended = True
        data = {"status": status, "error": error}
        self.agent.client.emit("session.end", self.agent.agent_id, data, session_id=self.id, ts=ts)

    def __enter__(self) -> SessionHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.end("succeeded")
        elif isinstance(exc, Exception):
            self.end("failed", f"{type(exc).__name__}: {exc}")
        else:  # KeyboardInterrupt, SystemExit: the agent was stopped, not broken
            self.end("killed", f"{type(exc).__name__}: {exc}".rstrip(": "))
        # Never swallow the exception: returning None re-raises it.
