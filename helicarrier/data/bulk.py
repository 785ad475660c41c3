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
from sqlalchemy import JSON, BigInteger, Boolean, Connection, Integer, SmallInteger, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

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


_PG = postgresql.dialect()
# PostgreSQL type oids psycopg picks its binary dumpers by.
_BOOL, _BYTEA, _INT8, _INT2, _INT4, _TEXT, _TIMESTAMPTZ = 16, 17, 20, 21, 23, 25, 1184


def _jsonb_binary(value: Any) -> bytes | None:
    """A JSONB value in COPY's binary format: version 1, then the JSON text (sent as raw bytes)."""
    return None if value is None else b"\x01" + orjson.dumps(value)


def _pg_oid(col) -> int | None:
    t = col.type
    if isinstance(t, UTCDateTime):
        return _TIMESTAMPTZ
    for kind, oid in ((BigInteger, _INT8), (SmallInteger, _INT2), (Integer, _INT4), (Boolean, _BOOL)):
        if isinstance(t, kind):
            return oid
    if isinstance(t, String):  # VARCHAR and TEXT take the same bytes
        return _TEXT
    return None


@cache
def _pg_binary(
    table: Table, columns: tuple[str, ...]
) -> tuple[tuple[int, ...], tuple[tuple[int, Callable], ...]]:
    """Per column, the oid whose binary dumper writes it, and the columns converted first (JSONB). Binary
    COPY cost psycopg a third of the CPU of text COPY (measured: a 26-column usage row, 4.4 -> 1.55 us).
    A column type with no binary form here is a TypeError, raised the first time its table is copied
    (tests/data/test_bulk.py copies every table's columns): every column the app stores has one."""
    oids, convs = [], []
    for i, name in enumerate(columns):
        col = table.c[name]
        impl = col.type.dialect_impl(_PG)
        if isinstance(impl, JSONB):
            oids.append(_BYTEA)  # the bytes as they are
            convs.append((i, _jsonb_binary))
            continue
        oid = _pg_oid(col)
        if oid is None:
            raise TypeError(f"{table.name}.{name}: no binary COPY form for {col.type!r}")
        oids.append(oid)
    return tuple(oids), tuple(convs)


def _copy(dbapi, table: Table, cols: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: ``COPY`` the rows in binary."""
    names = ", ".join(cols)
    oids, convs = _pg_binary(table, cols)
    with dbapi.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(oids)
        for row in _converted(rows, convs):
            copy.write_row(row)


def _converted(rows: Sequence[Sequence[Any]], convs) -> Sequence[Sequence[Any]]:
    """``rows`` with the columns ``convs`` names converted; a batch's rows share timestamps (received_at
    always), so each datetime is converted once."""
    if not convs:
        return rows
    converted = []
    memo: dict = {}
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
    return converted


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order: aware datetimes, dicts/lists for JSON) into ``table``."""
    if not rows:
        return
    dialect = conn.dialect.name
    cols = tuple(columns)
    dbapi = conn.connection.driver_connection
    if dialect == "postgresql":
        _copy(dbapi, table, cols, rows)
        return
    rows = _converted(rows, _converters(table, cols, dialect))
    names = ", ".join(cols)
    cur = dbapi.cursor()
    try:
        cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(cols))})", rows)
    finally:
        cur.close()


def rows_for_keys(conn: Connection, sql: str, keys: Sequence[str]) -> list[tuple]:
    """Run ``sql``, whose ``{keys}`` stands for a subquery of ``keys``, through the driver: the keys go as ONE
    JSON array parameter (``json_each`` on SQLite, ``json_array_elements_text`` on PostgreSQL) whatever
    their number. For the small lookups every ingest request makes, where building and running a Core
    statement with one bound parameter per key cost more than the query (~0.4 us per event each)."""
    if not keys:
        return []
    postgres = conn.dialect.name == "postgresql"
    subquery = "SELECT json_array_elements_text(%s::json)" if postgres else "SELECT value FROM json_each(?)"
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(sql.format(keys=subquery), (orjson.dumps(list(keys)).decode(),))
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def insert_new_keys(
    conn: Connection, table: Table, source: str, keys: Sequence[str], seen_day: int
) -> set[str]:
    """Insert (source, key, seen_day) rows into a table unique on (source, key) (its primary key, in that
    order, and a ``seen_day`` column); return the keys that were new.

    A key already present (sent before) is skipped by the database, so concurrent requests carrying the
    same key store it once and exactly one of them sees it as new; its ``seen_day`` stays the first one.
    """
    if not keys:
        return set()
    dbapi = conn.connection.driver_connection
    src_col, key_col = (c.name for c in table.primary_key.columns)
    day = int(seen_day)  # written into the SQL below as a literal: an int, nothing else
    new: set[str] = set()
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur:
            # The keys as one JSON array: psycopg dumps a text[] in Python, a regex per element (320 us for
            # a batch's 500 ids, against 50 us for orjson).
            cur.execute(
                f"INSERT INTO {table.name} ({src_col}, {key_col}, seen_day) "
                f"SELECT %s, k, {day} FROM json_array_elements_text(%s::json) AS k "
                f"ON CONFLICT DO NOTHING RETURNING {key_col}",
                (source, orjson.dumps(list(keys)).decode()),
            )
            new.update(r[0] for r in cur.fetchall())
        return new
    cur = dbapi.cursor()
    try:
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            values = ", ".join(f"(?, ?, {day})" for _ in chunk)
            params = [p for k in chunk for p in (source, k)]
            cur.execute(
                f"INSERT INTO {table.name} ({src_col}, {key_col}, seen_day) VALUES {values} "
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
