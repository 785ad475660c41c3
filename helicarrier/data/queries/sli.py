"""SLI events per UTC minute (helicarrier.slo): added by upsert, summed over the SLO windows."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, and_, case, delete, func, select

from helicarrier.data.models import SliRollup
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.queries.rollups import upsert_sums
from helicarrier.data.unit import TxBase

SLI_KEY = ("minute", "sli")
SLI_SUMS = ("total", "bad")


def add_sli(conn: Connection, folded: Mapping[tuple[int, str], tuple[int, int]]) -> None:
    """Add {(minute, sli): (total, bad)}: one upsert per row, in key order (so concurrent writers lock
    the rows in one order)."""
    upsert_sums(conn, SliRollup.__tablename__, SLI_KEY, SLI_SUMS, {k: list(v) for k, v in folded.items()})


class SliTx(TxBase):
    def add_sli_counts(self, folded: Mapping[tuple[int, str], tuple[int, int]]) -> None:
        """SLI events counted with the change they measure (a command's delivery), in its transaction."""
        add_sli(self.conn, folded)


class SliQueries(QueryBase):
    def add_sli_counts(self, folded: Mapping[tuple[int, str], tuple[int, int]]) -> None:
        """A process's counts of the last seconds, in one transaction."""
        if folded:
            with self._write() as conn:
                add_sli(conn, folded)

    def sli_window_sums(
        self, now_minute: int, windows: Mapping[str, int]
    ) -> dict[str, dict[str, tuple[int, int]]]:
        """{sli: {window: (total, bad)}} over the last ``windows[name]`` minutes up to and including
        ``now_minute``: one scan of the longest window's rows, each window a conditional sum."""
        longest = max(windows.values())
        cols = []
        for name, minutes in windows.items():
            inside = SliRollup.minute > now_minute - minutes
            cols.append(func.sum(case((inside, SliRollup.total), else_=0)).label(f"t_{name}"))
            cols.append(func.sum(case((inside, SliRollup.bad), else_=0)).label(f"b_{name}"))
        stmt = (
            select(SliRollup.sli, *cols)
            .where(and_(SliRollup.minute > now_minute - longest, SliRollup.minute <= now_minute))
            .group_by(SliRollup.sli)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return {
            row.sli: {
                n: (int(row._mapping[f"t_{n}"] or 0), int(row._mapping[f"b_{n}"] or 0)) for n in windows
            }
            for row in rows
        }

    def prune_sli_rollups(self, before_minute: int) -> int:
        """Drop minutes older than every window reads."""
        with self._write() as conn:
            return conn.execute(delete(SliRollup).where(SliRollup.minute < before_minute)).rowcount
