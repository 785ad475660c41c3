"""/readyz: ready when the database answers, its schema is the code's head and a scheduler beat recently;
503 with Retry-After and the reason otherwise."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text, update

from helicarrier.data.models import ServiceFlag
from helicarrier.data.types import utcnow
from helicarrier.health import HEARTBEAT_FLAG
from helicarrier.scheduler.runner import Scheduler, default_jobs


def test_not_ready_until_a_scheduler_beats_then_ready_then_stale(app, client):
    ctx = app.server.config["HELICARRIER"]
    first = client.get("/readyz")
    assert first.status_code == 503 and first.headers["Retry-After"] == "5"
    assert first.get_json()["checks"] == {
        "database": "ok",
        "schema": "ok",
        "scheduler": "no scheduler has run here yet",
    }
    scheduler = Scheduler(ctx, jobs=[j for j in default_jobs() if j.name == "heartbeat"])
    scheduler.start()
    try:
        deadline = utcnow() + timedelta(seconds=20)
        while client.get("/readyz").status_code != 200:
            assert utcnow() < deadline, "the scheduler never beat"
            time.sleep(0.1)
    finally:
        scheduler.shutdown()
    assert client.get("/readyz").get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "scheduler": "ok"},
    }
    with ctx.repo.engine.begin() as conn:
        old = utcnow() - timedelta(minutes=5)
        conn.execute(update(ServiceFlag).where(ServiceFlag.name == HEARTBEAT_FLAG).values(updated_at=old))
    stale = client.get("/readyz")
    assert stale.status_code == 503 and "s old" in stale.get_json()["checks"]["scheduler"]


def test_not_ready_when_the_schema_is_not_the_codes(app, client):
    ctx = app.server.config["HELICARRIER"]
    ctx.repo.set_flag(HEARTBEAT_FLAG, "test")
    with ctx.repo.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        resp = client.get("/readyz")
        assert resp.status_code == 503 and resp.get_json()["checks"]["schema"].startswith("at 0001")
    finally:
        with ctx.repo.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": ctx.schema.head})
