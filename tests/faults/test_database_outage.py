"""The database goes away and comes back: while it is away every API request is a 503 with Retry-After and
a JSON body (never a 500, never a hang), pages say so, /readyz answers 503 in milliseconds; when it is back
the app recovers by itself and nothing it acknowledged is lost. Against a real PostgreSQL the test stops."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import func, select

from helicarrier.config import load_settings
from helicarrier.data.models import LogEvent
from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"


def _batch(n: int, start: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    events = [
        {"id": f"e{i}", "type": "log", "ts": now, "agent_id": "a-1", "data": {"message": f"line {i}"}}
        for i in range(start, start + n)
    ]
    return orjson.dumps({"version": "v2", "source": {"name": "host"}, "events": events})


def _timed(call):
    t0 = time.monotonic()
    resp = call()
    return resp, time.monotonic() - t0


def test_an_outage_is_a_503_with_retry_after_and_nothing_acknowledged_is_lost(
    private_postgres, tmp_path: Path
):
    settings = load_settings(database_url=private_postgres.url, data_dir=tmp_path, secret_key="k")
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("host", "ingest,read")
    ctx.repo.create_user("vera", PASSWORD, "viewer")
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "vera", "password": PASSWORD, "csrf": csrf})
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert client.post("/api/v1/ingest", data=_batch(50, 0), headers=auth).status_code == 200

    private_postgres.stop()
    for call in (
        lambda: client.post("/api/v1/ingest", data=_batch(50, 50), headers=auth),
        lambda: client.get("/api/v1/sessions", headers=auth),
        lambda: client.get("/api/v1/agents/a-1/commands?wait=5", headers=auth),
    ):
        resp, took = _timed(call)
        assert resp.status_code == 503, resp.get_data(as_text=True)
        assert resp.headers["Retry-After"] == "5" and took < 10
        assert resp.get_json()["error"]["code"] == "database_unavailable"
    ready, took = _timed(lambda: client.get("/readyz"))
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "unreachable" and took < 2
    assert client.get("/healthz").status_code == 503
    page = client.get("/")
    assert page.status_code == 503 and 'id="db-unreachable"' in page.get_data(as_text=True)
    callback = client.post("/_dash-update-component", json={"output": "x.children", "inputs": []})
    assert callback.status_code == 503

    private_postgres.start()
    resp = client.post("/api/v1/ingest", data=_batch(50, 50), headers=auth)  # the client's retry
    assert resp.status_code == 200 and resp.get_json()["accepted"] == 50
    with ctx.repo.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LogEvent)).scalar_one() == 100
    assert client.get("/").status_code == 200
    ctx.repo.dispose()
