"""PostgreSQL's monthly partitions of usage_events and log_events (issue 14): what the migration builds, the
upkeep that creates months ahead (moving DEFAULT's rows of a month into it), retention dropping whole
months, and the migration's way down and up again with every row kept. Each test gets a fresh database
(partitions are schema, not rows: the shared emptied one would carry them from test to test). On SQLite
there are no partitions: one test says so, the rest of retention is tests/retention/test_retention.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from helicarrier.config import load_settings
from helicarrier.data.engine import make_engine
from helicarrier.data.models import UsageEvent, UsageRepriced
from helicarrier.data.parity import fingerprint
from helicarrier.data.partition_names import add_months, month_start
from helicarrier.data.schema import downgrade, ensure_schema
from helicarrier.retention.partitions import upkeep, wanted_months
from helicarrier.retention.service import prune
from helicarrier.webapp import create_app
from tests.conftest import BACKENDS
from tests.ingesting import Sender
from tests.retention.test_retention import USAGE

ONLY_PG = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def app(backend, empty_db_url, tmp_path):
    if backend not in BACKENDS:
        pytest.skip(f"{backend} backend not selected (HELICARRIER_TEST_BACKENDS)")
    made = create_app(load_settings(database_url=empty_db_url, data_dir=tmp_path, secret_key="k"))
    yield made
    made.server.config["HELICARRIER"].repo.dispose()


@pytest.fixture
def ctx(app):
    return app.server.config["HELICARRIER"]


def _this_month() -> date:
    now = datetime.now(UTC)
    return date(now.year, now.month, 1)


def _rows(repo, table: str) -> int:
    with repo.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _exists(repo, table: str) -> bool:
    with repo.engine.connect() as conn:
        return conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None


def _events(sender: Sender, ts: datetime, n: int, session: str) -> list[dict]:
    out = []
    for i in range(n):
        at = ts + timedelta(minutes=i)
        out.append(sender.event("usage", at, "a1", session, USAGE))
        out.append(sender.event("log", at, "a1", session, {"message": f"{session} {i}"}))
    return out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_nothing_is_partitioned_and_upkeep_does_nothing(db_url):
    from helicarrier.data.repository import Repository

    repo = Repository.from_url(db_url)
    assert not repo.is_partitioned("usage_events") and not repo.is_partitioned("log_events")
    assert upkeep(repo, datetime.now(UTC)) == []
    repo.dispose()


@ONLY_PG
def test_the_event_tables_are_partitioned_by_month_after_migrate(ctx):
    repo = ctx.repo
    expected = wanted_months(datetime.now(UTC), 3)  # created by the migration and the start's upkeep
    for table in ("usage_events", "log_events"):
        assert repo.is_partitioned(table)
        assert repo.partition_months(table) == expected
        assert _exists(repo, f"{table}_y{expected[0].year}m{expected[0].month:02d}")
        assert _exists(repo, f"{table}_default") and repo.default_partition_rows(table) == 0


@ONLY_PG
def test_a_start_and_the_hourly_job_create_the_months_ahead_the_setting_asks_for(app, empty_db_url, tmp_path):
    from helicarrier.scheduler.runner import default_jobs

    settings = load_settings(
        database_url=empty_db_url, data_dir=tmp_path, secret_key="k", partition_months_ahead=5
    )
    started = create_app(settings).server.config["HELICARRIER"]  # the migration made 3 ahead; the start 5
    try:
        assert started.repo.partition_months("log_events") == wanted_months(datetime.now(UTC), 5)
        job = next(j for j in default_jobs() if j.name == "partition-upkeep")
        assert job.seconds == 3600
        started.settings = replace(settings, partition_months_ahead=6)
        job.run(started)
        assert started.repo.partition_months("usage_events") == wanted_months(datetime.now(UTC), 6)
    finally:
        started.repo.dispose()


@ONLY_PG
def test_an_event_of_a_month_without_partition_lands_in_default_and_moves_into_its_month(ctx):
    repo, sender = ctx.repo, Sender(ctx)
    month = add_months(_this_month(), -6)
    at = month_start(month) + timedelta(days=3)
    sender.send(_events(sender, at, 2, "old"))
    before = repo.usage_totals(month_start(month), month_start(add_months(month, 1)))
    with repo.engine.connect() as conn:
        ids = sorted(conn.execute(select(UsageEvent.id)).scalars())
    assert repo.default_partition_rows("usage_events") == 2 and repo.default_partition_rows("log_events") == 2

    created = upkeep(repo, at, ahead=0)  # the upkeep as it runs in that month

    assert {(c.table, c.month, c.moved) for c in created} == {
        ("usage_events", month, 2),
        ("log_events", month, 2),
    }
    suffix = f"y{month.year}m{month.month:02d}"
    assert _rows(repo, f"usage_events_{suffix}") == 2 and _rows(repo, f"log_events_{suffix}") == 2
    assert repo.default_partition_rows("usage_events") == 0 and repo.default_partition_rows("log_events") == 0
    with repo.engine.connect() as conn:
        assert sorted(conn.execute(select(UsageEvent.id)).scalars()) == ids  # the same events, not copies
    assert repo.usage_totals(month_start(month), month_start(add_months(month, 1))) == before
    # Run again (another hour, another instance): nothing to create, nothing changes.
    months = repo.partition_months("usage_events")
    assert upkeep(repo, at, ahead=0) == [] and upkeep(repo, datetime.now(UTC)) == []
    assert repo.partition_months("usage_events") == months


@ONLY_PG
def test_retention_drops_a_whole_month_and_the_totals_stay(app, ctx):
    repo, sender, client = ctx.repo, Sender(ctx), app.server.test_client()
    token, _ = repo.create_token("analyst", "read")
    now = datetime.now(UTC)
    old = add_months(_this_month(), -5)  # wholly past a 90-day cutoff
    upkeep(repo, month_start(old), ahead=0)  # its partition, as the upkeep made it back then
    sender.send(_events(sender, month_start(old) + timedelta(days=2), 4, "old"))
    sender.send(_events(sender, now - timedelta(days=100), 1, "late"))  # a month without one: DEFAULT
    sender.send(_events(sender, now - timedelta(hours=2), 3, "new"))
    with repo.engine.begin() as conn:  # repriced events' repriced costs go with them (dropped or deleted)
        for session in ("old", "late"):
            event = select(UsageEvent.id).where(UsageEvent.session_id == session).limit(1)
            conn.execute(
                insert(UsageRepriced).values(
                    usage_event_id=conn.execute(event).scalar(), pricing_version="v-test", cost_nanos=1,
                    cost_provenance="computed", cost_confidence="high", repriced_at=now,
                )
            )  # fmt: skip
    assert repo.default_partition_rows("usage_events") == 1
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/usage?from={(now - timedelta(days=200)).date()}&to={now.date()}"
    before = client.get(url, headers=headers).get_json()["totals"]
    last_seq = repo.latest_log_seq()

    deleted = prune(repo, {"usage": 90, "logs": 90}, now)

    assert deleted["usage"] == 5 and deleted["logs"] == 5  # a month dropped, DEFAULT's row deleted
    suffix = f"y{old.year}m{old.month:02d}"
    assert not _exists(repo, f"usage_events_{suffix}") and not _exists(repo, f"log_events_{suffix}")
    assert old not in repo.partition_months("usage_events")
    assert _rows(repo, "usage_events") == 3 and _rows(repo, "log_events") == 3
    assert _rows(repo, "usage_repriced") == 0
    assert client.get(url, headers=headers).get_json()["totals"] == before  # from the rollups
    # The Pulse's cursor goes on increasing after the drop: a new line comes after every earlier one.
    sender.send([sender.event("log", now, "a1", "new", {"message": "after the drop"})])
    (line,) = repo.logs_after(last_seq)
    assert line["message"] == "after the drop" and line["seq"] > last_seq


@ONLY_PG
def test_migration_down_and_up_keeps_every_row_and_the_sequences(ctx):
    repo, sender = ctx.repo, Sender(ctx)
    lost_month = add_months(_this_month(), -8)  # no partition: its rows wait in DEFAULT
    upkeep(repo, month_start(add_months(_this_month(), -2)), ahead=0)
    for month, n in ((lost_month, 2), (add_months(_this_month(), -2), 3), (_this_month(), 2)):
        sender.send(_events(sender, month_start(month) + timedelta(hours=5), n, f"s{month}"))
    assert repo.default_partition_rows("usage_events") == 2
    engine = make_engine(repo.engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        before = fingerprint(conn)
        top = conn.execute(text("SELECT max(id) FROM usage_events")).scalar()

    downgrade(engine, "0009")
    assert not repo.is_partitioned("usage_events") and not repo.is_partitioned("log_events")
    with engine.connect() as conn:  # the whole-database fingerprint reads today's models: counts only here
        down = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("usage_events", "log_events")
        }
    ensure_schema(engine)
    with engine.connect() as conn:
        up = fingerprint(conn)
    for table in ("usage_events", "log_events", "usage_repriced"):
        assert before.tables[table] == up.tables[table], table
    assert all(n > 0 for n in down.values())
    assert up.usage_days == before.usage_days
    # Back up, every month that holds rows has its partition again: DEFAULT is empty.
    assert repo.is_partitioned("usage_events") and lost_month in repo.partition_months("usage_events")
    assert repo.default_partition_rows("usage_events") == 0
    sender.send(_events(sender, datetime.now(UTC), 1, "later"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM usage_events")).scalar() > top
    engine.dispose()
