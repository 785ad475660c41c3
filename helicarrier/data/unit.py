"""The unit of work: ``with repo.transaction() as tx:`` gives a service one transaction (on SQLite a
``BEGIN IMMEDIATE``, so writers queue) in which it reads what it decides on and writes what it decided, with
the audit entry of the action. Everything commits together or nothing does.

``Tx`` is built, like the repository, from one mixin per concern; each method is one question or one
write, named for it. The decisions are the services' (``helicarrier.*.service``), not the Tx's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from helicarrier.actors import Actor
from helicarrier.data.models import AuditEntry
from helicarrier.data.types import utcnow


def audit_row(
    conn: Connection,
    actor: Actor,
    action: str,
    outcome: str,
    *,
    target_kind: str | None = None,
    target_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    ts: datetime | None = None,
) -> None:
    """One audit entry, in the caller's transaction."""
    conn.execute(
        insert(AuditEntry).values(
            ts=ts or utcnow(),
            actor=actor.name,
            actor_kind=actor.kind,
            role=actor.role,
            action=action,
            outcome=outcome,
            remote_addr=actor.remote_addr,
            target_kind=target_kind,
            target_id=target_id,
            reason=reason,
            details=details,
        )
    )


class TxBase:
    def __init__(self, conn: Connection):
        self.conn = conn

    def audit(self, actor: Actor, action: str, outcome: str, **kw: Any) -> None:
        audit_row(self.conn, actor, action, outcome, **kw)
