"""Alembic environment.

Called two ways: by the app (``helicarrier.data.schema``), which passes an open connection inside a
transaction that already holds the migration lock; or by the ``alembic`` command line, which gets the URL
from Helicarrier's settings. ``fileConfig`` runs only in the second case: it would disable the app's loggers.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from helicarrier.data.models import Base
from helicarrier.data.schema import compared_with_models

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=compared_with_models(connection.dialect.name),
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    from dataclasses import replace

    from helicarrier.config import load_settings
    from helicarrier.data.engine import make_engine

    settings = load_settings()
    # No statement timeout for a migration: it bounds requests (see helicarrier.data.schema._lock).
    engine = make_engine(settings.database_url, pool=replace(settings.pool, statement_timeout_ms=0))
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations_online()
