"""What every query mixin shares."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import Connection, Engine


class QueryBase:
    engine: Engine

    @contextmanager
    def _write(self):
        """A write transaction; on SQLite BEGIN IMMEDIATE, so concurrent writers queue instead of failing."""
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            yield conn

    @contextmanager
    def _read(self):
        with self.engine.connect() as conn:
            yield conn


def one_or_none(conn: Connection, stmt):
    return conn.execute(stmt).one_or_none()
