"""Ingest outcome counts per minute, for the ingest rejection-rate alert.

``record_ingest_stats`` runs inside the ingest transaction (call it last, just before the commit: the row
lock it takes on PostgreSQL is then held for the shortest time). Rows are sharded by process, so that
concurrent workers add to different rows and never wait on one another.
"""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import Connection, text

from helicarrier.data.queries.base import QueryBase

SHARDS = 16
_SQL = (
    "INSERT INTO ingest_stats (minute, shard, accepted, duplicates, rejected) "
    "VALUES (:minute, :shard, :accepted, :duplicates, :rejected) "
    "ON CONFLICT (minute, shard) DO UPDATE SET accepted = ingest_stats.accepted + excluded.accepted, "
    "duplicates = ingest_stats.duplicates + excluded.duplicates, "
    "rejected = ingest_stats.rejected + excluded.rejected"
)


def record_ingest_stats(
    conn: Connection, accepted: int, duplicates: int, rejected: int, now: datetime
) -> None:
    """Add one request's counts to the current minute, in the caller's transaction (no-op for all zeros).

    ``accepted``: events stored; ``duplicates``: events already stored before (not stored again);
    ``rejected``: events refused (invalid, or a whole refused request's events).
    """
    if not (accepted or duplicates or rejected):
        return
    conn.execute(
        text(_SQL),
        {
            "minute": int(now.timestamp() // 60),
            "shard": os.getpid() % SHARDS,
            "accepted": int(accepted),
            "duplicates": int(duplicates),
            "rejected": int(rejected),
        },
    )


class IngestStatsQueries(QueryBase):
    def record_ingest_stats(self, accepted: int, duplicates: int, rejected: int, now: datetime) -> None:
        """The same in a transaction of its own: for a request refused as a whole (its transaction rolled
        back), whose refused events must still count."""
        if not (accepted or duplicates or rejected):
            return
        with self._write() as conn:
            record_ingest_stats(conn, accepted, duplicates, rejected, now)
