"""Seeding a database through the real API, an ingest stream running beside an operation, and fresh
PostgreSQL databases to restore into."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.ingesting import provider_fixtures

USAGE = provider_fixtures()["openai_chat__full"]["data"]


def _batch(prefix: str, agent: str, session: str, start: datetime, usages: int) -> dict:
    def ev(n: int, type_: str, ts: datetime, data: dict, with_session: bool = True) -> dict:
        e = {"id": f"{prefix}-{n}", "type": type_, "ts": ts.isoformat(), "agent_id": agent, "data": data}
        if with_session:
            e["session_id"] = session
        return e

    events = [
        ev(0, "agent.heartbeat", start, {"status": "running", "model": "gpt-4.1"}, with_session=False),
        ev(1, "session.start", start, {"model": "gpt-4.1", "provider": "openai", "task": "drill é ✓"}),
    ]
    for i in range(usages):
        events.append(ev(10 + i, "usage", start + timedelta(seconds=i + 1), USAGE))
        events.append(
            ev(1000 + i, "log", start + timedelta(seconds=i + 1), {"level": "info", "message": f"step {i}"})
        )
    events.append(ev(2, "session.end", start + timedelta(seconds=usages + 2), {"status": "succeeded"}))
    return {"version": "v2", "source": {"name": "drill"}, "events": events}


def seed_through_api(api, days: int = 3, sessions_per_day: int = 3, usages: int = 5) -> None:
    """A few days of sessions, usage and logs, posted to POST /api/v1/ingest."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
    for d in range(days):
        for s in range(sessions_per_day):
            start = base + timedelta(days=d, hours=s)
            body = _batch(f"seed-{d}-{s}", f"agent-{s}", f"sess-{d}-{s}", start, usages)
            resp = api.post(body)
            assert resp.status_code == 200, resp.get_json()
    # The SLO counts of these answers are written now, not by the recorder's thread under a copy or backup.
    api.ctx.slo.recorder.flush()


class IngestStream(threading.Thread):
    """Posts small batches through the API until stopped: the load an operation must be consistent under."""

    def __init__(self, api):
        super().__init__(name="ingest-stream", daemon=True)
        self.client = api.new_client()
        self.api = api
        self.stop = threading.Event()
        self.accepted = 0
        self.errors: list[str] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            body = _batch(f"live-{n}", "live-agent", f"live-{n}", datetime.now(UTC), 2)
            resp = self.api.post(body, client=self.client)
            if resp.status_code == 200:
                self.accepted += 1
            else:
                self.errors.append(resp.get_data(as_text=True)[:300])

    def __enter__(self) -> IngestStream:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.join(timeout=20)


@pytest.fixture(scope="session")
def _restore_database(request) -> Iterator[str]:
    """One database on the test server for the run's restores (a dump of one schema restores into the same
    schema name, so it cannot go into the test database itself). Made and dropped once: DROP DATABASE waits
    for a checkpoint, which took a minute on a loaded machine."""
    request.getfixturevalue("pg_available")
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"hc_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_pg_database(_restore_database) -> Callable[[str], str]:
    """``make(schema) -> URL``: an empty database to restore into, whose URL's search_path is ``schema``
    (the schema is dropped first: the database is shared by the run's restores)."""
    base = make_url(PG_URL).set(database=_restore_database)

    def make(schema: str = "public") -> str:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    return make
