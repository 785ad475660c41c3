"""Two app instances (two gunicorn masters, two workers each, two ports) on one PostgreSQL behave as one:
ingest into both, a kill issued through one and confirmed through the other, one alert cycle per interval
across both (the leader lock), and the log lines posted to one read through the other.

The instances are started with docs/deploy.md's command: ``gunicorn app:server`` in the project directory
(which reads gunicorn.conf.py), configured by the environment alone."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from helicarrier.data.engine import make_engine
from helicarrier.data.models import AlertEvalCycle, UsageEvent
from helicarrier.data.repository import Repository
from helicarrier.data.schema import ensure_schema
from tests.conftest import BACKENDS
from tests.servers import free_port, server_env
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
# The command docs/deploy.md gives (the environment carries the rest).
GUNICORN = [sys.executable, "-m", "gunicorn", "app:server"]
ALERT_EVAL_S = 2


class Instance:
    def __init__(self, url: str, data_dir: Path, **extra_env: str):
        self.port = free_port()
        data_dir.mkdir()
        env = server_env(
            HELICARRIER_DATABASE_URL=url,
            HELICARRIER_DATA_DIR=str(data_dir),
            HELICARRIER_HOST="127.0.0.1",
            HELICARRIER_PORT=str(self.port),
            HELICARRIER_WORKERS="2",
            HELICARRIER_SECRET_KEY="one-key-for-every-instance",
            HELICARRIER_AUTO_MIGRATE="0",  # production: migrated once, beforehand
            HELICARRIER_ALERT_EVAL_S=str(ALERT_EVAL_S),
            HELICARRIER_LOG_LEVEL="WARNING",
            **extra_env,
        )
        env.pop("HELICARRIER_SCHEDULER", None)
        self.proc = subprocess.Popen(GUNICORN, cwd=ROOT, env=env, start_new_session=True)

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"gunicorn exited with {self.proc.returncode}"
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(
        self, method: str, path: str, body=None, token: str | None = None, forwarded_for: str | None = None
    ) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=None if body is None else orjson.dumps(body), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, orjson.loads(data) if data else {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def worker_pids(self) -> set[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}


def _batch(agent: str, session: str, n: int, tag: str) -> dict:
    now = datetime.now(UTC)
    usage = {
        "provider": "openai",
        "model": "gpt-4o",
        "usage": {"prompt_tokens": 100, "completion_tokens": 10},
    }
    events = [
        {"id": f"{tag}-hb", "type": "agent.heartbeat", "ts": now.isoformat(), "agent_id": agent,
         "data": {"status": "running", "provider": "openai", "model": "gpt-4o"}},
        {"id": f"{tag}-start", "type": "session.start", "ts": now.isoformat(), "agent_id": agent,
         "session_id": session, "data": {"model": "gpt-4o", "provider": "openai", "task": "t"}},
    ]  # fmt: skip
    for i in range(n):
        ts = (now + timedelta(milliseconds=i)).isoformat()
        events.append(
            {
                "id": f"{tag}-u{i}",
                "type": "usage",
                "ts": ts,
                "agent_id": agent,
                "session_id": session,
                "data": usage,
            }
        )
        events.append(
            {"id": f"{tag}-l{i}", "type": "log", "ts": ts, "agent_id": agent, "session_id": session,
             "data": {"message": f"{tag} line {i}"}}
        )  # fmt: skip
    return {"version": "v2", "source": {"name": "two-instances"}, "events": events}


@pytest.fixture
def pg_url(request) -> str:
    if "postgresql" not in BACKENDS:
        pytest.skip("two instances share a PostgreSQL; the PostgreSQL backend is not selected")
    url = request.getfixturevalue("pg_schemas").new()
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    return url


def test_two_instances_on_one_postgresql_behave_as_one(pg_url, tmp_path):
    repo = Repository.from_url(pg_url)
    agent_token, _ = repo.create_token("fleet-host", "ingest")
    operator, _ = repo.create_token("operator", "control,read")
    # A sits behind one reverse proxy (docs/deploy.md), B is reached directly.
    a = Instance(pg_url, tmp_path / "a", HELICARRIER_TRUSTED_PROXIES="1")
    b = Instance(pg_url, tmp_path / "b")
    try:
        wait_for(a.ready, 40, "instance A to answer /healthz")
        wait_for(b.ready, 40, "instance B to answer /healthz")

        # Ingest into both: one database holds everything, each instance reads what the other stored.
        assert a.request("POST", "/api/v1/ingest", _batch("atlas-01", "sa", 5, "a"), agent_token)[0] == 200
        assert b.request("POST", "/api/v1/ingest", _batch("atlas-02", "sb", 5, "b"), agent_token)[0] == 200
        with repo.engine.connect() as conn:
            assert len(conn.execute(select(UsageEvent.id)).all()) == 10
        for inst, session, tag in ((b, "sa", "a"), (a, "sb", "b")):
            status, detail = inst.request("GET", f"/api/v1/sessions/{session}", token=operator)
            assert status == 200, detail
            # The log lines the Pulse tails, posted to the other instance.
            assert f"{tag} line 4" in orjson.dumps(detail).decode()

        # A kill issued through A, fetched and confirmed through B, seen confirmed through A.
        status, issued = a.request(
            "POST",
            "/api/v1/agents/atlas-01/kill",
            {"reason": "runaway", "strength": "force"},
            operator,
            forwarded_for="203.0.113.9",  # the client's address, as A's proxy forwards it
        )
        assert status == 201, issued
        command = issued["command"]
        status, polled = b.request("GET", "/api/v1/agents/atlas-01/commands?wait=5", token=agent_token)
        assert status == 200 and [c["id"] for c in polled["commands"]] == [command["id"]], polled
        ack = {"agent_id": "atlas-01", "state": "completed", "message": "stopped", "session_id": "sa"}
        status, acked = b.request(
            "POST", f"/api/v1/commands/{command['id']}/ack", ack, agent_token, forwarded_for="198.51.100.1"
        )
        assert status == 200, acked
        status, seen = a.request("GET", f"/api/v1/commands/{command['id']}", token=operator)
        assert seen["command"]["state"] == "completed" and seen["command"]["verification"] == "awaiting", seen

        release = {"reason": "fixed"}
        status, released = b.request(
            "POST", "/api/v1/agents/atlas-01/release", release, operator, forwarded_for="198.51.100.1"
        )
        assert status == 200 and released["control_state"] == "active", released

        # Behind the proxy the audit names the client; without one a forged header is not believed.
        audit = repo.audit_entries()
        addresses = dict(zip(audit["action"], audit["remote_addr"], strict=True))
        assert addresses["command.kill"] == "203.0.113.9", addresses
        assert addresses["agent.release"] == "127.0.0.1", addresses

        # One alert cycle per interval across both instances: the leader lock holds across them.
        def cycles():
            with repo.engine.connect() as conn:
                rows = conn.execute(select(AlertEvalCycle.started_at, AlertEvalCycle.holder)).all()
            return rows if len(rows) >= 4 else None

        # Generous: a loaded machine starts the scheduling worker late; the wait ends when they are there.
        rows = wait_for(cycles, 90, "four alert cycles")
        holders = {h for _, h in rows}
        assert len(holders) == 1, holders  # one process evaluated, whichever instance it lives in
        pid = int(next(iter(holders)).rsplit(":", 1)[1])
        assert pid in a.worker_pids() | b.worker_pids()
        starts = sorted(t for t, _ in rows)
        gaps = [(y - x).total_seconds() for x, y in zip(starts, starts[1:], strict=False)]
        assert min(gaps) > ALERT_EVAL_S / 2, gaps  # never two cycles for one interval
        # Both instances see the one scheduler as alive.
        for inst in (a, b):
            status, body = inst.request("GET", "/readyz")
            assert status == 200, body
    finally:
        a.stop()
        b.stop()
        repo.dispose()
