"""``copy-db``'s SQL: stream a table from one database into another in batches, keeping ids and timestamps,
without copying a row twice (resumable: a second run, or a run after a crash, copies only what is missing),
then move PostgreSQL's sequences past the copied ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from helicarrier.data.parity import count_rows, ordered_key

BATCH = 1000


def _integer_key(table: Table):
    """The single integer primary key column, when the table has one (then copying resumes after the
    target's largest id instead of re-reading the whole table)."""
    cols = list(table.primary_key.columns)
    if len(cols) == 1 and cols[0].type.python_type is int:
        return cols[0]
    return None


def _insert(conn: Connection, table: Table):
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def copy_table(
    source: Engine, target: Engine, table: Table, progress: Callable[[int], None] = lambda n: None
) -> tuple[int, int]:
    """Copy the rows of ``table`` the target lacks; returns (rows in the source, rows copied). Each batch
    commits on its own, so an interrupted copy keeps what it did and the next run goes on from there."""
    key = _integer_key(table)
    with target.connect() as tconn:
        before = count_rows(tconn, table)
        start = tconn.execute(select(func.max(key))).scalar() if key is not None else None
    with source.connect() as sconn:
        total = count_rows(sconn, table)
        stmt = select(*table.columns)
        if key is not None:
            if start is not None:
                stmt = stmt.where(key > start)
                progress(before)
            stmt = stmt.order_by(key)
        else:
            stmt = stmt.order_by(*ordered_key(sconn, table))
        result = sconn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
        names = [c.name for c in table.columns]
        for batch in result.partitions(BATCH):
            rows = [dict(zip(names, row, strict=True)) for row in batch]
            with target.begin() as tconn:
                tconn.execute(_insert(tconn, table), rows)
            progress(len(rows))
    with target.connect() as tconn:
        after = count_rows(tconn, table)
    return total, after - before


def event_months(engine: Engine, table: Table) -> list[date]:
    """The UTC months ``table``'s events fall in (by ``ts``): the partitions a PostgreSQL target needs."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # stored as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'
            month = func.strftime("%Y-%m", table.c.ts)
        else:
            month = func.to_char(func.timezone("UTC", table.c.ts), "YYYY-MM")
        values = conn.execute(select(month).distinct()).scalars().all()
    return sorted(date(int(v[:4]), int(v[5:7]), 1) for v in values if v)


def reset_sequences(engine: Engine, tables: list[Table]) -> None:
    """On PostgreSQL, move each table's id sequence past the largest copied id (ids came from the source,
    so the sequence never moved; the next insert would collide). SQLite's rowids need nothing."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in tables:
            key = _integer_key(table)
            if key is None or not key.autoincrement:
                continue
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": key.name}
            ).scalar()
            if seq is None:
                continue
            top = conn.execute(select(func.max(key))).scalar()
            conn.execute(
                text("SELECT setval(:s, :v, :called)"),
                {"s": seq, "v": top if top is not None else 1, "called": top is not None},
            )
