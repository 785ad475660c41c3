"""Storing a checked ingest batch: one transaction per request, executemany for the rows.

The request is acknowledged only after this commits, so an acknowledged event is durable; a failure rolls
back everything, so a failed request stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from helicarrier.data.bulk import bulk_insert, insert_new_keys
from helicarrier.data.engine import is_transient
from helicarrier.data.models import (
    Agent,
    Command,
    IngestEventId,
    IngestReceipt,
    LogEvent,
    Session,
    UsageEvent,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.queries.commands import CommandRefused, apply_ack, flag_ineffective_kills
from helicarrier.data.queries.ingest_stats import record_ingest_stats
from helicarrier.data.queries.rollups import (
    add_facets,
    add_usage,
    apply_session_changes,
    ended_sessions,
    refresh_session_labels,
)
from helicarrier.data.rollups import session_facets
from helicarrier.data.types import utcnow


@dataclass(frozen=True, slots=True)
class Receipt:
    body_sha256: str
    status_code: int
    response: str


@dataclass(slots=True)
class StoreOutcome:
    """What happened to each accepted-by-validation event: stored, or a duplicate of one already stored."""

    stored: list[int] = field(default_factory=list)  # event indexes
    duplicates: list[int] = field(default_factory=list)
    # index -> (code, message, field of the event's data at fault)
    refused: dict[int, tuple[str, str, str]] = field(default_factory=dict)


class IdempotencyConflict(Exception):
    """Same Idempotency-Key, different body."""


class Rejected(Exception):
    """The rendered answer is an error: roll back, store nothing (not even the Idempotency-Key)."""

    def __init__(self, status: int, body: str):
        super().__init__(status)
        self.status = status
        self.body = body


_TRANSIENT_RETRIES = 3

USAGE_ROW_COLUMNS = (
    "provider", "model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "total_tokens", "cost_nanos", "reported_cost_nanos", "pricing_version",
    "price_provider", "price_model", "cost_provenance", "cost_confidence", "normalizer_version", "warnings",
    "raw",
)  # fmt: skip
USAGE_INSERT_COLUMNS = (
    "source",
    "event_id",
    "agent_id",
    "session_id",
    "ts",
    "received_at",
    *USAGE_ROW_COLUMNS,
)
LOG_INSERT_COLUMNS = (
    "source", "event_id", "agent_id", "session_id", "ts", "received_at", "level", "message", "attrs",
)  # fmt: skip


def _insert(conn: Connection, model):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(model)


class IngestQueries(QueryBase):
    def find_receipt(self, token_id: int, key: str) -> Receipt | None:
        with self._read() as conn:
            row = conn.execute(
                select(IngestReceipt.body_sha256, IngestReceipt.status_code, IngestReceipt.response).where(
                    IngestReceipt.token_id == token_id, IngestReceipt.key == key
                )
            ).one_or_none()
        return None if row is None else Receipt(row.body_sha256, row.status_code, row.response)

    def store_events(
        self,
        *,
        source: str,
        events: Sequence[Any],
        usage_rows: dict[int, dict[str, Any]],
        render: Callable[[StoreOutcome], tuple[int, str]],
        idempotency: tuple[int, str, str, str] | None = None,
        rejected: int = 0,
    ) -> tuple[int, str]:
        """Store ``events`` (validated ``helicarrier.ingest.validate.Event``s) and answer (status, body).

        ``usage_rows`` maps an event index to its priced usage row. ``render`` builds the response from the
        outcome inside the transaction, so that the Idempotency-Key receipt stores exactly what is sent.
        ``idempotency`` is (token_id, key, route, body sha256): a replay returns the first response; the same
        key with another body raises IdempotencyConflict; nothing is stored twice.
        """
        for attempt in range(_TRANSIENT_RETRIES):
            try:
                return self._store_once(source, events, usage_rows, render, idempotency, rejected)
            except OperationalError as exc:
                # A deadlock or serialization failure rolled everything back: running again is safe.
                if attempt == _TRANSIENT_RETRIES - 1 or not is_transient(exc):
                    raise
        raise AssertionError("unreachable")

    def _store_once(
        self, source, events, usage_rows, render, idempotency, rejected_before: int = 0
    ) -> tuple[int, str]:
        received = utcnow()
        with self._write() as conn:
            if idempotency is not None:
                replay = self._claim_key(conn, idempotency, received)
                if replay is not None:
                    return replay.status_code, replay.response
            outcome = StoreOutcome()
            live = self._refuse_unknown_commands(conn, events, outcome)
            live = self._drop_duplicates(conn, source, live, outcome)
            live = self._apply_acks(conn, source, live, outcome, received)
            if live:
                # Sessions of the batch that had already ended: their rollup contribution may change.
                touched = {e.session_id for e in live if e.session_id is not None}
                ended_before = ended_sessions(conn, touched)
                agents, ended = self._fold_agents(live, self._ended_sessions(conn, live))
                self._insert_new_agents(conn, agents)
                self._upsert_sessions(conn, live)
                usage_folded = self._insert_usage(conn, source, live, usage_rows, received)
                usage_seen = [(e.agent_id, e.ts) for e in live if e.type == "usage"]
                flag_ineffective_kills(conn, usage_seen, received)
                self._insert_logs(conn, source, live, received)
                # Rollups in the same transaction, late: hot rows (this hour's buckets) are locked briefly.
                # Only a session.end can end a session here (kill confirmations ran before the snapshot).
                ending = {e.session_id for e in live if e.type == "session.end"}
                apply_session_changes(conn, ended_before, ended_sessions(conn, ending | set(ended_before)))
                add_usage(conn, usage_folded)
                add_facets(conn, self._facets(live))
                refresh_session_labels(conn, {e.session_id for e in live if e.type == "session.start"})
                # Last, and in id order: the agent rows are the ones every request of a fleet touches, so
                # they are locked for the shortest time and always in the same order (no deadlocks).
                self._update_agents(conn, agents, ended)
            outcome.stored = [e.index for e in live]
            status, body = render(outcome)
            if status >= 400:
                raise Rejected(status, body)
            # Counted for the ingest rejection-rate alert, in the same transaction as the events.
            record_ingest_stats(
                conn,
                len(outcome.stored),
                len(outcome.duplicates),
                len(outcome.refused) + rejected_before,
                received,
            )
            if idempotency is not None:
                token_id, key, _route, _digest = idempotency
                conn.execute(
                    update(IngestReceipt)
                    .where(IngestReceipt.token_id == token_id, IngestReceipt.key == key)
                    .values(status_code=status, response=body)
                )
        return status, body

    # -- steps ---------------------------------------------------------------------------------------

    def _claim_key(self, conn: Connection, idem: tuple[int, str, str, str], now: datetime) -> Receipt | None:
        token_id, key, route, digest = idem
        # Claim the key first: a concurrent request with the same key waits on the unique index until this
        # transaction ends, then finds the receipt and replays it.
        claimed = conn.execute(
            _insert(conn, IngestReceipt)
            .values(
                token_id=token_id,
                key=key,
                route=route,
                body_sha256=digest,
                status_code=0,
                response="",
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["token_id", "key"])
            .returning(IngestReceipt.id)
        ).first()
        if claimed is not None:
            return None
        row = conn.execute(
            select(
                IngestReceipt.body_sha256,
                IngestReceipt.status_code,
                IngestReceipt.response,
                IngestReceipt.route,
            ).where(IngestReceipt.token_id == token_id, IngestReceipt.key == key)
        ).one()
        if row.body_sha256 != digest or row.route != route:
            raise IdempotencyConflict(key)
        return Receipt(row.body_sha256, row.status_code, row.response)

    def _refuse_unknown_commands(
        self, conn: Connection, events: Sequence[Any], outcome: StoreOutcome
    ) -> list:
        acks = [e for e in events if e.type == "command.ack" and not e.duplicate]
        if not acks:
            return list(events)
        wanted = {e.data.command_id for e in acks}
        rows = conn.execute(select(Command.id, Command.agent_id).where(Command.id.in_(wanted))).all()
        known = {r.id: r.agent_id for r in rows}
        live = []
        for e in events:
            if e.type == "command.ack" and not e.duplicate:
                owner = known.get(e.data.command_id)
                if owner is None:
                    outcome.refused[e.index] = (
                        "unknown_command",
                        f"no command {e.data.command_id}",
                        "command_id",
                    )
                    continue
                if owner != e.agent_id:
                    outcome.refused[e.index] = (
                        "wrong_agent",
                        f"command {e.data.command_id} is not for {e.agent_id}",
                        "command_id",
                    )
                    continue
            live.append(e)
        return live

    def _apply_acks(self, conn: Connection, source: str, events: list, outcome: StoreOutcome, now) -> list:
        """Move each acknowledged command through its lifecycle; an illegal answer is refused per event."""
        live = []
        for e in events:
            if e.type != "command.ack":
                live.append(e)
                continue
            try:
                apply_ack(conn, e.data.command_id, e.agent_id, e.data.state, e.data.message, now)
            except CommandRefused as refused:
                outcome.refused[e.index] = (refused.code, refused.message, "command_id")
                if e.id is not None:  # not stored, so a corrected resend is not taken for a duplicate
                    conn.execute(
                        delete(IngestEventId).where(
                            IngestEventId.source == source, IngestEventId.event_id == e.id
                        )
                    )
                continue
            live.append(e)
        return live

    def _drop_duplicates(self, conn: Connection, source: str, events: list, outcome: StoreOutcome) -> list:
        with_ids = [e.id for e in events if e.id is not None and not e.duplicate]
        new_ids = insert_new_keys(conn, IngestEventId.__table__, source, with_ids)
        live = []
        for e in events:
            if e.duplicate or (e.id is not None and e.id not in new_ids):
                outcome.duplicates.append(e.index)
            else:
                live.append(e)
        return live

    def _ended_sessions(self, conn: Connection, events: list) -> set[str]:
        """Sessions already ended that a session.start in this batch names (a start that arrived late)."""
        ids = {e.session_id for e in events if e.type == "session.start"}
        if not ids:
            return set()
        stmt = select(Session.id).where(Session.id.in_(ids), Session.ended_at.is_not(None))
        return set(conn.execute(stmt).scalars())

    @staticmethod
    def _fold_agents(events: list, ended_sessions: set[str]) -> tuple[list[dict], list[dict]]:
        """What the batch says about each agent, latest event last; and the (agent, session) ends."""
        folded: dict[str, dict[str, Any]] = {}
        ended: list[dict[str, str]] = []
        for e in sorted(events, key=lambda ev: ev.ts):
            a = folded.setdefault(
                e.agent_id,
                {
                    "id": e.agent_id,
                    "name": None,
                    "status": None,
                    "model": None,
                    "provider": None,
                    "current_task": None,
                    "current_session_id": None,
                    "labels": None,
                    "seen": e.ts,
                },
            )
            a["seen"] = max(a["seen"], e.ts)
            d = e.data
            if e.type == "agent.heartbeat":
                a["status"] = d.status
                a["current_task"] = d.current_task if d.current_task is not None else a["current_task"]
                for key in ("name", "model", "provider", "labels"):
                    if getattr(d, key) is not None:
                        a[key] = getattr(d, key)
            elif e.type == "session.start" and e.session_id not in ended_sessions:
                # A start arriving after its session's end must not make the agent "running" it again.
                a["status"] = "running"
                a["current_session_id"] = e.session_id
                a["current_task"] = d.task if d.task is not None else a["current_task"]
                a["model"] = d.model or a["model"]
                a["provider"] = d.provider or a["provider"]
            elif e.type == "usage" and e.usage is not None:
                a["model"] = e.usage.model or a["model"]
                a["provider"] = e.usage.provider
            elif e.type == "session.end":
                ended.append({"b_a": e.agent_id, "b_s": e.session_id})
        now = utcnow()
        rows = []
        for agent_id in sorted(folded):
            a = folded[agent_id]
            seen = min(a.pop("seen"), now)  # a client clock ahead of ours must not keep an agent "online"
            rows.append({**a, "seen": seen, "now": now})
        return rows, sorted(ended, key=lambda x: (x["b_a"], x["b_s"]))

    def _insert_new_agents(self, conn: Connection, rows: list[dict]) -> None:
        """Agents seen for the first time (sessions refer to them); existing rows are not touched here."""
        now = rows[0]["now"]
        conn.execute(
            _insert(conn, Agent).on_conflict_do_nothing(index_elements=["id"]),
            [
                {
                    "id": r["id"],
                    "name": r["name"] or r["id"],
                    "status": r["status"] or "idle",
                    "first_seen_at": now,
                    "updated_at": now,
                }
                for r in rows
            ],
        )

    def _update_agents(self, conn: Connection, rows: list[dict], ended: list[dict]) -> None:
        """One UPDATE per agent that keeps what the batch did not say; then clear ended sessions."""
        now = rows[0]["now"]
        conn.execute(
            update(Agent)
            .where(Agent.id == _bp("b_id", Agent.id.type))
            .values(
                name=_coalesce(_bp("b_name", Agent.name.type), Agent.name),
                status=_coalesce(_bp("b_status", Agent.status.type), Agent.status),
                model=_coalesce(_bp("b_model", Agent.model.type), Agent.model),
                provider=_coalesce(_bp("b_provider", Agent.provider.type), Agent.provider),
                current_task=_coalesce(_bp("b_current_task", Agent.current_task.type), Agent.current_task),
                current_session_id=_coalesce(
                    _bp("b_current_session_id", Agent.current_session_id.type), Agent.current_session_id
                ),
                labels=_coalesce(_bp("b_labels", Agent.labels.type), Agent.labels),
                last_heartbeat_at=case(
                    (Agent.last_heartbeat_at.is_(None), _bp("b_seen", Agent.last_heartbeat_at.type)),
                    (
                        Agent.last_heartbeat_at < _bp("b_seen", Agent.last_heartbeat_at.type),
                        _bp("b_seen", Agent.last_heartbeat_at.type),
                    ),
                    else_=Agent.last_heartbeat_at,
                ),
                updated_at=_bp("b_now", Agent.updated_at.type),
            ),
            [
                {
                    "b_id": r["id"],
                    **{
                        f"b_{k}": r[k]
                        for k in (
                            "name",
                            "status",
                            "model",
                            "provider",
                            "current_task",
                            "current_session_id",
                            "labels",
                            "seen",
                            "now",
                        )
                    },
                }
                for r in rows
            ],
        )
        if ended:
            conn.execute(
                update(Agent)
                .where(
                    Agent.id == _bp("b_a", Agent.id.type),
                    Agent.current_session_id == _bp("b_s", Agent.current_session_id.type),
                )
                .values(current_session_id=None, current_task=None, status="idle", updated_at=now),
                ended,
            )

    def _upsert_sessions(self, conn: Connection, events: list) -> None:
        starts: list[dict] = []
        ends: list[dict] = []
        touched: dict[str, dict] = {}
        for e in events:
            if e.session_id is None:
                continue
            if e.type == "session.start":
                d = e.data
                labels = d.labels
                starts.append(
                    {
                        "id": e.session_id,
                        "agent_id": e.agent_id,
                        "model": d.model,
                        "provider": d.provider,
                        "task": d.task,
                        "task_kind": d.task_kind or (labels or {}).get("task_kind"),
                        "labels": labels,
                        "status": "running",
                        "started_at": e.ts,
                        "updated_at": e.ts,
                    }
                )
            elif e.type == "session.end":
                ends.append(
                    {
                        "id": e.session_id,
                        "agent_id": e.agent_id,
                        "status": e.data.status,
                        "error": e.data.error,
                        "started_at": e.ts,
                        "ended_at": e.ts,
                        "updated_at": e.ts,
                    }
                )
            else:
                prev = touched.get(e.session_id)
                if prev is None or e.ts < prev["started_at"]:
                    touched[e.session_id] = {
                        "id": e.session_id,
                        "agent_id": e.agent_id,
                        "status": "running",
                        "started_at": e.ts,
                        "updated_at": e.ts,
                    }
        if touched:
            # Usage or logs may arrive before their session.start: create the session, start fills it in.
            conn.execute(
                _insert(conn, Session).on_conflict_do_nothing(index_elements=["id"]),
                [touched[k] for k in sorted(touched)],
            )
        starts.sort(key=lambda r: r["id"])
        ends.sort(key=lambda r: r["id"])
        if starts:
            stmt = _insert(conn, Session)
            ex = stmt.excluded
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={
                        "model": _coalesce(ex.model, Session.model),
                        "provider": _coalesce(ex.provider, Session.provider),
                        "task": _coalesce(ex.task, Session.task),
                        "task_kind": _coalesce(ex.task_kind, Session.task_kind),
                        "labels": _coalesce(ex.labels, Session.labels),
                        # The start is authoritative for when it began; its status never reopens an end.
                        "started_at": ex.started_at,
                    },
                ),
                starts,
            )
        if ends:
            stmt = _insert(conn, Session)
            ex = stmt.excluded
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={
                        "status": ex.status,
                        "error": ex.error,
                        "ended_at": ex.ended_at,
                        "updated_at": ex.updated_at,
                    },
                ),
                ends,
            )

    @staticmethod
    def _facets(events: list) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for e in events:
            if e.type == "session.start":
                d = e.data
                kind = d.task_kind or (d.labels or {}).get("task_kind")
                out |= session_facets(d.model, d.provider, kind, d.labels)
        return out

    def _insert_usage(
        self, conn: Connection, source: str, events: list, usage_rows: dict[int, dict], received: datetime
    ) -> dict[tuple, list[int]]:
        """Insert the usage rows, add them to their sessions' totals; return them folded per rollup key."""
        rows = []
        totals: dict[str, dict[str, int]] = {}
        folded: dict[tuple, list[int]] = {}
        for e in events:
            if e.type != "usage":
                continue
            row = usage_rows[e.index]
            rows.append(
                (source, e.id, e.agent_id, e.session_id, e.ts, received, *(row[c] for c in USAGE_ROW_COLUMNS))
            )
            # Fold into the rollup row of (hour, agent, model, provider): written once per key, late.
            i, o, cr, cw = (
                row["input_tokens"],
                row["output_tokens"],
                row["cache_read_tokens"],
                row["cache_write_tokens"],
            )
            r, cost = row["reasoning_tokens"] or 0, row["cost_nanos"]
            key = (int(e.ts.timestamp()) // 3600, e.agent_id, row["model"] or "", row["provider"])
            acc = folded.get(key)
            if acc is None:
                acc = folded[key] = [0] * 9
            acc[0] += 1
            acc[1] += i
            acc[2] += o
            acc[3] += cr
            acc[4] += cw
            acc[5] += r
            if cost is None:
                acc[7] += 1
            else:
                acc[6] += cost
            acc[8] += row["reported_cost_nanos"] or 0
            if e.session_id is not None:
                t = totals.setdefault(
                    e.session_id,
                    {"b_sid": e.session_id, "n": 0, "i": 0, "o": 0, "cr": 0, "cw": 0, "r": 0, "c": 0, "u": 0},
                )
                t["n"] += 1
                t["i"] += i
                t["o"] += o
                t["cr"] += cr
                t["cw"] += cw
                t["r"] += r
                if cost is None:
                    t["u"] += 1
                else:
                    t["c"] += cost
        if not rows:
            return folded
        bulk_insert(conn, UsageEvent.__table__, USAGE_INSERT_COLUMNS, rows)
        if totals:
            # Sorted, so that concurrent requests lock session rows in one order (no deadlock on PostgreSQL).
            conn.execute(
                update(Session)
                .where(Session.id == _bp("b_sid", Session.id.type))
                .values(
                    usage_events=Session.usage_events + _bp("n", Session.usage_events.type),
                    input_tokens=Session.input_tokens + _bp("i", Session.input_tokens.type),
                    output_tokens=Session.output_tokens + _bp("o", Session.output_tokens.type),
                    cache_read_tokens=Session.cache_read_tokens + _bp("cr", Session.cache_read_tokens.type),
                    cache_write_tokens=Session.cache_write_tokens
                    + _bp("cw", Session.cache_write_tokens.type),
                    reasoning_tokens=Session.reasoning_tokens + _bp("r", Session.reasoning_tokens.type),
                    total_tokens=Session.total_tokens
                    + _bp("i", Session.total_tokens.type)
                    + _bp("o", Session.total_tokens.type),
                    cost_nanos=Session.cost_nanos + _bp("c", Session.cost_nanos.type),
                    unpriced_events=Session.unpriced_events + _bp("u", Session.unpriced_events.type),
                ),
                [totals[k] for k in sorted(totals)],
            )
        return folded

    def _insert_logs(self, conn: Connection, source: str, events: list, received: datetime) -> None:
        rows = [
            (
                source,
                e.id,
                e.agent_id,
                e.session_id,
                e.ts,
                received,
                e.data.level,
                e.data.message,
                e.data.attrs,
            )
            for e in events
            if e.type == "log"
        ]
        bulk_insert(conn, LogEvent.__table__, LOG_INSERT_COLUMNS, rows)


def _coalesce(a, b):
    return func.coalesce(a, b)


def _bp(name: str, type_=None):
    return bindparam(name, type_=type_)


class ReceiptPruning(QueryBase):
    def prune_receipts(self, keep_hours: int = 48) -> int:
        """Idempotency keys are kept at least 24 h (48 here), then forgotten."""
        from datetime import timedelta

        with self._write() as conn:
            return conn.execute(
                delete(IngestReceipt).where(IngestReceipt.created_at < utcnow() - timedelta(hours=keep_hours))
            ).rowcount
