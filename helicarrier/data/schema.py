"""Fail-closed schema management: the app never serves on a schema it did not verify.

``ensure_schema`` runs on every start (and ``migrate upgrade``). Under a lock that serialises concurrent
starters (PostgreSQL advisory lock; SQLite ``BEGIN IMMEDIATE``), inside one transaction, it reads the
database's revision and either brings it to head or refuses with a one-line ``SchemaError``:

- the database carries a revision this code does not know (newer code ran there);
- tables exist but there is no version table (not ours, or a broken restore);
- the code has several heads;
- a migration fails (the transaction rolls back: nothing is half-applied);
- the database is behind and auto-migration is off (production: migrate as a release step);
- the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from helicarrier.config import PROJECT_ROOT
from helicarrier.data.partition_names import is_partition_name

DEFAULT_SCRIPT_LOCATION = PROJECT_ROOT / "migrations"
# Arbitrary constant shared by every Helicarrier process: the key of the migration advisory lock.
_PG_MIGRATION_LOCK_KEY = 0x48454C49  # "HELI"
REPRICED_FK = "fk_usage_repriced_usage_event_id_usage_events"


class SchemaError(RuntimeError):
    """The app must not start; the message is one line naming the problem and the revision."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    upgraded_from: str | None = None
    upgraded: bool = False


def alembic_config(script_location: Path | None = None) -> Config:
    # No URL in the config: the app always hands Alembic a connection that already holds the lock.
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location or DEFAULT_SCRIPT_LOCATION))
    return cfg


def _single_head(script: ScriptDirectory) -> str:
    heads = script.get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the code has {len(heads)} migration heads ({', '.join(heads)}); merge them first")
    return heads[0]


def _lock(conn) -> None:
    if conn.dialect.name == "postgresql":
        # A migration (and the wait for another process's) may take longer than any request should:
        # HELICARRIER_DB_STATEMENT_TIMEOUT_MS bounds requests, not this transaction.
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK_KEY})


def _begin_locked(engine: Engine):
    conn = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    if conn.dialect.name == "sqlite":
        # SQLite batch migrations rebuild a table (copy, DROP, rename); with rows in the tables that
        # reference it, the DROP fails the foreign keys. Off for the migration (it can only change outside
        # a transaction), checked before commit (``_commit``), back on when the connection is released.
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    conn.begin()
    _lock(conn)
    return conn


def _commit(conn) -> None:
    if conn.dialect.name == "sqlite":
        broken = conn.execute(text("PRAGMA foreign_key_check")).all()
        if broken:
            raise SchemaError(f"the migration left {len(broken)} rows with broken foreign keys: {broken[:3]}")
    conn.commit()


def _release(conn) -> None:
    if conn.dialect.name == "sqlite" and not conn.invalidated:
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    conn.close()


def ensure_schema(
    engine: Engine, *, auto_migrate: bool = True, script_location: Path | None = None
) -> SchemaStatus:
    cfg = alembic_config(script_location)
    script = ScriptDirectory.from_config(cfg)
    head = _single_head(script)
    try:
        conn = _begin_locked(engine)
    except OperationalError as exc:
        raise SchemaError(f"cannot reach the database at {_safe_url(engine)}: {_first_line(exc)}") from exc
    try:
        current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and _unknown(script, current):
            raise SchemaError(
                f"database is at revision {current}, unknown to this code (head {head}): "
                "newer code migrated it; run that version or restore a backup"
            )
        if current is None and _has_foreign_tables(conn):
            raise SchemaError(
                "database has tables but no alembic_version: not a Helicarrier database, or a partial restore"
            )
        if current == head:
            conn.commit()  # nothing migrated: nothing to check
            return SchemaStatus(current=current, head=head)
        if not auto_migrate:
            raise SchemaError(
                f"database is at revision {current or 'empty'}, behind head {head}; run "
                "`python -m helicarrier migrate upgrade` first"
            )
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except Exception as exc:
            raise SchemaError(
                f"migration {current or 'empty'} -> {head} failed and was rolled back: {_first_line(exc)}"
            ) from exc
        _commit(conn)
        return SchemaStatus(current=head, head=head, upgraded_from=current, upgraded=True)
    except BaseException:
        conn.rollback()
        raise
    finally:
        _release(conn)


def downgrade(engine: Engine, revision: str, *, script_location: Path | None = None) -> None:
    """Step the database down to ``revision`` (``-1``, a revision id), under the migration lock."""
    _step(command.downgrade, engine, revision, script_location)


def upgrade(engine: Engine, revision: str, *, script_location: Path | None = None) -> None:
    """Step the database up to ``revision`` (``+1``, a revision id); ``ensure_schema`` goes to head."""
    _step(command.upgrade, engine, revision, script_location)


def _step(move, engine: Engine, revision: str, script_location: Path | None) -> None:
    cfg = alembic_config(script_location)
    conn = _begin_locked(engine)
    try:
        cfg.attributes["connection"] = conn
        move(cfg, revision)
        _commit(conn)
    except BaseException:
        conn.rollback()
        raise
    finally:
        _release(conn)


def compared_with_models(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for comparing the models with a database: PostgreSQL lists each
    monthly partition as a table of its own (the models describe the partitioned table), and has no
    foreign key from usage_repriced to usage_events (see migration 0010)."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if dialect != "postgresql":
            return True
        if type_ == "table" and name and is_partition_name(name):
            return False
        return not (type_ == "foreign_key_constraint" and name == REPRICED_FK)

    return include


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(script_location: Path | None = None) -> str:
    return _single_head(ScriptDirectory.from_config(alembic_config(script_location=script_location)))


def _unknown(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is None
    except Exception:
        return True


def _has_foreign_tables(conn) -> bool:
    return bool(set(inspect(conn).get_table_names()) - {"alembic_version"})


def _safe_url(engine: Engine) -> str:
    # Without the statement timeout make_engine adds to the URL's options: the URL as the operator wrote it.
    return engine.url.difference_update_query(["options"]).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        exc = exc.orig  # type: ignore[assignment]
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
