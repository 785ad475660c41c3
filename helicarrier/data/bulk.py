"""The driver's own bulk path, for the ingest hot path: sqlite3 ``executemany`` and PostgreSQL ``COPY``.

SQLAlchemy Core's executemany spends most of its time per row on parameter processing (measured: the
usage insert was a quarter of a 500-event request). Here each table's columns are converted once per value
by a converter picked per column type, and rows go to the driver as tuples. Runs inside the caller's
transaction, on the same connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Table

from helicarrier.data.types import UTCDateTime


def _sqlite_ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Always six fractional digits, as SQLAlchemy writes them: stored timestamps compare as strings.
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


@cache
def _converters(table: Table, columns: tuple[str, ...], dialect: str) -> tuple[tuple[int, Callable], ...]:
    out = []
    for i, name in enumerate(columns):
        col = table.c[name]
        if isinstance(col.type, UTCDateTime) and dialect == "sqlite":
            out.append((i, _sqlite_ts))
        elif isinstance(col.type, JSON):
            out.append((i, _json))
    return tuple(out)


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order: aware datetimes, dicts/lists for JSON) into ``table``."""
    if not rows:
        return
    dialect = conn.dialect.name
    cols = tuple(columns)
    convs = _converters(table, cols, dialect)
    if convs:
        converted = []
        memo: dict = {}  # a batch's rows share timestamps (received_at always): convert each value once
        for row in rows:
            r = list(row)
            for i, fn in convs:
                v = r[i]
                if fn is _sqlite_ts:
                    c = memo.get(v)
                    if c is None:
                        c = memo[v] = fn(v)
                    r[i] = c
                else:
                    r[i] = fn(v)
            converted.append(r)
        rows = converted
    dbapi = conn.connection.driver_connection
    names = ", ".join(cols)
    if dialect == "postgresql":
        with dbapi.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cur = dbapi.cursor()
    try:
        cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(cols))})", rows)
    finally:
        cur.close()


def insert_new_keys(conn: Connection, table: Table, source: str, keys: Sequence[str]) -> set[str]:
    """Insert (source, key) pairs into a two-column unique table; return the keys that were new.

    A key already present (sent before) is skipped by the database, so concurrent requests carrying the
    same key store it once and exactly one of them sees it as new.
    """
    if not keys:
        return set()
    dbapi = conn.connection.driver_connection
    src_col, key_col = (c.name for c in table.primary_key.columns)
    new: set[str] = set()
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur:
            cur.execute(
                f"INSERT INTO {table.name} ({src_col}, {key_col}) SELECT %s, k FROM unnest(%s::text[]) AS k "
                f"ON CONFLICT DO NOTHING RETURNING {key_col}",
                (source, list(keys)),
            )
            new.update(r[0] for r in cur.fetchall())
        return new
    cur = dbapi.cursor()
    try:
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            values = ", ".join("(?, ?)" for _ in chunk)
            params = [p for k in chunk for p in (source, k)]
            cur.execute(
                f"INSERT INTO {table.name} ({src_col}, {key_col}) VALUES {values} "
                f"ON CONFLICT DO NOTHING RETURNING {key_col}",
                params,
            )
            new.update(r[0] for r in cur.fetchall())
    finally:
        cur.close()
    return new


# A statement's SQL, and per parameter in order: its name, its bind processor, and whether it is a value the
# statement itself holds (a literal such as status="idle", converted once) rather than one each row gives.
_Compiled = tuple[str, tuple[tuple[str, Callable | None, bool, Any], ...]]
_COMPILED: dict[tuple[str, str], _Compiled] = {}


def _compiled(conn: Connection, key: str, build: Callable[[], Any]) -> _Compiled:
    """``build()``'s statement compiled once per dialect, with each parameter's bind processor (the column
    type's own conversion, the one SQLAlchemy would apply)."""
    dialect = conn.dialect
    found = _COMPILED.get((key, dialect.name))
    if found is None:
        compiled = build().compile(dialect=dialect)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
        procs = compiled._bind_processors  # noqa: SLF001 - the per-type conversions, computed once here
        params = []
        for name in names:
            proc, bind = procs.get(name), binds[name]
            if bind.required:
                params.append((name, proc, False, None))
            else:
                params.append((name, None, True, proc(bind.value) if proc else bind.value))
        found = _COMPILED[(key, dialect.name)] = (compiled.string, tuple(params))
    return found


def _memo_bind() -> Callable[[Callable, Any], Any]:
    """A bind processor applied once per (processor, UTC datetime) within one statement's parameter sets.
    A datetime's conversion is the costly one (~2.4 us through the TypeDecorator and SQLite's formatting),
    and a batch's rows repeat the same few: the request's time in every row, the agent's last-seen time
    three times per row in the agents' UPDATE. Two UTC datetimes that compare equal have the same fields,
    so they convert alike; other values (dicts, other zones) are converted each time, as before."""
    memo: dict[tuple[Callable, datetime], Any] = {}

    def bind(proc: Callable, value: Any) -> Any:
        if type(value) is not datetime or value.tzinfo is not UTC:
            return proc(value)
        found = memo.get((proc, value), memo)
        if found is memo:
            found = memo[(proc, value)] = proc(value)
        return found

    return bind


def execute_many(
    conn: Connection, key: str, build: Callable[[], Any], rows: Sequence[dict[str, Any]]
) -> None:
    """Run one UPDATE (or INSERT) statement for many parameter sets through the driver, its SQL compiled once
    per process. SQLAlchemy's executemany rebuilds and converts every parameter set through its generic
    machinery: for the 50 agent rows of an ingest batch that was 8% of the request's CPU. ``key`` names the
    statement ``build`` makes (it must make the same one every time)."""
    if not rows:
        return
    sql, spec = _compiled(conn, key, build)
    bind = _memo_bind()
    if conn.dialect.positional:
        params: list[Any] = [
            tuple(v if const else (bind(p, r[n]) if p else r[n]) for n, p, const, v in spec) for r in rows
        ]
    else:
        params = [
            {n: v if const else (bind(p, r[n]) if p else r[n]) for n, p, const, v in spec} for r in rows
        ]
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.executemany(sql, params)
    finally:
        cur.close()
