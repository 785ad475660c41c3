"""Provider drift as stored: unknown usage fields per provider (``helicarrier.ingest.drift`` finds them)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from helicarrier.data.models import UsageDrift
from helicarrier.data.queries.base import QueryBase


def _insert(conn):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(UsageDrift)


class DriftQueries(QueryBase):
    def note_usage_drift(self, seen: list[tuple[str, str, str]], now: datetime) -> None:
        """Count each (provider, field, example) seen; the first example and first-seen time are kept. In a
        transaction of its own, after the events are stored: drift is rare, and a hot row here must never
        hold up ingest."""
        if not seen:
            return
        counts = Counter((p, f) for p, f, _e in seen)
        examples = {(p, f): e for p, f, e in reversed(seen)}
        with self._write() as conn:
            for (provider, field), n in sorted(counts.items()):
                ins = _insert(conn).values(
                    provider=provider,
                    field=field,
                    first_seen_at=now,
                    last_seen_at=now,
                    seen_count=n,
                    example=examples[(provider, field)],
                )
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=["provider", "field"],
                        set_={"last_seen_at": now, "seen_count": UsageDrift.seen_count + n},
                    )
                )

    def usage_drift(self, limit: int = 200) -> list[dict]:
        """Unknown usage fields, the most recently first seen first."""
        stmt = select(UsageDrift).order_by(
            UsageDrift.first_seen_at.desc(), UsageDrift.provider, UsageDrift.field
        )
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt.limit(limit))]
