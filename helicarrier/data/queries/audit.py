"""The audit log: append-only from the application (no update or delete is ever issued here)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from helicarrier.actors import Actor
from helicarrier.data.models import AuditEntry
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.unit import audit_row

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd


class AuditQueries(QueryBase):
    def record_audit(
        self,
        *,
        actor: str,
        actor_kind: str,
        action: str,
        outcome: str,
        role: str | None = None,
        remote_addr: str | None = None,
        **target: Any,
    ) -> None:
        """Append one entry in a transaction of its own (``target``: target_kind, target_id, reason,
        details). Inside a unit of work, ``tx.audit`` does the same."""
        with self._write() as conn:
            audit_row(conn, Actor(actor, actor_kind, role, remote_addr), action, outcome, **target)

    def audit_entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target_id: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> pd.DataFrame:
        import pandas as pd

        stmt = (
            select(
                AuditEntry.id,
                AuditEntry.ts,
                AuditEntry.actor,
                AuditEntry.actor_kind,
                AuditEntry.role,
                AuditEntry.action,
                AuditEntry.target_kind,
                AuditEntry.target_id,
                AuditEntry.reason,
                AuditEntry.outcome,
                AuditEntry.details,
                AuditEntry.remote_addr,
            )
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
        for col, value in (
            (AuditEntry.actor, actor),
            (AuditEntry.action, action),
            (AuditEntry.target_id, target_id),
            (AuditEntry.outcome, outcome),
        ):
            if value:
                stmt = stmt.where(col == value)
        if since is not None:
            stmt = stmt.where(AuditEntry.ts >= since)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return pd.DataFrame([r._asdict() for r in rows], columns=list(stmt.selected_columns.keys()))

    # -- sign-in rate limiting ---------------------------------------------------------------------
