"""Fixtures for the JSON API tests: the real app on the backend under test, its test client, tokens, and a
way to look at (and snapshot) every table the ingest path can touch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from helicarrier.data.models import Base
from helicarrier.webapp import create_app

# Columns that change on any authenticated request and so are left out of "nothing changed" snapshots.
_VOLATILE = {("api_tokens", "last_used_at")}


class Api:
    """The app's test client plus database look-ups, for one app (one set of settings)."""

    def __init__(self, app, token: str):
        self.app = app
        self.ctx = app.server.config["HELICARRIER"]
        self.repo = self.ctx.repo
        self.client = app.server.test_client()
        self.token = token

    def new_client(self):
        return self.app.server.test_client()

    def headers(self, token: str | None = "default", **extra: str) -> dict[str, str]:
        headers = dict(extra)
        token = self.token if token == "default" else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def post(
        self,
        body: Any = None,
        *,
        path: str = "/api/v1/ingest",
        token: str | None = "default",
        key: str | None = None,
        data: bytes | str | None = None,
        content_type: str | None = "application/json",
        client=None,
    ):
        """POST ``body`` as JSON (or ``data`` verbatim) with the default token unless told otherwise."""
        headers = self.headers(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        if content_type is not None:
            headers["Content-Type"] = content_type
        payload = data if data is not None else orjson.dumps(body)
        return (client or self.client).post(path, data=payload, headers=headers)

    # -- the database ------------------------------------------------------------------------------

    def count(self, model) -> int:
        with self.repo.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar_one()

    def rows(self, model, *where, order_by=None) -> list:
        stmt = select(model.__table__).where(*where)
        pk = list(model.__table__.primary_key.columns)
        stmt = stmt.order_by(*(order_by if order_by is not None else pk))
        with self.repo.engine.connect() as conn:
            return conn.execute(stmt).all()

    def one(self, model, *where):
        rows = self.rows(model, *where)
        assert len(rows) == 1, f"expected one {model.__tablename__} row, found {len(rows)}"
        return rows[0]

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table (minus volatile columns), to prove a request changed nothing."""
        out: dict[str, list[tuple]] = {}
        with self.repo.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                cols = [c for c in table.columns if (table.name, c.name) not in _VOLATILE]
                rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
                out[table.name] = [tuple(r) for r in rows]
        return out


@pytest.fixture
def make_app(settings) -> Iterator:
    """Build the real app on the backend under test, optionally with changed settings."""
    made = []

    def make(**changes: Any):
        app = create_app(replace(settings, **changes) if changes else settings)
        made.append(app)
        return app

    yield make
    for app in made:
        app.server.config["HELICARRIER"].repo.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def make_token(app):
    """Create a token with the given scopes through the app's repository; returns the token value."""

    def make(name: str, scopes: str = "ingest") -> str:
        value, _info = app.server.config["HELICARRIER"].repo.create_token(name, scopes)
        return value

    return make


@pytest.fixture
def token(make_token) -> str:
    return make_token("agent-host-1", "ingest")


@pytest.fixture
def api(app, token) -> Api:
    return Api(app, token)


@pytest.fixture
def make_api(make_app, token):
    """An Api on an app built with other settings (same database, same default token)."""

    def make(**changes: Any) -> Api:
        return Api(make_app(**changes), token)

    return make


@pytest.fixture
def ctl(api, make_token):
    """The Api with a control token, and an agent atlas-01 running session s1."""
    api.control_token = make_token("operator-bot", "control,read")
    now = datetime.now(UTC).isoformat()
    resp = api.post(
        {
            "version": "v2",
            "source": {"name": "t"},
            "events": [
                {
                    "id": "hb",
                    "type": "agent.heartbeat",
                    "ts": now,
                    "agent_id": "atlas-01",
                    "data": {"status": "running", "provider": "openai", "model": "gpt-4.1"},
                },
                {
                    "id": "st",
                    "type": "session.start",
                    "ts": now,
                    "agent_id": "atlas-01",
                    "session_id": "s1",
                    "data": {"model": "gpt-4.1", "provider": "openai", "task": "refactor"},
                },
            ],
        }
    )
    assert resp.status_code == 200, resp.get_json()
    return api
