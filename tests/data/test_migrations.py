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
from helicarrier.data.partition_names import is_partition_name
from helicarrier.data.schema import (
    DEFAULT_SCRIPT_LOCATION,
    SchemaError,
    compared_with_models,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
)

ROOT = Path(__file__).resolve().parents[2]


def _tables(engine) -> set[str]:
    # PostgreSQL lists each monthly partition of the event tables as a table too: the models' tables only.
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return {n for n in names if not is_partition_name(n)}


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
    with pytest.raises(SchemaError) as err:  # on either backend: not an OSError's traceback
        ensure_schema(make_engine(url))
    expected = "cannot create the SQLite database" if backend == "sqlite" else "cannot reach the database"
    assert expected in str(err.value) and "\n" not in str(err.value)


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


def _serve(db_url: str, data_dir: Path) -> subprocess.CompletedProcess:
    """``python -m helicarrier serve`` as an operator starts it, on a port it will never get to."""
    env = {"HELICARRIER_DATABASE_URL": db_url, "HELICARRIER_DATA_DIR": str(data_dir), "PATH": "/usr/bin"}
    return subprocess.run(
        [sys.executable, "-m", "helicarrier", "serve", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_start_refused_prints_one_line_and_exits_non_zero(empty_db_url, tmp_path):
    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'abc123newer'"))
    engine.dispose()
    proc = _serve(empty_db_url, tmp_path)
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
        opts = {"compare_type": True, "include_object": compared_with_models(conn.dialect.name)}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_migration_0006_binds_existing_agents_to_the_token_that_last_reported_for_them(empty_db_url):
    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    downgrade(engine, "0005")
    t0 = "2026-11-01 10:00:00+00:00"
    with engine.begin() as conn:
        for i, name in enumerate(("host-a", "host-b"), start=1):
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, name, prefix, token_hash, scopes, created_at) "
                    "VALUES (:i, :n, 'hc_x', :h, 'ingest', :t)"
                ),
                {"i": i, "n": name, "h": f"{i:064d}", "t": t0},
            )
        for agent in ("a1", "a2", "a3"):
            conn.execute(
                text(
                    "INSERT INTO agents (id, name, status, first_seen_at, updated_at) "
                    "VALUES (:a, :a, 'idle', :t, :t)"
                ),
                {"a": agent, "t": t0},
            )
        # a1: host-a first, host-b last (a log line); a2: only a usage event from host-a; a3: a source no
        # token is called.
        rows = [
            ("log_events", "a1", "host-a", "2026-11-01 10:00:01+00:00"),
            ("log_events", "a1", "host-b", "2026-11-01 10:00:03+00:00"),
            ("usage_events", "a1", "host-a", "2026-11-01 10:00:02+00:00"),
            ("usage_events", "a2", "host-a", "2026-11-01 10:00:04+00:00"),
            ("log_events", "a3", "laptop", "2026-11-01 10:00:05+00:00"),
        ]
        extra = {
            "log_events": ("level, message", "'info', 'x'"),
            "usage_events": (
                "provider, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
                "total_tokens, cost_provenance, cost_confidence, normalizer_version",
                "'openai', 1, 1, 0, 0, 2, 'computed', 'high', 1",
            ),
        }
        for table, agent, source, ts in rows:
            cols, vals = extra[table]
            head = f"INSERT INTO {table} (source, agent_id, ts, received_at, {cols})"
            sql = f"{head} VALUES (:s, :a, :ts, :ts, {vals})"
            conn.execute(text(sql), {"s": source, "a": agent, "ts": ts})
    ensure_schema(engine)
    with engine.connect() as conn:
        owners = dict(conn.execute(text("SELECT id, owner_token_id FROM agents")).all())
    assert owners == {"a1": 2, "a2": 1, "a3": None}
    engine.dispose()


def test_an_sqlite_path_that_cannot_be_created_is_a_one_line_refusal(tmp_path):
    (tmp_path / "taken").write_text("a file where a folder should be")
    proc = _serve(f"sqlite:///{tmp_path / 'taken' / 'helicarrier.db'}", tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert line.startswith("helicarrier: refusing to start: cannot create the SQLite database")


def test_the_sqlite_file_and_its_wal_are_private(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'helicarrier.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    with engine.begin() as conn:  # a write, so the WAL and shared-memory files exist
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))
    modes = {
        p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "data").iterdir() if "helicarrier.db" in p.name
    }
    engine.dispose()
    assert modes["helicarrier.db"] == 0o600
    assert set(modes.values()) == {0o600}, modes


def test_migration_0018_counts_the_ids_already_stored_as_seen_on_its_day(empty_db_url):
    """A client retrying across the upgrade is still told its resend is a duplicate: the ids stored before
    get the migration's day (not a day retention would forget at once), and new ones must give theirs."""
    import time

    from sqlalchemy.exc import IntegrityError

    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    downgrade(engine, "0017")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ingest_event_ids VALUES ('host', 'e1'), ('host', 'e2')"))
    today = int(time.time()) // 86400
    ensure_schema(engine)
    with engine.begin() as conn:
        days = conn.execute(text("SELECT event_id, seen_day FROM ingest_event_ids ORDER BY event_id")).all()
        assert {r.seen_day for r in days} <= {today, today + 1} and len({r.seen_day for r in days}) == 1
        assert [r.event_id for r in days] == ["e1", "e2"]
        indexes = {i["name"] for i in inspect(conn).get_indexes("ingest_event_ids")}
        assert "ix_ingest_event_ids_seen_day" in indexes
    if engine.dialect.name == "postgresql":  # the default is gone: nothing is written without its day
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO ingest_event_ids (source, event_id) VALUES ('host', 'e3')"))
    engine.dispose()
