"""Storing a checked ingest batch, as ``IngestService`` composes it in one transaction: claiming the
Idempotency-Key and the event ids, then the bulk writes (driver executemany or COPY) of agents, sessions,
usage, logs and their rollups.

The request is acknowledged only after the transaction commits, so an acknowledged event is durable; a
failure rolls back everything, so a failed request stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Boolean, Connection, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from helicarrier.data.bulk import bulk_insert, execute_many, insert_new_keys
from helicarrier.data.models import (
    Agent,
    Command,
    IngestEventId,
    IngestReceipt,
    IngestSource,
    LogEvent,
    Session,
    UsageEvent,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.queries.ingest_stats import record_ingest_stats
from helicarrier.data.queries.rollups import (
    add_facets,
    add_usage,
    apply_session_changes,
    ended_sessions,
    refresh_session_labels,
)
from helicarrier.data.rollups import add_into, day_of, quarter_of, session_facets, usage_contribution
from helicarrier.data.types import utcnow
from helicarrier.data.unit import TxBase
from helicarrier.usage_fields import TOKEN_FIELDS


@dataclass(frozen=True, slots=True)
class Receipt:
    body_sha256: str
    status_code: int
    response: str


class IdempotencyConflict(Exception):
    """Same Idempotency-Key, different body."""


USAGE_ROW_COLUMNS = (
    "provider", "model", *TOKEN_FIELDS, "total_tokens", "cost_nanos", "reported_cost_nanos",
    "pricing_version", "price_provider", "price_model", "cost_provenance", "cost_confidence",
    "normalizer_version", "warnings", "raw",
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
# What a batch may say about an agent (None: it did not say; the stored value stays).
_AGENT_FIELDS = (
    "name",
    "status",
    "model",
    "provider",
    "current_task",
    "current_session_id",
    "labels",
    "seen",
    "heartbeat",  # whether the batch had a heartbeat: it restates the wait (``waiting_until``)
    "waiting_until",
    "waiting_for",
)
# A session's running totals: its usage events, token counts, cost and unpriced events.
_SESSION_TOTALS = ("usage_events", *TOKEN_FIELDS, "cost_nanos", "unpriced_events")


def _insert(conn: Connection, model):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(model)


# In id order: concurrent batches lock the agents' unique index entries in one order.
_NEW_AGENTS_PG = (
    "INSERT INTO agents (id, name, status, first_seen_at, updated_at) "
    "SELECT x.id, x.name, x.status, %(now)s, %(now)s "
    "FROM json_to_recordset(%(agents)s::json) AS x(id text, name text, status text) "
    "ORDER BY x.id ON CONFLICT (id) DO NOTHING"
)


def _new_agent():
    """INSERT an agent unless its id is known (bound per agent)."""
    return (
        sqlite.insert(Agent)
        .values(
            id=_bp("b_id", Agent.id.type),
            name=_bp("b_name", Agent.name.type),
            status=_bp("b_status", Agent.status.type),
            first_seen_at=_bp("b_now", Agent.first_seen_at.type),
            updated_at=_bp("b_now", Agent.updated_at.type),
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )


def _agent_update():
    """UPDATE agents: what a batch said of each agent, keeping what it did not say (bound per agent)."""
    return (
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
            # A heartbeat restates the agent's wait (NULL: not waiting); other events leave it.
            waiting_until=case(
                (_bp("b_heartbeat", Boolean()), _bp("b_waiting_until", Agent.waiting_until.type)),
                else_=Agent.waiting_until,
            ),
            waiting_for=case(
                (_bp("b_heartbeat", Boolean()), _bp("b_waiting_for", Agent.waiting_for.type)),
                else_=Agent.waiting_for,
            ),
            updated_at=_bp("b_now", Agent.updated_at.type),
        )
    )


def _agent_session_ended():
    """UPDATE agents: an ended session is no longer the agent's current one (bound per agent)."""
    return (
        update(Agent)
        .where(
            Agent.id == _bp("b_a", Agent.id.type),
            Agent.current_session_id == _bp("b_s", Agent.current_session_id.type),
        )
        .values(
            current_session_id=None,
            current_task=None,
            status="idle",
            updated_at=_bp("b_now", Agent.updated_at.type),
        )
    )


class IngestTx(TxBase):
    """The steps of storing a batch. ``events`` are ``helicarrier.ingest.validate.Event``s."""

    def claim_idempotency_key(self, token_id: int, key: str, route: str, digest: str, now) -> Receipt | None:
        """Claim the key (None), or the receipt of the request that claimed it first (its answer is replayed).
        Raises IdempotencyConflict when that request had another body or route."""
        conn = self.conn
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

    def save_receipt(self, token_id: int, key: str, status: int, body: str) -> None:
        self.conn.execute(
            update(IngestReceipt)
            .where(IngestReceipt.token_id == token_id, IngestReceipt.key == key)
            .values(status_code=status, response=body)
        )

    def command_owners(self, command_ids: Iterable[str]) -> dict[str, str]:
        """The agent each of these commands was sent to (unknown commands are left out)."""
        rows = self.conn.execute(select(Command.id, Command.agent_id).where(Command.id.in_(set(command_ids))))
        return {r.id: r.agent_id for r in rows}

    def claim_event_ids(self, source: str, ids: Sequence[str], now: datetime) -> set[str]:
        """Record the event ids, seen on ``now``'s UTC day; returns those not seen before from this source."""
        return insert_new_keys(self.conn, IngestEventId.__table__, source, ids, day_of(now))

    def forget_event_id(self, source: str, event_id: str) -> None:
        """An event refused after its id was claimed: a corrected resend must not count as a duplicate."""
        self.conn.execute(
            delete(IngestEventId).where(IngestEventId.source == source, IngestEventId.event_id == event_id)
        )

    def ended_session_ids(self, session_ids: Iterable[str]) -> set[str]:
        ids = set(session_ids)
        if not ids:
            return set()
        stmt = select(Session.id).where(Session.id.in_(ids), Session.ended_at.is_not(None))
        return set(self.conn.execute(stmt).scalars())

    def store_batch(self, source: str, events: list, agents: list[dict], ended: list[dict], usage_rows, now):
        """Write what a batch says: new agents, sessions, usage (and the sessions' totals), logs, the rollups
        and, last, the agents' rows. ``agents`` and ``ended`` are the fold of the batch
        (``helicarrier.ingest.fold``); ``usage_rows`` maps an event index to its priced usage row."""
        conn = self.conn
        # Sessions of the batch that had already ended: their rollup contribution may change.
        ended_before = ended_sessions(conn, {e.session_id for e in events if e.session_id is not None})
        self._insert_new_agents(agents, now)
        self._upsert_sessions(events)
        usage_folded = self._insert_usage(source, events, usage_rows, now)
        self._insert_logs(source, events, now)
        # Rollups in the same transaction, late: hot rows (this hour's buckets) are locked briefly.
        # Only a session.end can end a session here (kill confirmations ran before the snapshot).
        ending = {e.session_id for e in events if e.type == "session.end"}
        apply_session_changes(conn, ended_before, ended_sessions(conn, ending | set(ended_before)))
        add_usage(conn, usage_folded)
        add_facets(conn, _facets(events))
        refresh_session_labels(conn, {e.session_id for e in events if e.type == "session.start"})
        # Last, and in id order: the agent rows are the ones every request of a fleet touches, so they are
        # locked for the shortest time and always in the same order (no deadlocks).
        self._update_agents(agents, ended, now)

    def record_ingest_stats(self, accepted: int, duplicates: int, rejected: int, now: datetime) -> None:
        record_ingest_stats(self.conn, accepted, duplicates, rejected, now)

    # -- the writes of store_batch -------------------------------------------------------------------

    def _insert_new_agents(self, rows: list[dict], now: datetime) -> None:
        """Agents seen for the first time (sessions refer to them); existing rows are not touched here.
        Every batch names its agents, nearly all known already: on PostgreSQL one statement reads them from
        JSON (one execution per agent cost psycopg and the server ~8 us each); on SQLite the driver's
        executemany, its SQL compiled once."""
        if not rows:
            return
        conn = self.conn
        new = [{"id": r["id"], "name": r["name"] or r["id"], "status": r["status"] or "idle"} for r in rows]
        if conn.dialect.name == "postgresql":
            cur = conn.connection.driver_connection.cursor()
            try:
                cur.execute(_NEW_AGENTS_PG, {"agents": orjson.dumps(new).decode(), "now": now})
            finally:
                cur.close()
            return
        params = [{"b_id": a["id"], "b_name": a["name"], "b_status": a["status"], "b_now": now} for a in new]
        execute_many(conn, "ingest.new_agents", _new_agent, params)

    def _update_agents(self, rows: list[dict], ended: list[dict], now: datetime) -> None:
        """One UPDATE per agent that keeps what the batch did not say; then clear ended sessions."""
        params = [{"b_id": r["id"], "b_now": now, **{f"b_{k}": r[k] for k in _AGENT_FIELDS}} for r in rows]
        execute_many(self.conn, "ingest.agent_update", _agent_update, params)
        if ended:
            params = [{**e, "b_now": now} for e in ended]
            execute_many(self.conn, "ingest.agent_session_ended", _agent_session_ended, params)

    def _upsert_sessions(self, events: list) -> None:
        conn = self.conn
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

    def _insert_usage(self, source: str, events: list, usage_rows: dict[int, dict], received) -> dict:
        """Insert the usage rows, add them to their sessions' totals; return them folded per rollup key
        (quarter, agent, model, provider)."""
        rows = []
        totals: dict[str, list[int]] = {}
        folded: dict[tuple, list[int]] = {}
        for e in events:
            if e.type != "usage":
                continue
            row = usage_rows[e.index]
            rows.append(
                (source, e.id, e.agent_id, e.session_id, e.ts, received, *(row[c] for c in USAGE_ROW_COLUMNS))
            )
            sums = usage_contribution(row)  # events, tokens..., cost, unpriced, reported cost
            key = (quarter_of(e.ts), e.agent_id, row["model"] or "", row["provider"])
            acc = folded.get(key)
            if acc is None:
                folded[key] = sums
            else:
                add_into(acc, sums)
            if e.session_id is not None:
                add_into(totals.setdefault(e.session_id, [0] * len(_SESSION_TOTALS)), sums[:-1])
        if not rows:
            return folded
        bulk_insert(self.conn, UsageEvent.__table__, USAGE_INSERT_COLUMNS, rows)
        if totals:
            # Sorted, so that concurrent requests lock session rows in one order (no deadlock on PostgreSQL).
            execute_many(
                self.conn,
                "ingest.session_totals",
                _add_session_totals,
                [
                    {"b_sid": sid, **dict(zip(_TOTAL_PARAMS, totals[sid], strict=True))}
                    for sid in sorted(totals)
                ],
            )
        return folded

    def _insert_logs(self, source: str, events: list, received: datetime) -> None:
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
        bulk_insert(self.conn, LogEvent.__table__, LOG_INSERT_COLUMNS, rows)


def _facets(events: list) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for e in events:
        if e.type == "session.start":
            d = e.data
            kind = d.task_kind or (d.labels or {}).get("task_kind")
            out |= session_facets(d.model, d.provider, kind, d.labels)
    return out


_TOTAL_PARAMS = tuple(f"b_{c}" for c in _SESSION_TOTALS)


def _add_session_totals():
    """UPDATE sessions SET usage_events = usage_events + :b_usage_events, ... (total_tokens: in + out)."""
    values = {c: getattr(Session, c) + _bp(f"b_{c}", getattr(Session, c).type) for c in _SESSION_TOTALS}
    values["total_tokens"] = (
        Session.total_tokens
        + _bp("b_input_tokens", Session.total_tokens.type)
        + _bp("b_output_tokens", Session.total_tokens.type)
    )
    return update(Session).where(Session.id == _bp("b_sid", Session.id.type)).values(**values)


def _coalesce(a, b):
    return func.coalesce(a, b)


def _bp(name: str, type_=None):
    return bindparam(name, type_=type_)


class SourceQueries(QueryBase):
    def note_source(self, name: str, provenance: str | None, token_name: str | None) -> None:
        """The source was heard from, and what produced its events."""
        now = utcnow()
        with self._write() as conn:
            ins = _insert(conn, IngestSource)
            row = dict(
                name=name, provenance=provenance, token_name=token_name, first_seen_at=now, last_seen_at=now
            )
            conn.execute(
                ins.values(**row).on_conflict_do_update(
                    index_elements=["name"],
                    set_={
                        "provenance": func.coalesce(ins.excluded.provenance, IngestSource.provenance),
                        "token_name": ins.excluded.token_name,
                        "last_seen_at": ins.excluded.last_seen_at,
                    },
                )
            )

    def known_event_ids(self, source: str, ids: Sequence[str]) -> set[str]:
        """The ids of ``ids`` already stored from this source (a read: claiming them is the ingest's)."""
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(ids), 500):  # under every backend's bound-parameter limit
                chunk = ids[start : start + 500]
                stmt = select(IngestEventId.event_id).where(
                    IngestEventId.source == source, IngestEventId.event_id.in_(chunk)
                )
                found.update(conn.execute(stmt).scalars())
        return found

    def ingest_sources(self) -> list[dict]:
        """Every source that reported, the most recent first."""
        with self._read() as conn:
            rows = conn.execute(select(IngestSource).order_by(IngestSource.last_seen_at.desc()))
            return [r._asdict() for r in rows]


class ReceiptPruning(QueryBase):
    def prune_receipts(self, keep_hours: int = 48) -> int:
        """Idempotency keys are kept at least 24 h (48 here), then forgotten."""
        from datetime import timedelta

        with self._write() as conn:
            return conn.execute(
                delete(IngestReceipt).where(IngestReceipt.created_at < utcnow() - timedelta(hours=keep_hours))
            ).rowcount
