"""Retention: what each kind of history holds, and its pruning in bounded batches (one short transaction
each, so ingest and the pages never wait long on a prune; a prune stopped half-way simply goes on next time).

Raw usage goes long before the hourly rollups: the analytics read whole hours from the rollups, so a range
whose raw rows are gone stays exact to the hour (only the cut parts of hours, read from usage_events for
zones off the hour and for ranges not on hours, are lost with them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, select, tuple_

from helicarrier.data.models import (
    Alert,
    AuditEntry,
    IngestEventId,
    LogEvent,
    SessionRollup,
    SessionRuntimeRollup,
    UsageAgentDayRollup,
    UsageAgentRollup,
    UsageEvent,
    UsageModelRollup,
    UsageQuarterRollup,
    UsageRepriced,
    UsageRollup,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.rollups import DAY_S, HOUR_S, QUARTER_S, day_of, hour_of


@dataclass(frozen=True)
class Holding:
    kind: str
    rows: int
    oldest: datetime | int | None  # a time; for rollups the oldest UTC hour number


# kind -> (table, key column, age column): a batch deletes the oldest keys whose age is past the cutoff.
_ROWS = {
    "usage": (UsageEvent, UsageEvent.id, UsageEvent.ts),
    "logs": (LogEvent, LogEvent.seq, LogEvent.ts),
    "audit": (AuditEntry, AuditEntry.id, AuditEntry.ts),
    "alerts": (Alert, Alert.id, Alert.resolved_at),
}
# Rollups have composite keys: a batch deletes one span of hours from each, whatever its bucket (seconds).
_ROLLUPS = (
    (UsageQuarterRollup, UsageQuarterRollup.quarter, QUARTER_S),
    (UsageRollup, UsageRollup.hour, HOUR_S),
    (UsageModelRollup, UsageModelRollup.hour, HOUR_S),
    (UsageAgentRollup, UsageAgentRollup.hour, HOUR_S),
    (UsageAgentDayRollup, UsageAgentDayRollup.day, DAY_S),
    (SessionRollup, SessionRollup.day, DAY_S),
    (SessionRuntimeRollup, SessionRuntimeRollup.day, DAY_S),
)
ROLLUP_HOURS_PER_BATCH = 24 * 7
KINDS = (*_ROWS, "rollups", "event_ids")


def _where(kind: str, cutoff: datetime):
    _table, _key, age = _ROWS[kind]
    if kind == "alerts":  # only resolved alerts age out; a firing one stays however old
        return and_(Alert.state == "resolved", age < cutoff)
    return age < cutoff


class RetentionQueries(QueryBase):
    def prune_batch(self, kind: str, cutoff: datetime, batch: int) -> int:
        """Delete at most ``batch`` rows (rollups: one span of hours) of ``kind`` older than ``cutoff``;
        the number deleted (0: nothing older is left)."""
        if kind == "rollups":
            return self._prune_rollups(hour_of(cutoff))
        if kind == "event_ids":
            return self._prune_event_ids(day_of(cutoff), batch)
        table, key, age = _ROWS[kind]
        keys = [k for (k,) in self._oldest_keys((key,), _where(kind, cutoff), age, batch)]
        if not keys:
            return 0
        with self._write() as conn:
            if kind == "usage":
                # What the foreign key's ON DELETE CASCADE does on SQLite; PostgreSQL's partitioned
                # usage_events cannot be referenced by id alone, so it has no such key (migration 0010).
                conn.execute(delete(UsageRepriced).where(UsageRepriced.usage_event_id.in_(keys)))
            return conn.execute(delete(table).where(key.in_(keys), _where(kind, cutoff))).rowcount

    def _prune_event_ids(self, cutoff_day: int, batch: int) -> int:
        """At most ``batch`` event ids first seen before ``cutoff_day``, found through the day index outside
        the write lock as the other kinds' keys are."""
        old = IngestEventId.seen_day < cutoff_day
        key = (IngestEventId.source, IngestEventId.event_id)
        keys = self._oldest_keys(key, old, IngestEventId.seen_day, batch)
        if not keys:
            return 0
        with self._write() as conn:
            return conn.execute(delete(IngestEventId).where(tuple_(*key).in_(keys), old)).rowcount

    def _oldest_keys(self, key: tuple, where, age, batch: int) -> list[tuple]:
        """A batch's keys, oldest first, read before the write lock is taken and through the age index
        (ordered by key, SQLite walked the whole table for them while every ingest waited); the caller then
        deletes exactly those."""
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(select(*key).where(where).order_by(age).limit(batch))]

    def _prune_rollups(self, cutoff_hour: int) -> int:
        deleted = 0
        with self._write() as conn:
            first = conn.execute(select(func.min(UsageRollup.hour))).scalar()
            upto = min(cutoff_hour, (first if first is not None else cutoff_hour) + ROLLUP_HOURS_PER_BATCH)
            for table, column, bucket_s in _ROLLUPS:
                deleted += conn.execute(delete(table).where(column < upto * HOUR_S // bucket_s)).rowcount
        return deleted

    def retention_holdings(self) -> list[Holding]:
        """Rows and the oldest entry of each kind, for the Operations page."""
        out = []
        with self._read() as conn:
            for kind, (table, _key, age) in _ROWS.items():
                rows, oldest = conn.execute(select(func.count(), func.min(age)).select_from(table)).one()
                out.append(Holding(kind, rows, oldest))
            rows, oldest = conn.execute(select(func.count(), func.min(UsageRollup.hour))).one()
            out.append(Holding("rollups", rows, oldest))
            rows, day = conn.execute(select(func.count(), func.min(IngestEventId.seen_day))).one()
            first_seen = None if day is None else datetime.fromtimestamp(day * DAY_S, UTC)
            out.append(Holding("event_ids", rows, first_seen))
        return out
