"""``copy-db``: move everything from one database to another (SQLite to PostgreSQL at a cutover)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress

from helicarrier.data.copying import copy_table, event_months, reset_sequences
from helicarrier.data.engine import make_engine
from helicarrier.data.models import Base
from helicarrier.data.parity import count_rows, tables
from helicarrier.data.partition_names import PARTITIONED_TABLES
from helicarrier.data.repository import Repository
from helicarrier.data.schema import SchemaError, current_revision, ensure_schema, head_revision
from helicarrier.operations.databases import checked_url, existing_source, reaching


def copy_database(source_url: str, target_url: str, progress: bool = True) -> dict[str, tuple[int, int]]:
    """Migrate the target to head, copy each table in dependency order, reset sequences. Returns per table
    (rows in the source, rows copied now). Both URLs and the source are checked before the target is
    touched (``OperationRefused``)."""
    existing_source(source_url, "--from")
    checked_url(target_url, "--to")
    source = make_engine(source_url)
    target = None
    try:
        with reaching(source_url, "source"):
            src_rev = current_revision(source)
        head = head_revision()
        if src_rev != head:
            raise SchemaError(
                f"the source is at {src_rev or 'no revision'}, not head {head}: migrate it first"
            )
        target = make_engine(target_url)  # for SQLite this creates the file: only once the source is sound
        with reaching(target_url, "target"):
            target.connect().close()
        ensure_schema(target, auto_migrate=True)
        _months_of(source, Repository(target))
        report: dict[str, tuple[int, int]] = {}
        with Progress(console=Console(stderr=True), transient=True, disable=not progress) as bars:
            for table in tables():
                with source.connect() as conn:
                    total = count_rows(conn, table)
                bar = bars.add_task(table.name, total=total)
                report[table.name] = copy_table(source, target, table, lambda n, b=bar: bars.advance(b, n))
        reset_sequences(target, tables())
        return report
    finally:
        source.dispose()
        if target is not None:
            target.dispose()


def _months_of(source, target: Repository) -> None:
    """A partitioned (PostgreSQL) target gets a partition for each month the source's events fall in
    before they are copied: else they would all wait in DEFAULT, retention would delete them row by row,
    and each month created later would scan them all under its lock."""
    for table in PARTITIONED_TABLES:
        if target.is_partitioned(table):
            for month in event_months(source, Base.metadata.tables[table]):
                target.create_month_partition(table, month)
