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
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helicarrier.config import Settings, load_settings
from helicarrier.data.engine import make_engine
from helicarrier.data.models import Base
from helicarrier.data.repository import Repository
from helicarrier.data.schema import ensure_schema

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
    return load_settings(database_url=db_url, data_dir=Path(data_dir), secret_key="test-secret-key")
