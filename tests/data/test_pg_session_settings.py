"""Every PostgreSQL connection the app's engine opens runs with JIT compilation off (helicarrier.data.engine:
the analytic queries' estimated costs cross jit_above_cost although they run in milliseconds, and compiling
cost 10-20 ms of each), with or without a statement timeout, the URL's own options kept."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from helicarrier.data.engine import make_engine
from helicarrier.data.pool import PoolSettings
from helicarrier.data.repository import Repository
from tests.conftest import BACKENDS


@pytest.fixture
def pg_url(request) -> str:
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL backend not selected")
    return request.getfixturevalue("pg_schemas").new()


@pytest.mark.parametrize(
    ("timeout_ms", "shown"), [(60_000, "1min"), (0, "0")], ids=["statement-timeout", "no-statement-timeout"]
)
def test_the_app_engine_turns_jit_off_on_postgresql(pg_url, timeout_ms, shown):
    engine = make_engine(pg_url, pool=PoolSettings(statement_timeout_ms=timeout_ms))
    try:
        with engine.connect() as conn:
            # The server's default is on (PostgreSQL 11+): off here, from the connection's startup options.
            setting = conn.execute(text("SELECT setting, source FROM pg_settings WHERE name = 'jit'")).one()
            assert tuple(setting) == ("off", "client")
            # Kept beside it: the URL's own options (the test schema) and the statement timeout.
            assert conn.execute(text("SELECT current_schema()")).scalar().startswith("hct_")
            assert conn.execute(text("SHOW statement_timeout")).scalar() == shown
    finally:
        engine.dispose()


def test_the_repository_reads_with_jit_off(pg_url):
    """The Ledger / analytics reads go through Repository.from_url's engine: a new pooled connection of it
    has the setting before its first statement (no SET issued by a query path)."""
    repo = Repository.from_url(pg_url)
    try:
        with repo.engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
    finally:
        repo.dispose()
