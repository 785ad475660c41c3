"""The whole server is killed (SIGKILL to gunicorn's master and workers, mid-load) and started again, three
times, while an agent keeps reporting with its retries: every batch the server acknowledged is stored, and
the retries of the batches it did not store nothing twice. A real gunicorn on each backend."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import func, select

from helicarrier.data.models import LogEvent, UsageEvent
from tests.servers import free_port, server_env
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
BATCHES, PER_BATCH, CRASHES = 60, 40, 3


def _batch(b: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    usage = {
        "provider": "openai",
        "model": "gpt-4o",
        "usage": {"prompt_tokens": 100, "completion_tokens": 20},
    }
    events = [
        {
            "id": f"b{b}-{i}",
            "type": "usage" if i % 2 else "log",
            "ts": now,
            "agent_id": f"crash-{i % 4}",
            "session_id": f"s-{b}",
            "data": usage if i % 2 else {"message": f"batch {b} line {i}"},
        }
        for i in range(PER_BATCH)
    ]
    return orjson.dumps({"version": "v2", "source": {"name": "crash-drill"}, "events": events})


class Server:
    def __init__(self, settings, port: int):
        self.env = server_env(
            HELICARRIER_DATABASE_URL=settings.database_url,
            HELICARRIER_DATA_DIR=str(settings.data_dir),
            HELICARRIER_SECRET_KEY="k",
            HELICARRIER_LOG_LEVEL="WARNING",
        )
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "app:server",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ]
        # Its own process group: SIGKILL reaches the master and every worker at once, as a power cut does.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, start_new_session=True)
        wait_for(self._healthy, timeout=60, what="gunicorn to answer /healthz")

    def _healthy(self) -> bool:
        assert self.proc.poll() is None, f"gunicorn exited with {self.proc.returncode}"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


class Agent(threading.Thread):
    """Sends each batch until it is acknowledged (the same body and Idempotency-Key on every retry)."""

    def __init__(self, port: int, token: str):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.acknowledged: list[int] = []
        self.retries = 0

    def run(self) -> None:
        for b in range(BATCHES):
            body = _batch(b)
            while not self._send(b, body):
                self.retries += 1

    def _send(self, b: int, body: bytes) -> bool:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"crash-batch-{b}",
        }
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            threading.Event().wait(0.05)  # the server is down: try again shortly
            return False
        assert resp.status in (200, 503), f"batch {b}: {resp.status}"
        if resp.status == 200:
            self.acknowledged.append(b)
        return resp.status == 200


def test_acknowledged_events_survive_sigkills_of_the_whole_server(settings, repo):
    token, _ = repo.create_token("crash-drill", "ingest")
    server = Server(settings, free_port())
    server.start()
    agent = Agent(server.port, token)
    try:
        agent.start()
        for crash in range(1, CRASHES + 1):
            wait_for(
                lambda c=crash: len(agent.acknowledged) >= c * BATCHES // (CRASHES + 1),
                timeout=60,
                what=f"acknowledged batches before crash {crash}",
            )
            server.kill()
            server.start()
        agent.join(timeout=120)
        assert not agent.is_alive(), "the agent did not finish sending"
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()

    assert agent.retries >= CRASHES, "the crashes did not happen under load"
    assert agent.acknowledged == list(range(BATCHES))
    with repo.engine.connect() as conn:
        stored = {eid for model in (UsageEvent, LogEvent) for (eid,) in conn.execute(select(model.event_id))}
        rows = sum(
            conn.execute(select(func.count()).select_from(m)).scalar_one() for m in (UsageEvent, LogEvent)
        )
    assert rows == BATCHES * PER_BATCH, "an event was lost or stored twice"
    assert stored == {f"b{b}-{i}" for b in range(BATCHES) for i in range(PER_BATCH)}
