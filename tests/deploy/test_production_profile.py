"""The production profile: PostgreSQL pool settings reach the engine, and HELICARRIER_READ_DATABASE_URL sends
the analytics reads to a replica while control and ingest stay on the primary."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from helicarrier.config import load_settings
from helicarrier.data.engine import make_engine
from helicarrier.data.models import Command, UsageEvent
from helicarrier.data.pool import PoolSettings
from helicarrier.data.schema import _PG_MIGRATION_LOCK_KEY, ensure_schema
from tests.conftest import BACKENDS


@pytest.fixture
def pg_url(request) -> str:
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL backend not selected")
    return request.getfixturevalue("pg_schemas").new()


def test_pool_settings_from_the_environment_reach_the_postgresql_engine(pg_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HELICARRIER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HELICARRIER_DB_POOL_SIZE", "3")
    monkeypatch.setenv("HELICARRIER_DB_MAX_OVERFLOW", "1")
    monkeypatch.setenv("HELICARRIER_DB_POOL_TIMEOUT_S", "7")
    monkeypatch.setenv("HELICARRIER_DB_STATEMENT_TIMEOUT_MS", "300")
    monkeypatch.setenv("HELICARRIER_DB_CONNECT_TIMEOUT_S", "4")
    pool = load_settings().pool
    assert pool == PoolSettings(
        size=3, max_overflow=1, timeout_s=7, statement_timeout_ms=300, connect_timeout_s=4
    )
    engine = make_engine(pg_url, pool=pool)
    try:
        assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (3, 1, 7)
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
            # The URL's own options (here the test schema) are kept beside the timeout.
            assert conn.execute(text("SELECT current_schema()")).scalar().startswith("hct_")
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(2)"))
    finally:
        engine.dispose()


def test_migrations_are_not_bounded_by_the_statement_timeout(pg_url):
    """A worker waiting for another's migration (the migration lock), or a long migration, is not cancelled
    by the requests' statement timeout."""
    holder = make_engine(pg_url)
    engine = make_engine(pg_url, pool=PoolSettings(statement_timeout_ms=300))
    try:
        with holder.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK_KEY})
            waiting = threading.Thread(target=lambda: result.append(ensure_schema(engine)))
            result: list = []
            waiting.start()
            # Hold the lock well past the 300 ms timeout while ensure_schema waits on it.
            waiting.join(timeout=1.5)
            assert waiting.is_alive() and not result
        waiting.join(timeout=60)
        assert result and result[0].upgraded
    finally:
        engine.dispose()
        holder.dispose()


def _usage(api, agent: str, session: str, tokens: int, token: str | None = "default"):
    now = datetime.now(UTC).isoformat()
    resp = api.post(
        {
            "version": "v2",
            "source": {"name": "replica-test"},
            "events": [
                {
                    "id": f"{session}-u",
                    "type": "usage",
                    "ts": now,
                    "agent_id": agent,
                    "session_id": session,
                    "data": {
                        "provider": "openai",
                        "model": "gpt-4o",
                        "usage": {"prompt_tokens": tokens, "completion_tokens": 0},
                    },
                }
            ],
        },
        token=token,
    )
    assert resp.status_code == 200, resp.get_json()


def test_analytics_read_the_replica_and_control_and_ingest_the_primary(ctl, make_api, empty_db_url, make_app):
    # The "replica": another database whose data differs from the primary's (a lagging replica's would).
    replica_app = make_app(database_url=empty_db_url)
    replica = ctl.__class__(
        replica_app, replica_app.server.config["HELICARRIER"].repo.create_token("r", "ingest")[0]
    )
    _usage(replica, "replica-agent", "replica-session", 7777)
    _usage(ctl, "atlas-01", "s1", 111)

    both = make_api(read_database_url=empty_db_url)
    read = {"Authorization": f"Bearer {ctl.control_token}"}
    usage = both.client.get("/api/v1/usage", headers=read).get_json()
    assert usage["totals"]["input_tokens"] == 7777, usage["totals"]
    sessions = both.client.get("/api/v1/sessions", headers=read).get_json()["sessions"]
    assert [s["id"] for s in sessions] == ["replica-session"]

    # Ingest and control answer from the primary: the token is the primary's, the rows land there.
    _usage(both, "atlas-01", "s1b", 5)
    kill = both.post(
        {"reason": "runaway", "strength": "force"},
        path="/api/v1/agents/atlas-01/kill",
        token=ctl.control_token,
    )
    assert kill.status_code == 201, kill.get_json()
    assert ctl.count(Command) == 1 and replica.count(Command) == 0
    assert ctl.count(UsageEvent) == 2 and replica.count(UsageEvent) == 1
    with replica.repo.engine.connect() as conn:
        assert conn.execute(select(func.sum(UsageEvent.input_tokens))).scalar() == 7777
