"""Every migration has a working downgrade: with data in the tables, each one goes down one step and up
again on both backends; and the rollback drill: head, down one, the app refuses to start until migrated
again, upgrade, the data the rolled-back step did not own is intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from helicarrier.config import load_settings
from helicarrier.data.engine import make_engine
from helicarrier.data.parity import fingerprint
from helicarrier.data.schema import (
    SchemaError,
    alembic_config,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from helicarrier.webapp import create_app
from tests.conftest import Api
from tests.operations.conftest import seed_through_api

# Tables 0001 creates whose rows must come through intact. ingest_event_ids gained seen_day in 0018: going
# back up, its rows count as seen on the day of the upgrade, the seeding's day here.
KEPT = ("usage_events", "log_events", "ingest_event_ids")


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]  # oldest first


def _seeded_app(url: str, tmp_path: Path):
    settings = load_settings(database_url=url, data_dir=tmp_path, secret_key="k")
    app = create_app(settings)
    token, _ = app.server.config["HELICARRIER"].repo.create_token("seeder", "ingest")
    seed_through_api(Api(app, token), days=2, sessions_per_day=2, usages=3)
    app.server.config["HELICARRIER"].slo.recorder.close()  # sli_rollups has rows too
    app.server.config["HELICARRIER"].repo.dispose()
    return settings


def _prints(engine):
    with engine.connect() as conn:
        return fingerprint(conn)


def test_every_migration_goes_down_one_and_up_again_with_data(empty_db_url, tmp_path):
    _seeded_app(empty_db_url, tmp_path)
    engine = make_engine(empty_db_url)
    before = _prints(engine)
    revisions = _revisions()
    for rev in reversed(revisions[1:]):  # head down to the second: down one, up again, down one
        assert current_revision(engine) == rev
        downgrade(engine, "-1")
        upgrade(engine, rev)
        assert current_revision(engine) == rev
        downgrade(engine, "-1")
    assert current_revision(engine) == revisions[0]
    assert ensure_schema(engine).upgraded
    after = _prints(engine)
    engine.dispose()
    assert after.revision == head_revision()
    for table in KEPT:
        assert after.tables[table] == before.tables[table], table
    assert after.usage_days == before.usage_days


def test_rollback_drill_app_refuses_until_migrated_again(empty_db_url, tmp_path):
    settings = _seeded_app(empty_db_url, tmp_path)
    engine = make_engine(empty_db_url)
    before = _prints(engine)
    downgrade(engine, "-1")
    with pytest.raises(SchemaError, match="behind"):
        create_app(settings.__class__(**{**settings.__dict__, "auto_migrate": False}))
    ensure_schema(engine)
    after = _prints(engine)
    engine.dispose()
    assert after.revision == before.revision
    assert {t: after.tables[t] for t in KEPT} == {t: before.tables[t] for t in KEPT}
