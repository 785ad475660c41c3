"""Shared fixtures.

Every database test runs on both backends: a real SQLite file and a real PostgreSQL (a private schema per
test run, dropped afterwards). PostgreSQL comes from HELICARRIER_TEST_POSTGRES_URL, by default the server
every project machine runs on 127.0.0.1:5432. With CI=true a missing PostgreSQL fails the run; elsewhere its
tests are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from helicarrier.config import Settings, load_settings
from helicarrier.context import AppContext, build_context
from helicarrier.data.engine import make_engine
from helicarrier.data.models import Base
from helicarrier.data.repository import Repository
from helicarrier.data.schema import ensure_schema
from helicarrier.webapp import create_app
from tests.ingesting import Sender

PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = [b for b in os.environ.get("HELICARRIER_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def pytest_setup_options():
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.add_argument("--window-size=1440,1000")
    options.add_argument("--disable-background-networking")
    return options


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(make_url(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - the reason is reported
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_available() -> None:
    problem = _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and unreachable: {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable ({problem}); set HELICARRIER_TEST_POSTGRES_URL")


class PgSchemas:
    """Creates throwaway schemas in the test PostgreSQL and drops them all at the end of the run."""

    def __init__(self) -> None:
        self.admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new(self) -> str:
        name = f"hct_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        self.created.append(name)
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_schemas(request) -> Iterator[PgSchemas]:
    request.getfixturevalue("pg_available")
    schemas = PgSchemas()
    yield schemas
    schemas.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def empty_db_url(backend, request, tmp_path) -> str:
    """A URL to a fresh, empty database of the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_schemas").new()


@pytest.fixture(scope="session")
def _migrated_urls() -> dict[str, str]:
    """One migrated database per backend for the whole run; tests empty it rather than re-migrate."""
    return {}


def _migrated_url(backend: str, request, tmp_path_factory, cache: dict[str, str]) -> str:
    if backend not in cache:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'shared.db'}"
        else:
            url = request.getfixturevalue("pg_schemas").new()
        engine = make_engine(url)
        ensure_schema(engine)
        engine.dispose()
        cache[backend] = url
    return cache[backend]


def _truncate(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def db_url(backend, request, tmp_path_factory, _migrated_urls) -> str:
    """A migrated database of the backend under test, emptied before each test."""
    url = _migrated_url(backend, request, tmp_path_factory, _migrated_urls)
    engine = make_engine(url)
    _truncate(engine)
    engine.dispose()
    return url


@pytest.fixture
def repo(db_url) -> Iterator[Repository]:
    repository = Repository.from_url(db_url)
    yield repository
    repository.dispose()


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Tests run their webhook receivers on 127.0.0.1: allowed here, refused by default.
    return load_settings(
        database_url=db_url, data_dir=Path(data_dir), secret_key="test-secret-key", allow_local_webhooks=True
    )


# -- the real app and its JSON API ---------------------------------------------------------------------------

# Columns that change on any authenticated request and so are left out of "nothing changed" snapshots.
_VOLATILE = {("api_tokens", "last_used_at")}
# Tables any answered request may add to (the SLO's count of ingest answers, written every few seconds).
_METERING = {"sli_rollups"}


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
                if table.name in _METERING:
                    continue
                cols = [c for c in table.columns if (table.name, c.name) not in _VOLATILE]
                rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
                out[table.name] = [tuple(r) for r in rows]
        return out


@pytest.fixture
def make_app(settings) -> Iterator:
    """Build the real app on the backend under test, optionally with changed settings."""

    def make(**changes: Any):
        return create_app(replace(settings, **changes) if changes else settings)

    yield make  # closed by _apps_give_back_their_connections, as every app a test builds


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


@pytest.fixture
def ctx(settings) -> Iterator[AppContext]:
    """What the app holds (repository and services) on the backend under test, without the web app."""
    context = build_context(settings)
    yield context
    context.slo.recorder.close()
    context.repo.dispose()


@pytest.fixture
def sender(ctx) -> Sender:
    """Sends v2 batches through the ingest service, as agents' events go."""
    return Sender(ctx)


@pytest.fixture(autouse=True)
def _apps_give_back_their_connections(monkeypatch):
    """Every app a test builds (create_app, the browser tests' servers, the clients' fixtures) writes its
    last SLI counts and closes its database pools when the test ends. Left to the garbage collector, their
    pools stayed open for the rest of the run, and on PostgreSQL the suite ran out of connections
    ("too many clients already") at two thirds of the way."""
    import helicarrier.webapp as webapp

    built = []
    real = webapp.build_context

    def tracking(*args, **kwargs):
        context = real(*args, **kwargs)
        built.append(context)
        return context

    monkeypatch.setattr(webapp, "build_context", tracking)
    yield
    for context in built:
        context.slo.recorder.close()
        for repo in {id(context.repo): context.repo, id(context.read_repo): context.read_repo}.values():
            repo.dispose()
