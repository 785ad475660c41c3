"""What every query mixin shares."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import Engine

from helicarrier.data.engine import maybe_checkpoint, write_lock


class QueryBase:
    engine: Engine

    @contextmanager
    def _write(self):
        """A write transaction; on SQLite BEGIN IMMEDIATE, so concurrent writers queue instead of failing."""
        with write_lock(self.engine):
            with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
                yield conn
            maybe_checkpoint(self.engine)

    @contextmanager
    def _read(self):
        with self.engine.connect() as conn:
            yield conn
