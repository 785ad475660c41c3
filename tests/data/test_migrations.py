"""Fail-closed migrations, on both backends."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from helicarrier.data.engine import make_engine
from helicarrier.data.models import Base
from helicarrier.data.schema import (
    DEFAULT_SCRIPT_LOCATION,
    SchemaError,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
)

ROOT = Path(__file__).resolve().parents[2]


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_empty_database_is_brought_to_head(empty_db_url):
    engine = make_engine(empty_db_url)
    status = ensure_schema(engine)
    assert status.upgraded and status.upgraded_from is None
    assert current_revision(engine) == head_revision()
    assert _tables(engine) == set(Base.metadata.tables)
    # A second start finds it at head and changes nothing.
    again = ensure_schema(engine)
    assert not again.upgraded and again.current == head_revision()
    engine.dispose()


def test_head_down_one_step_and_back(empty_db_url):
    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    head = head_revision()
    downgrade(engine, "-1")
    assert current_revision(engine) != head
    status = ensure_schema(engine)
    assert status.upgraded and current_revision(engine) == head
    assert _tables(engine) == set(Base.metadata.tables)
    engine.dispose()


def test_start_refused_on_unknown_newer_revision(empty_db_url):
    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed9999'"))
    with pytest.raises(SchemaError, match="f00dfeed9999") as err:
        ensure_schema(engine)
    assert "\n" not in str(err.value)
    engine.dispose()


def test_start_refused_when_tables_exist_without_version(empty_db_url):
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE stranger (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaError, match="no alembic_version"):
        ensure_schema(engine)
    engine.dispose()


def test_start_refused_when_behind_and_auto_migrate_off(empty_db_url):
    engine = make_engine(empty_db_url)
    with pytest.raises(SchemaError, match="behind head"):
        ensure_schema(engine, auto_migrate=False)
    assert _tables(engine) == set()
    engine.dispose()


def test_failed_migration_leaves_nothing_half_applied(empty_db_url, tmp_path):
    scripts = tmp_path / "migrations"
    shutil.copytree(DEFAULT_SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = head_revision()
    (scripts / "versions" / "9999_broken.py").write_text(
        f'''"""A migration that creates a table and then fails."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("SELECT * FROM no_such_table_anywhere")


def downgrade():
    op.drop_table("half_done")
'''
    )
    engine = make_engine(empty_db_url)
    with pytest.raises(SchemaError, match="rolled back"):
        ensure_schema(engine, script_location=scripts)
    # Not even the first migration stayed: the whole upgrade is one transaction.
    assert current_revision(engine) is None
    assert _tables(engine) == set()
    engine.dispose()


def test_start_refused_on_unreachable_database(backend, tmp_path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
        (tmp_path / "missing-dir").write_text("a file where a folder should be")
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    with pytest.raises((SchemaError, OSError)) as err:
        ensure_schema(make_engine(url))
    if isinstance(err.value, SchemaError):
        assert "cannot reach the database" in str(err.value)


def test_concurrent_starts_migrate_once(empty_db_url):
    """Several processes starting on one empty database at once: one migrates, none crashes."""
    errors: list[BaseException] = []

    def start():
        engine = make_engine(empty_db_url)
        try:
            ensure_schema(engine)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert current_revision(make_engine(empty_db_url)) == head_revision()


def test_cli_start_refused_prints_one_line_and_exits_non_zero(empty_db_url, tmp_path):
    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'abc123newer'"))
    engine.dispose()
    env = {
        "HELICARRIER_DATABASE_URL": empty_db_url,
        "HELICARRIER_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "helicarrier", "serve", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    refusals = [ln for ln in proc.stderr.splitlines() if ln.startswith("helicarrier: refusing to start")]
    assert len(refusals) == 1 and "abc123newer" in refusals[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_models_are_what_the_migrations_build(empty_db_url):
    """A column added to a model without its migration (or the other way round) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from helicarrier.data.models import Base

    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
