"""Service flags: small values every instance reads from the database (the scheduler's heartbeat,
maintenance mode)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from helicarrier.data.models import ServiceFlag
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow


class Flag(NamedTuple):
    value: str | None
    updated_at: datetime
    updated_by: str | None


class FlagQueries(QueryBase):
    def flag(self, name: str) -> Flag | None:
        stmt = select(ServiceFlag.value, ServiceFlag.updated_at, ServiceFlag.updated_by).where(
            ServiceFlag.name == name
        )
        with self._read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else Flag(*row)

    def set_flag(self, name: str, value: str | None, by: str | None = None) -> None:
        values = {"name": name, "value": value, "updated_at": utcnow(), "updated_by": by}
        with self._write() as conn:
            ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(ServiceFlag)
            conn.execute(
                ins.values(**values).on_conflict_do_update(
                    index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}
                )
            )
