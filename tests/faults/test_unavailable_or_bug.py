"""Which database errors are "away, busy or full" (503, retry) and which are a wrong statement (500, a bug to
see): a retried bad query would fail for ever, so it must not be told to retry. Real errors from real
databases."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helicarrier.api.errors import database_unavailable
from tests.conftest import PG_URL


def _error(engine, *statements: str) -> BaseException:
    with pytest.raises(Exception) as caught, engine.connect() as conn:  # noqa: PT011 - any driver error
        for statement in statements:
            conn.execute(text(statement))
    return caught.value


def test_sqlite_busy_is_unavailable_and_a_bad_statement_is_not(tmp_path):
    path = tmp_path / "t.db"
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        assert database_unavailable(_error(engine, "INSERT INTO t VALUES (1)"))
        assert not database_unavailable(_error(engine, "SELECT * FROM no_such_table"))
        assert not database_unavailable(_error(engine, "SELEC 1"))
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def test_postgresql_down_or_timed_out_is_unavailable_and_a_bad_statement_is_not(pg_available):
    down = create_engine(make_url(PG_URL).set(port=1), connect_args={"connect_timeout": 2})
    with pytest.raises(Exception) as caught:  # noqa: PT011
        down.connect()
    assert database_unavailable(caught.value)
    engine = create_engine(make_url(PG_URL))
    try:
        assert database_unavailable(_error(engine, "SET statement_timeout = 1", "SELECT pg_sleep(1)"))
        assert not database_unavailable(_error(engine, "SELECT * FROM no_such_table"))
        assert not database_unavailable(_error(engine, "SELECT 1/0"))
    finally:
        engine.dispose()
