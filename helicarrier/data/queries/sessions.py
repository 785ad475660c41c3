"""The Ledger: searchable session history with keyset (cursor) and offset paging, and one session's detail.

Every sort is a keyset on (sort column[, started_at], id) served by one index (see the Session model), so
the next page is an index seek, not a growing OFFSET. Columns that can be NULL (model, runtime of a running
session) sort NULLs last in both directions: the cursor first walks the non-NULL values, then the NULLs.

Free text is a case-insensitive substring over task and error (LIKE on SQLite, which is case-insensitive for
ASCII; ILIKE on PostgreSQL) with the user's wildcards escaped. It has no index: it scans the rows the other
filters leave, so it is fast when combined with a date range (the Ledger always sends one).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, bindparam, func, literal_column, or_, select, tuple_, type_coerce

from helicarrier.analytics.filters import SessionFilters
from helicarrier.data.models import Agent, Command, FacetValue, LogEvent, Session, SessionLabel, UsageEvent
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.queries.commands import command_dict
from helicarrier.data.types import utcnow

SESSION_STATUSES = ("running", "succeeded", "failed", "timeout", "killed")
DETAIL_USAGE_LIMIT = 5000
DETAIL_LOG_LIMIT = 2000
_LABEL_OPTIONS_LIMIT = 2000


class SessionsPage(NamedTuple):
    rows: list[dict]
    next_cursor: str | None


class CursorError(ValueError):
    """A cursor that is malformed or belongs to another sort."""


@dataclass(frozen=True)
class _Sort:
    primary: Any
    tail: tuple[Any, ...]
    nullable: bool = False

    @property
    def keys(self) -> tuple[Any, ...]:
        return (self.primary, *self.tail)


SORTS: dict[str, _Sort] = {
    "started_at": _Sort(Session.started_at, (Session.id,)),
    "cost_nanos": _Sort(Session.cost_nanos, (Session.id,)),
    "total_tokens": _Sort(Session.total_tokens, (Session.id,)),
    "runtime_s": _Sort(Session.runtime_ms, (Session.id,), nullable=True),
    "agent_id": _Sort(Session.agent_id, (Session.started_at, Session.id)),
    "model": _Sort(Session.model, (Session.started_at, Session.id), nullable=True),
    "status": _Sort(Session.status, (Session.started_at, Session.id)),
}

_ROW_COLUMNS = (
    Session.id,
    Session.started_at,
    Session.ended_at,
    Session.agent_id,
    Session.model,
    Session.provider,
    Session.task,
    Session.task_kind,
    Session.status,
    Session.error,
    Session.runtime_ms,
    Session.input_tokens,
    Session.output_tokens,
    Session.cache_read_tokens,
    Session.cache_write_tokens,
    Session.reasoning_tokens,
    Session.total_tokens,
    Session.cost_nanos,
    Session.unpriced_events,
    Session.labels,
)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def session_conditions(
    f: SessionFilters, dialect: str, *, walk: str | None = None, paging: bool = False
) -> list:
    """The WHERE clauses for ``f`` (shared by the Ledger, its count, the API and exports).

    ``walk`` (SQLite only): the sort whose index the planner must walk. The started_at range (and, unless
    sorting by status, the status filter) are then written ``+started_at`` / ``+status``: SQLite's documented
    way to keep a term from choosing an index. The sort indexes carry started_at (and status), so the
    terms are still checked on the index entry, before any row is read.
    ``paging``: label filters as a correlated EXISTS (a page walks an index and probes each row's labels)
    rather than an IN over all the matching sessions (better for a count)."""
    where: list = []
    started, status = Session.started_at, Session.status
    if walk is not None and dialect == "sqlite":
        started = type_coerce(literal_column("+sessions.started_at"), Session.started_at.type)
        if walk != "status":
            status = type_coerce(literal_column("+sessions.status"), Session.status.type)
    if f.agent_ids:
        where.append(Session.agent_id.in_(f.agent_ids))
    if f.models:
        where.append(Session.model.in_(f.models))
    if f.providers:
        where.append(Session.provider.in_(f.providers))
    if f.statuses:
        where.append(status.in_(f.statuses))
    for key, values in f.label_pairs().items():
        # An index range over (key, value, started_at) instead of parsing every session's JSON labels.
        sub = select(SessionLabel.session_id).where(
            SessionLabel.key == key,
            SessionLabel.value.in_(values) if len(values) > 1 else SessionLabel.value == values[0],
        )
        if paging:
            where.append(sub.where(SessionLabel.session_id == Session.id).exists())
            continue
        if f.start is not None:
            sub = sub.where(SessionLabel.started_at >= f.start)
        if f.end is not None:
            sub = sub.where(SessionLabel.started_at < f.end)
        where.append(Session.id.in_(sub))
    if f.start is not None:
        where.append(started >= f.start)
    if f.end is not None:
        where.append(started < f.end)
    text = f.search
    if text:
        pattern = f"%{escape_like(text)}%"
        if dialect == "postgresql":
            where.append(
                or_(Session.task.ilike(pattern, escape="\\"), Session.error.ilike(pattern, escape="\\"))
            )
        else:
            # SQLite's LIKE ignores ASCII case by itself; ilike() would wrap both sides in lower().
            where.append(
                or_(Session.task.like(pattern, escape="\\"), Session.error.like(pattern, escape="\\"))
            )
    return where


def _encode_cursor(sort: str, descending: bool, phase: str, values: tuple) -> str:
    data = [sort, int(descending), phase, [v.isoformat() if isinstance(v, datetime) else v for v in values]]
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[str, tuple]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        c_sort, c_desc, phase, values = orjson.loads(raw)
    except Exception as exc:  # noqa: BLE001 - any garbage is "not a cursor"
        raise CursorError("cursor is not one this server issued") from exc
    if (
        c_sort != sort
        or bool(c_desc) != descending
        or phase not in ("v", "n")
        or not isinstance(values, list)
    ):
        raise CursorError("cursor belongs to another sort or order; start again without it")
    spec = SORTS[sort]
    cols = spec.keys if phase == "v" else spec.tail
    if phase == "n" and not values:  # the NULLs, from their start
        return phase, ()
    if len(values) != len(cols):
        raise CursorError("cursor is not one this server issued")
    return phase, tuple(_cursor_value(col, v) for col, v in zip(cols, values, strict=True))


def _cursor_value(col, v: Any) -> Any:
    """One decoded cursor value, checked against its column: a crafted cursor is a 422, never a value the
    driver chokes on (text for a number, a number past BIGINT, a NUL, an object)."""
    if col is Session.started_at:
        try:
            return datetime.fromisoformat(v)
        except (TypeError, ValueError) as exc:
            raise CursorError("cursor is not one this server issued") from exc
    if col.type.python_type is int:
        ok = type(v) is int and -(2**63) <= v < 2**63
    else:
        ok = type(v) is str and len(v) <= (col.type.length or 0) and "\x00" not in v
    if not ok:
        raise CursorError("cursor is not one this server issued")
    return v


def _after(cols: tuple, values: tuple, descending: bool):
    left = tuple_(*cols)
    right = tuple_(*(bindparam(None, v, type_=c.type) for c, v in zip(cols, values, strict=True)))
    return left < right if descending else left > right


def _fetch(
    conn: Connection,
    where: list,
    keys: tuple,
    descending: bool,
    *,
    by_filter: bool,
    limit: int,
    offset: int = 0,
) -> list:
    """The rows of one page. With ``by_filter``, a deferred join: the page's ids first, from the filter's
    index alone (on PostgreSQL it carries the sort columns), then only those rows are read."""
    if not by_filter:
        stmt = select(*_ROW_COLUMNS).where(*where).order_by(*_order(keys, descending))
        return conn.execute(stmt.offset(offset or None).limit(limit)).all()
    ids = select(Session.id).where(*where).order_by(*_order(keys, descending, by_filter=True))
    ids = ids.offset(offset or None).limit(limit)
    stmt = select(*_ROW_COLUMNS).where(Session.id.in_(ids)).order_by(*_order(keys, descending))
    return conn.execute(stmt).all()


def _order(cols: tuple, descending: bool, *, by_filter: bool = False) -> list:
    """ORDER BY terms. ``by_filter`` writes the sort column as ``col + 0`` (a number) or ``col || ''`` (text):
    no index can then serve the order, so the planner reads the (few) rows the filters select, from the
    filter's index (which carries the sort columns), and sorts them."""
    if by_filter and cols[0].key in _NUMERIC_SORT_COLUMNS:
        cols = (cols[0] + 0, *cols[1:])
    elif by_filter and cols[0].key in _TEXT_SORT_COLUMNS:
        cols = (cols[0] + "", *cols[1:])
    return [c.desc() if descending else c.asc() for c in cols]


class SessionQueries(QueryBase):
    # -- the Ledger --------------------------------------------------------------------------------

    def sessions_page(
        self,
        filters: SessionFilters,
        *,
        sort: str = "started_at",
        descending: bool = True,
        cursor: str | None = None,
        limit: int = 100,
    ) -> SessionsPage:
        """One page of sessions and the cursor of the next (None on the last page). Raises ValueError for an
        unknown sort and CursorError (a ValueError) for a cursor of another sort."""
        spec = _spec(sort)
        limit = max(1, min(int(limit), 1000))
        phase, values = _decode_cursor(cursor, sort, descending) if cursor else ("v", ())
        by_filter = _by_filter(filters, sort)
        with self._read() as conn:
            base = session_conditions(
                filters, conn.dialect.name, walk=_walk(conn, filters, sort), paging=True
            )
            rows: list = []
            if phase == "v":
                where = list(base)
                if spec.nullable:
                    where.append(spec.primary.is_not(None))
                if values:
                    where.append(_after(spec.keys, values, descending))
                rows = _fetch(conn, where, spec.keys, descending, by_filter=by_filter, limit=limit + 1)
                if len(rows) > limit:
                    last = rows[limit - 1]
                    nxt = _encode_cursor(
                        sort, descending, "v", tuple(last._mapping[c.key] for c in spec.keys)
                    )
                    return SessionsPage(self._rows(conn, rows[:limit]), nxt)
                if not spec.nullable:
                    return SessionsPage(self._rows(conn, rows), None)
                values = ()
            want = limit - len(rows)
            where = [*base, spec.primary.is_(None)]
            if values:
                where.append(_after(spec.tail, values, descending))
            stmt = select(*_ROW_COLUMNS).where(*where).order_by(*_order(spec.tail, descending))
            nulls = conn.execute(stmt.limit(want + 1)).all()
            nxt = None
            if len(nulls) > want:
                nulls = nulls[:want]
                if nulls:
                    last = nulls[-1]
                    nxt = _encode_cursor(
                        sort, descending, "n", tuple(last._mapping[c.key] for c in spec.tail)
                    )
                else:  # the page ended exactly where the NULLs begin
                    nxt = _encode_cursor(sort, descending, "n", ())
            return SessionsPage(self._rows(conn, [*rows, *nulls]), nxt)

    def sessions_rows(
        self,
        filters: SessionFilters,
        *,
        sort: str = "started_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> list[dict]:
        """Rows ``offset .. offset+limit`` in the same order as sessions_page (for the grid's row model)."""
        spec = _spec(sort)
        offset = max(0, int(offset))
        limit = max(1, min(int(limit), 1000))
        by_filter = _by_filter(filters, sort)
        with self._read() as conn:
            base = session_conditions(
                filters, conn.dialect.name, walk=_walk(conn, filters, sort), paging=True
            )
            where = [*base, spec.primary.is_not(None)] if spec.nullable else list(base)
            rows = _fetch(conn, where, spec.keys, descending, by_filter=by_filter, limit=limit, offset=offset)
            if spec.nullable and len(rows) < limit:
                if rows:
                    n_values = offset + len(rows)
                else:
                    n_values = conn.execute(
                        select(func.count()).select_from(Session).where(*where)
                    ).scalar_one()
                stmt = (
                    select(*_ROW_COLUMNS)
                    .where(*base, spec.primary.is_(None))
                    .order_by(*_order(spec.tail, descending))
                    .offset(max(0, offset - n_values))
                    .limit(limit - len(rows))
                )
                rows = [*rows, *conn.execute(stmt).all()]
            return self._rows(conn, rows)

    def session_count(self, filters: SessionFilters) -> int:
        with self._read() as conn:
            where = session_conditions(filters, conn.dialect.name)
            return int(conn.execute(select(func.count()).select_from(Session).where(*where)).scalar_one())

    def session_detail(self, session_id: str) -> dict | None:
        """The session, its usage events (timeline order), logs, commands and its token and cost breakdown."""
        with self._read() as conn:
            row = conn.execute(select(*_ROW_COLUMNS).where(Session.id == session_id)).one_or_none()
            if row is None:
                return None
            session = self._rows(conn, [row])[0]
            usage = conn.execute(
                select(
                    UsageEvent.id,
                    UsageEvent.ts,
                    UsageEvent.provider,
                    UsageEvent.model,
                    UsageEvent.input_tokens,
                    UsageEvent.output_tokens,
                    UsageEvent.cache_read_tokens,
                    UsageEvent.cache_write_tokens,
                    UsageEvent.reasoning_tokens,
                    UsageEvent.total_tokens,
                    UsageEvent.cost_nanos,
                    UsageEvent.reported_cost_nanos,
                    UsageEvent.pricing_version,
                    UsageEvent.price_model,
                    UsageEvent.cost_provenance,
                    UsageEvent.cost_confidence,
                    UsageEvent.warnings,
                )
                .where(UsageEvent.session_id == session_id)
                .order_by(UsageEvent.ts, UsageEvent.id)
                .limit(DETAIL_USAGE_LIMIT)
            ).all()
            logs = conn.execute(
                select(LogEvent.seq, LogEvent.ts, LogEvent.level, LogEvent.message)
                .where(LogEvent.session_id == session_id)
                .order_by(LogEvent.seq)
                .limit(DETAIL_LOG_LIMIT)
            ).all()
            commands = conn.execute(
                select(Command).where(Command.session_id == session_id).order_by(Command.created_at)
            ).all()
            provenance = conn.execute(
                select(
                    UsageEvent.cost_provenance,
                    func.coalesce(func.sum(UsageEvent.cost_nanos), 0),
                    func.count(),
                    func.count(UsageEvent.cost_nanos),
                )
                .where(UsageEvent.session_id == session_id)
                .group_by(UsageEvent.cost_provenance)
            ).all()
        by_prov: dict[str, int] = {"computed": 0, "reported": 0, "estimated": 0, "unpriced_events": 0}
        for prov, cost, n, priced in provenance:
            if prov in ("computed", "reported", "estimated"):
                by_prov[prov] += int(cost)
            elif int(cost):  # a provenance this code does not know yet: keep its money visible
                by_prov[prov] = by_prov.get(prov, 0) + int(cost)
            by_prov["unpriced_events"] += int(n) - int(priced)
        return {
            "session": session,
            "usage": [r._asdict() for r in usage],
            "logs": [r._asdict() for r in logs],
            "commands": [command_dict(r) for r in commands],
            "breakdown": {
                "input_tokens": session["input_tokens"],
                "output_tokens": session["output_tokens"],
                "cache_read_tokens": session["cache_read_tokens"],
                "cache_write_tokens": session["cache_write_tokens"],
                "reasoning_tokens": session["reasoning_tokens"],
                "cost_by_provenance": by_prov,
            },
            "usage_truncated": len(usage) >= DETAIL_USAGE_LIMIT,
            "logs_truncated": len(logs) >= DETAIL_LOG_LIMIT,
        }

    def filter_options(self) -> dict[str, list[str]]:
        """What the Ledger's filters offer: small tables only, never a DISTINCT over sessions."""
        with self._read() as conn:
            agents = list(conn.execute(select(Agent.id).order_by(Agent.id)).scalars())
            facets = conn.execute(
                select(FacetValue.facet, FacetValue.value).order_by(FacetValue.facet, FacetValue.value)
            ).all()
        out: dict[str, list[str]] = {"models": [], "providers": [], "labels": [], "task_kinds": []}
        names = {"model": "models", "provider": "providers", "label": "labels", "task_kind": "task_kinds"}
        for facet, value in facets:
            if facet in names:
                out[names[facet]].append(value)
        out["labels"] = out["labels"][:_LABEL_OPTIONS_LIMIT]
        return {
            "agents": agents,
            "models": out["models"],
            "providers": out["providers"],
            "statuses": list(SESSION_STATUSES),
            "labels": out["labels"],
            "task_kinds": out["task_kinds"],
        }

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _rows(conn: Connection, rows: list) -> list[dict]:
        """Rows as the Ledger shows them: runtime in seconds (a running session's so far) and the pricing
        version(s) of their usage events."""
        if not rows:
            return []
        now = utcnow()
        versions = _pricing_versions(conn, [r.id for r in rows])
        out = []
        for r in rows:
            d = r._asdict()
            ms = d.pop("runtime_ms")
            if ms is not None:
                d["runtime_s"] = ms / 1000
            elif d["ended_at"] is None and d["started_at"] is not None:
                d["runtime_s"] = max(0.0, (now - d["started_at"]).total_seconds())
            else:
                d["runtime_s"] = None
            d["pricing_version"] = versions.get(d["id"])
            out.append(d)
        return out


# SQLite has no statistics on value ranges: it takes any started_at range for a small one, and sorts it.
# For a month of a big table that sorts a third of the sessions, where walking the sort column's own index
# and filtering finds the first page after a few hundred rows. So past this many sessions in the range (a
# uniform-density estimate from the first and last start), the range is kept off its index. PostgreSQL's
# planner has histograms and chooses well by itself.
_INDEXED_SORTS = ("cost_nanos", "total_tokens", "runtime_s")
_NUMERIC_SORT_COLUMNS = ("cost_nanos", "total_tokens", "runtime_ms")
_TEXT_SORT_COLUMNS = ("agent_id", "model", "status")
_RANGE_SORT_LIMIT = 20_000


def _by_filter(f: SessionFilters, sort: str) -> bool:
    """Sort the filtered rows instead of walking the sort index and filtering it.

    Cost, tokens and runtime are correlated with the agent and the model (an agent mostly runs one model;
    models differ in price by 100x), so the planner's "one row in N matches" guess for walking the cost
    index is wrong by orders of magnitude when filtering by a few agents or models: PostgreSQL walked 170k
    index entries for a page. A few agents or models, or free text in a date range, select few enough rows
    to sort. The same holds for the agent, model and status sorts (their indexes lead with the sort
    column, so walking one for "two agents by model" passes every other agent's sessions): the agent and
    model indexes carry status, model / agent and the numeric sort columns, so the filter's sessions are
    sorted from the index alone (migration 0016: 150 -> 5 ms for two agents by model at 1M sessions)."""
    if sort not in _INDEXED_SORTS and sort not in _TEXT_SORT_COLUMNS:
        return False
    return bool(f.search) or 0 < len(f.agent_ids) <= 5 or 0 < len(f.models) <= 3


def _walk(conn: Connection, f: SessionFilters, sort: str) -> str | None:
    """The sort whose index SQLite should walk (filtering as it goes), or None to let it choose.

    SQLite without statistics (the app never runs ANALYZE) takes a status or a started_at range for a
    selective filter and sorts what it finds; on a big table that is a sort of 100k+ rows for one page,
    where walking the sort's own index reads a few thousand index entries."""
    if conn.dialect.name != "sqlite" or sort == "started_at" or f.search or _by_filter(f, sort):
        return None  # free text is bounded by its date range; a few agents/models: sort what they select
    if f.start is None and f.end is None:
        return sort
    # Three queries: one min() or max() each is an index seek; together they would scan.
    lo = conn.execute(select(func.min(Session.started_at))).scalar()
    hi = conn.execute(select(func.max(Session.started_at))).scalar()
    n = conn.execute(select(func.max(literal_column("rowid"))).select_from(Session)).scalar()
    if lo is None or hi <= lo:
        return None
    a, b = max(lo, f.start or lo), min(hi, f.end or hi)
    share = max(0.0, (b - a).total_seconds()) / (hi - lo).total_seconds()
    return sort if share * (n or 0) >= _RANGE_SORT_LIMIT else None


def _spec(sort: str) -> _Sort:
    spec = SORTS.get(sort)
    if spec is None:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    return spec


def _pricing_versions(conn: Connection, ids: list[str]) -> dict[str, str]:
    """{session id: its usage events' pricing version(s), comma-joined when several}."""
    found: dict[str, set[str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        stmt = (
            select(UsageEvent.session_id, UsageEvent.pricing_version)
            .where(UsageEvent.session_id.in_(chunk), UsageEvent.pricing_version.is_not(None))
            .group_by(UsageEvent.session_id, UsageEvent.pricing_version)
        )
        for sid, version in conn.execute(stmt):
            found.setdefault(sid, set()).add(version)
    return {sid: ", ".join(sorted(v)) for sid, v in found.items()}
