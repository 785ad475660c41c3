"""Moving databases: copy-db from the backend under test to the other one (SQLite -> a PostgreSQL schema,
PostgreSQL -> a SQLite file), parity-check equal; one changed row is a difference naming its table; a re-run
copies nothing; the copy takes new writes (PostgreSQL's sequences were moved past the copied ids)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, update

from helicarrier.data.engine import make_engine
from helicarrier.data.models import Agent, UsageEvent
from helicarrier.webapp import create_app
from tests.conftest import Api
from tests.operations.conftest import _batch, seed_through_api
from tests.test_cli import run_cli


def _other_backend(backend, tmp_path, request) -> str:
    if backend == "postgresql":
        return f"sqlite:///{tmp_path / 'moved.db'}"
    return request.getfixturevalue("pg_schemas").new()


def test_copy_db_then_parity_check_then_rerun_copies_nothing(
    api, backend, db_url, tmp_path, request, settings
):
    seed_through_api(api)
    target = _other_backend(backend, tmp_path, request)

    copied = run_cli(["copy-db", "--from", db_url, "--to", target, "--no-progress"], db_url, tmp_path)
    assert copied.returncode == 0, copied.stderr
    usage_line = next(line for line in copied.stdout.splitlines() if line.startswith("usage_events "))
    assert usage_line.split()[1:5] == ["45", "rows,", "45", "copied"]

    parity = run_cli(["parity-check", "--from", db_url, "--to", target], db_url, tmp_path)
    assert parity.returncode == 0, parity.stdout + parity.stderr
    assert "parity: equal" in parity.stdout

    engine = make_engine(target)
    with engine.begin() as conn:
        conn.execute(update(Agent).where(Agent.id == "agent-1").values(name="tampered"))
    engine.dispose()
    differs = run_cli(["parity-check", "--from", db_url, "--to", target], db_url, tmp_path)
    assert differs.returncode == 1
    assert "agents: checksum" in differs.stdout and "1 differences" in differs.stderr
    assert [line.split()[-1] for line in differs.stdout.splitlines() if line.startswith("agents ")] == [
        "DIFFERS"
    ]

    again = run_cli(["copy-db", "--from", db_url, "--to", target, "--no-progress"], db_url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "copied 0 rows" in again.stdout

    # An interrupted copy (the last rows of a table never arrived) resumes with exactly what is missing.
    engine = make_engine(target)
    with engine.begin() as conn:
        conn.execute(delete(UsageEvent).where(UsageEvent.id > 40))
    engine.dispose()
    resumed = run_cli(["copy-db", "--from", db_url, "--to", target, "--no-progress"], db_url, tmp_path)
    assert resumed.returncode == 0 and "copied 5 rows" in resumed.stdout, resumed.stdout + resumed.stderr

    # The moved database takes new events: ids continue after the copied ones.
    moved = create_app(replace(settings, database_url=target))
    try:
        token, _ = moved.server.config["HELICARRIER"].repo.create_token("after-move", "ingest")
        moved_api = Api(moved, token)
        resp = moved_api.post(_batch("after", "agent-9", "sess-after", _now(), 1))
        assert resp.status_code == 200, resp.get_json()
        assert moved_api.count(UsageEvent) == 46
    finally:
        moved.server.config["HELICARRIER"].repo.dispose()


def test_copy_db_refuses_a_source_behind_head(backend, empty_db_url, tmp_path, request):
    make_engine(empty_db_url).dispose()  # a database that exists, with no schema (a missing file is refused)
    target = _other_backend(backend, tmp_path, request)
    proc = run_cli(
        ["copy-db", "--from", empty_db_url, "--to", target, "--no-progress"], empty_db_url, tmp_path
    )
    assert proc.returncode == 1 and "not head" in proc.stderr


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_copy_db_to_postgresql_gives_each_month_of_history_its_partition(api, db_url, tmp_path, request):
    from helicarrier.data.repository import Repository

    old = _now() - timedelta(days=150)  # a month the target's migration made no partition for
    assert api.post(_batch("old", "agent-1", "sess-old", old, 2)).status_code == 200
    assert api.post(_batch("new", "agent-1", "sess-new", _now(), 2)).status_code == 200
    target = request.getfixturevalue("pg_schemas").new()

    copied = run_cli(["copy-db", "--from", db_url, "--to", target, "--no-progress"], db_url, tmp_path)

    assert copied.returncode == 0, copied.stderr
    repo = Repository.from_url(target)
    try:
        for table in ("usage_events", "log_events"):
            assert date(old.year, old.month, 1) in repo.partition_months(table)
            assert repo.default_partition_rows(table) == 0  # none waits in DEFAULT
    finally:
        repo.dispose()
