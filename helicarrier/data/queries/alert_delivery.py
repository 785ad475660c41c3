"""Notification receivers (webhooks) and the deliveries log.

The log is also the grouping memory: a group's last delivery says when it was last notified and which
alerts it announced in which state (``helicarrier.alerts.grouping``), so a restart repeats nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from helicarrier.actors import Actor
from helicarrier.alerts.grouping import LastSend
from helicarrier.data.models import AlertDelivery, AlertReceiver
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow
from helicarrier.data.unit import audit_row
from helicarrier.errors import Refused

RECEIVER_COLUMNS = (
    "id", "name", "kind", "url", "enabled", "matchers", "group_by", "group_wait_s", "group_interval_s",
    "repeat_interval_s", "max_per_hour", "mute_windows",
    "consecutive_failures", "disabled_reason", "last_success_at",
    "last_failure_at", "created_at", "updated_at",
)  # fmt: skip


def _receiver(row) -> dict[str, Any]:
    d = row._asdict()
    return {k: d.get(k) for k in RECEIVER_COLUMNS}


class AlertDeliveryQueries(QueryBase):
    # -- receivers ---------------------------------------------------------------------------------

    def list_receivers(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        stmt = select(AlertReceiver).order_by(AlertReceiver.name)
        if enabled_only:
            stmt = stmt.where(AlertReceiver.enabled.is_(True))
        with self._read() as conn:
            return [_receiver(r) for r in conn.execute(stmt).all()]

    def get_receiver(self, receiver_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(AlertReceiver).where(AlertReceiver.id == receiver_id)).one_or_none()
        return None if row is None else _receiver(row)

    def create_receiver(self, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
        now = utcnow()
        try:
            with self._write() as conn:
                rid = conn.execute(
                    insert(AlertReceiver)
                    .values(**values, consecutive_failures=0, created_at=now, updated_at=now)
                    .returning(AlertReceiver.id)
                ).scalar_one()
                audit_row(
                    conn,
                    actor,
                    "alert_receiver.create",
                    "ok",
                    target_kind="alert_receiver",
                    target_id=str(rid),
                    details={"name": values["name"]},
                )
        except IntegrityError:
            raise Refused(409, "duplicate_name", f"a receiver named {values['name']!r} exists") from None
        return self.get_receiver(rid)  # type: ignore[return-value]

    def update_receiver(self, receiver_id: int, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
        values = dict(values)
        if values.get("enabled") is True:
            # Enabled again by a person: its failure count starts over.
            values.update(consecutive_failures=0, disabled_reason=None)
        try:
            with self._write() as conn:
                found = conn.execute(
                    update(AlertReceiver)
                    .where(AlertReceiver.id == receiver_id)
                    .values(**values, updated_at=utcnow())
                ).rowcount
                if not found:
                    raise Refused(404, "unknown_receiver", f"no receiver {receiver_id}")
                audit_row(
                    conn,
                    actor,
                    "alert_receiver.update",
                    "ok",
                    target_kind="alert_receiver",
                    target_id=str(receiver_id),
                )
        except IntegrityError:
            raise Refused(409, "duplicate_name", f"a receiver named {values.get('name')!r} exists") from None
        return self.get_receiver(receiver_id)  # type: ignore[return-value]

    def delete_receiver(self, receiver_id: int, actor: Actor) -> None:
        with self._write() as conn:
            conn.execute(delete(AlertDelivery).where(AlertDelivery.receiver_id == receiver_id))
            found = conn.execute(delete(AlertReceiver).where(AlertReceiver.id == receiver_id)).rowcount
            if not found:
                raise Refused(404, "unknown_receiver", f"no receiver {receiver_id}")
            audit_row(
                conn,
                actor,
                "alert_receiver.delete",
                "ok",
                target_kind="alert_receiver",
                target_id=str(receiver_id),
            )

    # -- deliveries --------------------------------------------------------------------------------

    def last_sends(self, receiver_id: int) -> dict[str, LastSend]:
        """Each group's last delivery to the receiver (whatever became of it), by group key."""
        latest = (
            select(func.max(AlertDelivery.id))
            .where(AlertDelivery.receiver_id == receiver_id)
            .group_by(AlertDelivery.group_key)
        )
        stmt = select(AlertDelivery.group_key, AlertDelivery.created_at, AlertDelivery.alerts).where(
            AlertDelivery.id.in_(latest)
        )
        with self._read() as conn:
            return {
                r.group_key: LastSend(r.created_at, frozenset((fp, st) for fp, st in r.alerts or []))
                for r in conn.execute(stmt).all()
            }

    def count_deliveries_since(self, receiver_id: int, since: datetime) -> int:
        """How many notifications the receiver was given since ``since`` (its rate cap counts them)."""
        stmt = select(func.count()).where(
            AlertDelivery.receiver_id == receiver_id, AlertDelivery.created_at >= since
        )
        with self._read() as conn:
            return conn.execute(stmt).scalar_one()

    def add_deliveries(self, rows: list[dict[str, Any]]) -> list[int]:
        """New deliveries, each to be attempted now (status retrying, next_attempt_at = created_at)."""
        ids = []
        with self._write() as conn:
            for row in rows:
                ids.append(
                    conn.execute(
                        insert(AlertDelivery)
                        .values(**row, status="retrying", attempts=0, next_attempt_at=row["created_at"])
                        .returning(AlertDelivery.id)
                    ).scalar_one()
                )
        return ids

    def due_deliveries(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        """Deliveries to attempt now, with their receiver, oldest first."""
        stmt = (
            select(
                AlertDelivery.id,
                AlertDelivery.receiver_id,
                AlertDelivery.attempts,
                AlertDelivery.payload,
                AlertReceiver.url,
                AlertReceiver.kind,
                AlertReceiver.name.label("receiver_name"),
            )
            .join(AlertReceiver, AlertReceiver.id == AlertDelivery.receiver_id)
            .where(
                AlertDelivery.status == "retrying",
                AlertDelivery.next_attempt_at <= now,
                AlertReceiver.enabled.is_(True),
            )
            .order_by(AlertDelivery.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt).all()]

    def record_delivery_attempt(
        self,
        delivery_id: int,
        receiver_id: int,
        *,
        ok: bool,
        error: str | None,
        now: datetime,
        next_attempt_at: datetime | None,
        disable_after: int,
    ) -> bool:
        """One attempt's result. A failure schedules the next attempt (or gives up when
        ``next_attempt_at`` is None); ``disable_after`` consecutive failures disable the receiver.
        Returns True when this attempt disabled the receiver."""
        with self._write() as conn:
            if ok:
                conn.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.id == delivery_id)
                    .values(
                        status="sent",
                        attempts=AlertDelivery.attempts + 1,
                        last_attempt_at=now,
                        sent_at=now,
                        next_attempt_at=None,
                        error=None,
                    )
                )
                conn.execute(
                    update(AlertReceiver)
                    .where(AlertReceiver.id == receiver_id)
                    .values(consecutive_failures=0, last_success_at=now)
                )
                return False
            conn.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == delivery_id)
                .values(
                    status="retrying" if next_attempt_at else "failed",
                    attempts=AlertDelivery.attempts + 1,
                    last_attempt_at=now,
                    next_attempt_at=next_attempt_at,
                    error=(error or "")[:2000],
                )
            )
            failures = conn.execute(
                update(AlertReceiver)
                .where(AlertReceiver.id == receiver_id)
                .values(consecutive_failures=AlertReceiver.consecutive_failures + 1, last_failure_at=now)
                .returning(AlertReceiver.consecutive_failures, AlertReceiver.enabled)
            ).one()
            if failures.enabled and failures.consecutive_failures >= disable_after:
                reason = f"disabled after {failures.consecutive_failures} consecutive failures: {error}"[
                    :2000
                ]
                conn.execute(
                    update(AlertReceiver)
                    .where(AlertReceiver.id == receiver_id)
                    .values(enabled=False, disabled_reason=reason, updated_at=now)
                )
                # Its waiting deliveries will not go anywhere now.
                conn.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.receiver_id == receiver_id, AlertDelivery.status == "retrying")
                    .values(status="failed", next_attempt_at=None, error="receiver disabled")
                )
                audit_row(
                    conn,
                    Actor("system", "system"),
                    "alert_receiver.disable",
                    "error",
                    target_kind="alert_receiver",
                    target_id=str(receiver_id),
                    reason=reason,
                )
                return True
            return False

    def list_deliveries(self, *, receiver_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = (
            select(
                AlertDelivery.id,
                AlertDelivery.receiver_id,
                AlertReceiver.name.label("receiver"),
                AlertDelivery.group_key,
                AlertDelivery.group_labels,
                AlertDelivery.reason,
                AlertDelivery.status,
                AlertDelivery.attempts,
                AlertDelivery.alerts,
                AlertDelivery.error,
                AlertDelivery.created_at,
                AlertDelivery.last_attempt_at,
                AlertDelivery.next_attempt_at,
                AlertDelivery.sent_at,
            )
            .join(AlertReceiver, AlertReceiver.id == AlertDelivery.receiver_id)
            .order_by(AlertDelivery.id.desc())
            .limit(limit)
        )
        if receiver_id is not None:
            stmt = stmt.where(AlertDelivery.receiver_id == receiver_id)
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt).all()]
