"""Alert rules, alerts and their history, silences, and evaluation cycles.

Every state change of an alert comes from ``helicarrier.alerts.lifecycle`` (the evaluator's outcomes, an
acknowledgement, a rule being disabled) and is written with a guard on the state it was computed from, so
two evaluations racing (a rare double run) cannot apply one change twice: the second finds the state
moved on and writes nothing. New alerts are inserted on their unique fingerprint.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from helicarrier.actors import Actor
from helicarrier.alerts.lifecycle import CLOSED_STATES, OPEN_STATES, AlertState, Outcome
from helicarrier.data.models import Alert, AlertEvalCycle, AlertEvent, AlertRule, Silence
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow
from helicarrier.data.unit import TxBase, audit_row
from helicarrier.errors import Refused

RULE_COLUMNS = (
    "id", "name", "description", "metric", "params", "group_by", "comparator", "threshold", "window_s",
    "for_s", "severity", "labels", "nodata_state", "error_state", "reopen_s", "inhibits", "enabled",
    "created_by", "created_at", "updated_at", "health", "last_eval_at", "last_eval_ms", "last_error",
    "interval_s", "error_streak",
)  # fmt: skip
ALERT_COLUMNS = (
    "id", "rule_id", "fingerprint", "labels", "context", "state", "value", "peak", "eval_count", "episode",
    "active_since", "fired_at", "last_seen_at", "resolved_at", "last_transition_at", "acked_by", "acked_at",
    "ack_note", "message",
)  # fmt: skip
CYCLES_KEPT = 2000


@dataclass
class RuleRun:
    """One rule's evaluation in a cycle, as the engine hands it over for writing."""

    rule_id: int
    outcomes: list[Outcome]
    health: str  # ok | nodata | error
    duration_ms: int
    error: str | None = None
    error_streak: int = 0  # consecutive failed evaluations, this one included


@dataclass
class CycleResult:
    started_at: datetime
    duration_ms: int
    holder: str | None
    queries: int
    runs: list[RuleRun] = field(default_factory=list)


def _rule_dict(row) -> dict[str, Any]:
    d = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return {k: d.get(k) for k in RULE_COLUMNS}


def _alert_dict(row) -> dict[str, Any]:
    d = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return {k: d.get(k) for k in ALERT_COLUMNS} | {
        k: d[k] for k in ("rule_name", "severity", "metric", "rule_labels", "group_by") if k in d
    }


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


_FEED_COLUMNS = (
    *(getattr(Alert, c) for c in ALERT_COLUMNS),
    AlertRule.name.label("rule_name"),
    AlertRule.severity,
    AlertRule.metric,
    AlertRule.labels.label("rule_labels"),
    AlertRule.group_by,
)


class AlertQueries(QueryBase):
    # -- rules -------------------------------------------------------------------------------------

    def list_alert_rules(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        stmt = select(*(getattr(AlertRule, c) for c in RULE_COLUMNS)).order_by(AlertRule.name)
        if enabled_only:
            stmt = stmt.where(AlertRule.enabled.is_(True))
        with self._read() as conn:
            return [_rule_dict(r) for r in conn.execute(stmt).all()]

    def get_alert_rule(self, rule_id: int) -> dict[str, Any] | None:
        stmt = select(*(getattr(AlertRule, c) for c in RULE_COLUMNS)).where(AlertRule.id == rule_id)
        with self._read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _rule_dict(row)

    def create_alert_rule(self, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
        now = utcnow()
        try:
            with self._write() as conn:
                rule_id = conn.execute(
                    insert(AlertRule)
                    .values(**values, created_by=actor.name, created_at=now, updated_at=now)
                    .returning(AlertRule.id)
                ).scalar_one()
                audit_row(
                    conn,
                    actor,
                    "alert_rule.create",
                    "ok",
                    target_kind="alert_rule",
                    target_id=str(rule_id),
                    details={"name": values["name"]},
                )
        except IntegrityError:
            raise Refused(409, "duplicate_name", f"a rule named {values['name']!r} exists") from None
        return self.get_alert_rule(rule_id)  # type: ignore[return-value]

    def ensure_alert_rule(self, values: dict[str, Any]) -> int:
        """The id of the rule named ``values['name']``, created if missing (built-in rules)."""
        with self._read() as conn:
            found = conn.execute(select(AlertRule.id).where(AlertRule.name == values["name"])).scalar()
        if found is not None:
            return int(found)
        try:
            return int(self.create_alert_rule(values, Actor("system", "system"))["id"])
        except Refused:  # created meanwhile by someone else
            with self._read() as conn:
                return int(
                    conn.execute(select(AlertRule.id).where(AlertRule.name == values["name"])).scalar_one()
                )

    def delete_alert_rule(self, rule_id: int, actor: Actor) -> None:
        with self._write() as conn:
            old = conn.execute(select(AlertRule.name).where(AlertRule.id == rule_id)).one_or_none()
            if old is None:
                raise Refused(404, "unknown_rule", f"no alert rule {rule_id}")
            ids = select(Alert.id).where(Alert.rule_id == rule_id)
            conn.execute(delete(AlertEvent).where(AlertEvent.alert_id.in_(ids)))
            conn.execute(delete(Alert).where(Alert.rule_id == rule_id))
            conn.execute(delete(AlertRule).where(AlertRule.id == rule_id))
            audit_row(
                conn,
                actor,
                "alert_rule.delete",
                "ok",
                target_kind="alert_rule",
                target_id=str(rule_id),
                details={"name": old.name},
            )

    # -- evaluation --------------------------------------------------------------------------------

    def alert_states_for_eval(self, now: datetime, max_reopen_s: int) -> dict[int, dict[str, AlertState]]:
        """The alerts an evaluation needs, by rule and fingerprint: the open ones, and the resolved ones
        still inside a reopen interval. (Older closed alerts are found again by their fingerprint.)"""
        stmt = select(*(getattr(Alert, c) for c in _STATE_COLUMNS)).where(
            or_(
                Alert.state.in_(tuple(OPEN_STATES)),
                Alert.resolved_at >= now - timedelta(seconds=max_reopen_s),
            )
        )
        out: dict[int, dict[str, AlertState]] = {}
        with self._read() as conn:
            for row in conn.execute(stmt):
                out.setdefault(row.rule_id, {})[row.fingerprint] = _state(row)
        return out

    def record_alert_cycle(self, cycle: CycleResult, now: datetime | None = None) -> int:
        """Write a cycle's outcomes, rule health and the cycle record in one transaction.
        Returns the number of alerts whose state changed."""
        t0 = time.perf_counter()
        now = now or cycle.started_at
        changed = 0
        errors = [{"rule_id": r.rule_id, "error": r.error} for r in cycle.runs if r.error]
        fresh: list[tuple[int, Outcome]] = []
        moves: list[tuple[int, Outcome]] = []
        steady: list[Outcome] = []
        for run in cycle.runs:
            for o in run.outcomes:
                if not (o.changed or o.new_episode):
                    steady.append(o)
                elif o.before == "inactive" and o.episode <= 1:
                    fresh.append((run.rule_id, o))
                else:
                    moves.append((run.rule_id, o))
        with self._write() as conn:
            events: list[dict[str, Any]] = []
            if fresh:
                events += _insert_fresh(conn, fresh, now)
            for rule_id, o in moves:
                event = _move(conn, rule_id, o, now)
                if event is not None:
                    events.append(event)
            if events:
                conn.execute(insert(AlertEvent), events)
            changed = len(events)
            _update_steady(conn, steady, now)
            _update_rule_health(conn, cycle.runs, now)
            conn.execute(
                insert(AlertEvalCycle).values(
                    started_at=cycle.started_at,
                    duration_ms=cycle.duration_ms + int((time.perf_counter() - t0) * 1000),
                    rules_evaluated=len(cycle.runs),
                    rules_failed=len(errors),
                    alerts_changed=changed,
                    queries=cycle.queries,
                    holder=cycle.holder,
                    errors=errors or None,
                )
            )
        return changed

    def prune_alert_cycles(self, keep: int = CYCLES_KEPT) -> int:
        with self._write() as conn:
            edge = conn.execute(
                select(AlertEvalCycle.id).order_by(AlertEvalCycle.id.desc()).offset(keep).limit(1)
            ).scalar()
            if edge is None:
                return 0
            return conn.execute(delete(AlertEvalCycle).where(AlertEvalCycle.id <= edge)).rowcount

    def eval_cycles(self, limit: int = 20) -> list[dict[str, Any]]:
        stmt = select(AlertEvalCycle).order_by(AlertEvalCycle.id.desc()).limit(limit)
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt).all()]

    # -- reading alerts ----------------------------------------------------------------------------

    def list_alerts(
        self,
        *,
        states: Sequence[str] | None = None,
        rule_id: int | None = None,
        resolved_since: datetime | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Alerts with their rule's name, severity and labels, the most recently changed first.
        ``resolved_since``: also resolved alerts that resolved since then."""
        stmt = select(*_FEED_COLUMNS).join(AlertRule, AlertRule.id == Alert.rule_id)
        conds = []
        if states:
            conds.append(Alert.state.in_(tuple(states)))
        if resolved_since is not None:
            conds.append((Alert.state == "resolved") & (Alert.resolved_at >= resolved_since))
        if conds:
            stmt = stmt.where(or_(*conds))
        if rule_id is not None:
            stmt = stmt.where(Alert.rule_id == rule_id)
        stmt = stmt.order_by(Alert.last_transition_at.desc(), Alert.id.desc()).limit(limit)
        with self._read() as conn:
            return [_alert_dict(r) for r in conn.execute(stmt).all()]

    def get_alert(self, alert_id: int) -> dict[str, Any] | None:
        stmt = (
            select(*_FEED_COLUMNS).join(AlertRule, AlertRule.id == Alert.rule_id).where(Alert.id == alert_id)
        )
        with self._read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _alert_dict(row)

    def alert_history(self, alert_id: int, limit: int = 100) -> list[dict[str, Any]]:
        stmt = (
            select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id)
            .order_by(AlertEvent.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt).all()]

    # -- silences ----------------------------------------------------------------------------------

    def list_silences(self, *, active_at: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Silences, newest first; with ``active_at``, only those active then (start <= t < end)."""
        stmt = select(Silence).order_by(Silence.id.desc()).limit(limit)
        if active_at is not None:
            stmt = stmt.where(Silence.starts_at <= active_at, Silence.ends_at > active_at)
        with self._read() as conn:
            return [r._asdict() for r in conn.execute(stmt).all()]

    def get_silence(self, silence_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(Silence).where(Silence.id == silence_id)).one_or_none()
        return None if row is None else row._asdict()

    def create_silence(
        self, matchers: list[dict], starts_at: datetime, ends_at: datetime, comment: str, actor: Actor
    ) -> dict[str, Any]:
        with self._write() as conn:
            sid = conn.execute(
                insert(Silence)
                .values(
                    matchers=matchers,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    created_by=actor.name,
                    comment=comment,
                    created_at=utcnow(),
                )
                .returning(Silence.id)
            ).scalar_one()
            audit_row(
                conn,
                actor,
                "silence.create",
                "ok",
                target_kind="silence",
                target_id=str(sid),
                reason=comment,
                details={"matchers": matchers, "ends_at": ends_at.isoformat()},
            )
        return self.get_silence(sid)  # type: ignore[return-value]

    def update_silence(self, silence_id: int, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
        with self._write() as conn:
            found = conn.execute(update(Silence).where(Silence.id == silence_id).values(**values)).rowcount
            if not found:
                raise Refused(404, "unknown_silence", f"no silence {silence_id}")
            audit_row(
                conn,
                actor,
                "silence.update",
                "ok",
                target_kind="silence",
                target_id=str(silence_id),
                reason=values.get("comment"),
            )
        return self.get_silence(silence_id)  # type: ignore[return-value]

    def expire_silence(self, silence_id: int, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
        """End a silence now (a pending one ends before it starts); an expired one stays as it was."""
        now = now or utcnow()
        with self._write() as conn:
            row = conn.execute(select(Silence).where(Silence.id == silence_id)).one_or_none()
            if row is None:
                raise Refused(404, "unknown_silence", f"no silence {silence_id}")
            if row.ends_at > now:
                values: dict[str, Any] = {"ends_at": now}
                if row.starts_at > now:
                    values["starts_at"] = now
                conn.execute(update(Silence).where(Silence.id == silence_id).values(**values))
                audit_row(
                    conn, actor, "silence.expire", "ok", target_kind="silence", target_id=str(silence_id)
                )
        return self.get_silence(silence_id)  # type: ignore[return-value]


class AlertTx(TxBase):
    """The questions and writes ``AlertService`` composes in one transaction."""

    def alert_rule(self, rule_id: int) -> dict[str, Any] | None:
        stmt = select(*(getattr(AlertRule, c) for c in RULE_COLUMNS)).where(AlertRule.id == rule_id)
        row = self.conn.execute(stmt).one_or_none()
        return None if row is None else _rule_dict(row)

    def update_alert_rule(self, rule_id: int, values: dict[str, Any], now: datetime) -> None:
        """Raises Refused (409 duplicate_name) when another rule has the name."""
        try:
            self.conn.execute(
                update(AlertRule).where(AlertRule.id == rule_id).values(**values, updated_at=now)
            )
        except IntegrityError:
            raise Refused(409, "duplicate_name", f"a rule named {values.get('name')!r} exists") from None

    def open_alerts(self, rule_id: int) -> list[AlertState]:
        stmt = select(*(getattr(Alert, c) for c in _STATE_COLUMNS)).where(
            Alert.rule_id == rule_id, Alert.state.in_(tuple(OPEN_STATES))
        )
        return [_state(r) for r in self.conn.execute(stmt)]

    def write_alert_change(self, rule_id: int, outcome: Outcome, now: datetime, actor: str, details) -> int:
        """One alert's change, guarded on the state it was computed from; 0 when it had moved on."""
        return _write_change(self.conn, rule_id, outcome, now, actor=actor, details=details)

    def alert(self, alert_id: int):
        return self.conn.execute(select(Alert).where(Alert.id == alert_id)).one_or_none()

    def ack_alert(self, alert, actor: str, note: str | None, now: datetime) -> bool:
        """Mark ``alert`` (a row) acknowledged if it is still in the state it was read in, with its
        history entry; False when it has moved on."""
        done = self.conn.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.state == alert.state)
            .values(acked_by=actor, acked_at=now, ack_note=note or None)
        ).rowcount
        if done:
            self.conn.execute(
                insert(AlertEvent).values(
                    alert_id=alert.id,
                    rule_id=alert.rule_id,
                    ts=now,
                    from_state=alert.state,
                    to_state=alert.state,
                    event="ack",
                    value=alert.value,
                    episode=alert.episode,
                    actor=actor,
                    details={"note": note} if note else None,
                )
            )
        return bool(done)


# -- helpers ---------------------------------------------------------------------------------------


_STATE_COLUMNS = (
    "rule_id", "fingerprint", "state", "labels", "value", "peak", "active_since", "fired_at", "resolved_at",
    "episode", "acked_at", "context",
)  # fmt: skip


def _state(row) -> AlertState:
    return AlertState(
        fingerprint=row.fingerprint,
        state=row.state,
        labels=row.labels or {},
        value=_dec(row.value),
        peak=_dec(row.peak),
        active_since=row.active_since,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        episode=row.episode or 1,
        acked_at=row.acked_at,
        context=row.context,
    )


_MOVED = ("state", "labels", "value", "peak", "active_since", "fired_at", "resolved_at", "message")


def _move_params(o: Outcome, now: datetime) -> dict[str, Any]:
    """The values a state change writes, as parameters of the prebuilt statements below."""
    return {
        "state": o.after,
        "labels": dict(o.labels),
        "value": _text(o.value),
        "peak": _text(o.peak),
        "active_since": o.active_since,
        "fired_at": o.fired_at,
        "resolved_at": o.resolved_at,
        "message": o.message,
        "context": dict(o.context) if o.context else None,
        "last_seen_at": now if o.after in OPEN_STATES else None,
        "last_transition_at": now,
    }


def _bp(name: str, column: str):
    return bindparam(name, type_=Alert.__table__.c[column].type)


@lru_cache(maxsize=4)
def _move_statement(clear_ack: bool):
    """Built once: a state change guarded on (fingerprint, previous state). Per-row statements built
    anew cost ~2 ms each in SQLAlchemy's coercions; a storm of 500 changes must not."""
    values: dict[str, Any] = {c: _bp(c, c) for c in _MOVED}
    values.update(
        episode=_bp("episode", "episode"),
        eval_count=Alert.eval_count + 1,
        last_transition_at=_bp("last_transition_at", "last_transition_at"),
        context=func.coalesce(_bp("context", "context"), Alert.context),
        last_seen_at=func.coalesce(_bp("last_seen_at", "last_seen_at"), Alert.last_seen_at),
    )
    if clear_ack:
        values.update(acked_by=None, acked_at=None, ack_note=None)
    return (
        update(Alert)
        .where(Alert.fingerprint == bindparam("b_fp"), Alert.state == bindparam("b_before"))
        .values(**values)
        .returning(Alert.id, Alert.episode)
    )


@lru_cache(maxsize=4)
def _fresh_statement(dialect: str):
    """Built once per dialect: insert a new alert, or take over a closed row of its fingerprint."""
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Alert)
    table = Alert.__table__
    taken = {c: ins.excluded[c] for c in (*_MOVED, "context", "last_seen_at", "last_transition_at")}
    taken.update(acked_by=None, acked_at=None, ack_note=None)
    return ins.on_conflict_do_update(
        index_elements=["fingerprint"],
        set_={**taken, "episode": table.c.episode + 1, "eval_count": table.c.eval_count + 1},
        # literal states: an expanding IN cannot go into an executemany
        where=text("alerts.state IN (" + ", ".join(f"'{s}'" for s in sorted(CLOSED_STATES)) + ")"),
    ).returning(table.c.id, table.c.fingerprint, table.c.episode)


def _update_rule_health(conn: Connection, runs: list[RuleRun], now: datetime) -> None:
    """Each rule's last evaluation (health, time, duration, error), through the driver: 1,000 rows a cycle."""
    if not runs:
        return
    dbapi = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur:
            cur.execute(
                "UPDATE alert_rules AS r SET health = v.health, last_eval_at = %s, last_eval_ms = v.ms, "
                "last_error = v.err, error_streak = v.streak "
                "FROM unnest(%s::int[], %s::text[], %s::int[], %s::text[], %s::int[]) "
                "AS v(id, health, ms, err, streak) WHERE r.id = v.id",
                (
                    now,
                    [r.rule_id for r in runs],
                    [r.health for r in runs],
                    [r.duration_ms for r in runs],
                    [r.error for r in runs],
                    [r.error_streak for r in runs],
                ),
            )
        return
    at = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    cur = dbapi.cursor()
    try:
        cur.executemany(
            "UPDATE alert_rules SET health = ?, last_eval_at = ?, last_eval_ms = ?, last_error = ?, "
            "error_streak = ? WHERE id = ?",
            [(r.health, at, r.duration_ms, r.error, r.error_streak, r.rule_id) for r in runs],
        )
    finally:
        cur.close()


def _event_row(rule_id: int, row, before: str, o: Outcome, now: datetime, actor=None, details=None) -> dict:
    return {
        "alert_id": row.id,
        "rule_id": rule_id,
        "ts": now,
        "from_state": before,
        "to_state": o.after,
        "event": o.event or "",
        "value": _text(o.value),
        "episode": row.episode,
        "actor": actor,
        "details": _event_details(o, details),
    }


def _update_steady(conn: Connection, steady: list[Outcome], now: datetime) -> None:
    """Open alerts that stay as they are: value, peak, last seen and count, in one statement (PostgreSQL)
    or one executemany (SQLite), through the driver: this runs for every open alert every cycle."""
    if not steady:
        return
    dbapi = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur:
            cur.execute(
                "UPDATE alerts AS a SET value = v.value, peak = v.peak, last_seen_at = %s, "
                "eval_count = a.eval_count + 1 "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS v(fp, st, value, peak) "
                "WHERE a.fingerprint = v.fp AND a.state = v.st",
                (
                    now,
                    [o.fingerprint for o in steady],
                    [o.after for o in steady],
                    [_text(o.value) for o in steady],
                    [_text(o.peak) for o in steady],
                ),
            )
        return
    seen = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    cur = dbapi.cursor()
    try:
        cur.executemany(
            "UPDATE alerts SET value = ?, peak = ?, last_seen_at = ?, eval_count = eval_count + 1 "
            "WHERE fingerprint = ? AND state = ?",
            [(_text(o.value), _text(o.peak), seen, o.fingerprint, o.after) for o in steady],
        )
    finally:
        cur.close()


def _event_details(o: Outcome, extra: dict | None) -> dict | None:
    details: dict[str, Any] = dict(extra or {})
    if o.after == "resolved":
        # The episode as history keeps it: start, end, peak.
        details.update(
            started_at=o.active_since.isoformat() if o.active_since else None,
            fired_at=o.fired_at.isoformat() if o.fired_at else None,
            resolved_at=o.resolved_at.isoformat() if o.resolved_at else None,
            peak=_text(o.peak),
        )
    if o.message:
        details["error"] = o.message
    return details or None


def _identity_changed(old, values: dict[str, Any]) -> bool:
    return any(k in values and values[k] != getattr(old, k) for k in ("metric", "group_by"))


def fingerprints_of(alerts: Iterable[dict]) -> set[str]:
    return {a["fingerprint"] for a in alerts}


def _insert_fresh(conn: Connection, batch: list[tuple[int, Outcome]], now: datetime) -> list[dict]:
    """New alerts, in one executemany: insert, or take over a closed row of the same fingerprint (never
    an open one: that would be a double run's twin, and that row is left as it is). Returns the history
    entries to write."""
    rows = [
        {
            "rule_id": rule_id,
            "fingerprint": o.fingerprint,
            "eval_count": 1,
            "episode": 1,
            **_move_params(o, now),
        }
        for rule_id, o in batch
    ]
    written = {r.fingerprint: r for r in conn.execute(_fresh_statement(conn.dialect.name), rows).all()}
    return [
        _event_row(rule_id, written[o.fingerprint], "inactive", o, now)
        for rule_id, o in batch
        if o.fingerprint in written
    ]


def _move(conn: Connection, rule_id: int, o: Outcome, now: datetime, actor=None, details=None):
    """One alert's state change, guarded on the state it was computed from; its history entry, or None
    when another evaluation got there first."""
    params = {**_move_params(o, now), "b_fp": o.fingerprint, "b_before": o.before, "episode": o.episode}
    row = conn.execute(_move_statement(o.clear_ack), params).one_or_none()
    if row is None or o.before == o.after:
        return None
    return _event_row(rule_id, row, o.before, o, now, actor, details)


def _write_change(
    conn: Connection,
    rule_id: int,
    o: Outcome,
    now: datetime,
    *,
    actor: str | None = None,
    details: dict | None = None,
) -> int:
    event = _move(conn, rule_id, o, now, actor, details)
    if event is None:
        return 0
    conn.execute(insert(AlertEvent), [event])
    return 1
