"""The alert metrics: one SQL query per metric evaluation, grouped in SQL (``GROUP BY``), never per group.

Usage metrics (spend, tokens, spend as a share of a budget) read the hourly usage rollups for the whole
hours of the window and ``usage_events`` (by its ``ts`` index) only for the ragged first hour, so a window
is exact to the second while a 24 h window reads ~24 rollup rows per agent and model, not a day of events.
One query per window returns the sums per agent, model and provider; every group-by (fleet, agent, model,
provider, agent label) is summed from that in Python, so the ragged hour is read once per window.

Rules that ask the same question (same source, group-by, window and params) share one query per cycle
through ``MetricCache``: a thousand rules with a handful of distinct windows cost a handful of queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all

from helicarrier.alerts.lifecycle import Sample
from helicarrier.alerts.rules import group_label_name
from helicarrier.data.models import (
    Agent,
    AlertReceiver,
    Budget,
    Command,
    IngestStat,
    Session,
    UsageEvent,
    UsageRollup,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.money import nanos_to_usd
from helicarrier.slo.budget import WINDOWS, Counts, conditions_holding

RATIO = Decimal("0.000001")
HOUR_S = 3600
DEFAULT_FAILURE_STATUSES = ("failed", "killed", "timeout")  # as the Intelligence page counts failures


@dataclass
class MetricCache:
    """Per-cycle memo of query results, keyed by the question; counts the queries actually run."""

    results: dict[tuple, Any] = field(default_factory=dict)
    samples: dict[tuple, list[Sample]] = field(default_factory=dict)
    queries: int = 0


def _key(*parts: Any) -> tuple:
    return tuple(
        tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in p.items()))
        if isinstance(p, dict)
        else p
        for p in parts
    )


def _usd(nanos: int | None) -> Decimal:
    return nanos_to_usd(int(nanos or 0))


def _ratio(num: int, den: int) -> Decimal:
    return (Decimal(int(num)) / Decimal(int(den))).quantize(RATIO)


class AlertMetricQueries(QueryBase):
    def alert_metric(
        self,
        metric: str,
        group_by: str,
        window_s: int,
        params: Mapping[str, Any] | None,
        now: datetime,
        cache: MetricCache | None = None,
    ) -> list[Sample]:
        """The samples of ``metric`` now: one per group, with its value (Decimal) and group labels."""
        params = dict(params or {})
        cache = cache if cache is not None else MetricCache()
        key = _key(metric, group_by, window_s, params)
        if key not in cache.samples:
            cache.samples[key] = self._samples(metric, group_by, window_s, params, now, cache)
        return cache.samples[key]

    def _samples(self, metric, group_by, window_s, params, now, cache) -> list[Sample]:
        label = group_label_name(group_by)
        if metric in ("spend_usd", "tokens", "budget_share"):
            rows = self._usage(group_by, window_s, now, cache)
            if metric == "spend_usd":
                return [_sample(label, g, _usd(cost)) for g, cost, _tokens in rows]
            if metric == "tokens":
                return [_sample(label, g, Decimal(int(tokens or 0))) for g, _cost, tokens in rows]
            budget = Decimal(str(params["budget_usd"]))
            return [_sample(label, g, (_usd(cost) / budget).quantize(RATIO)) for g, cost, _t in rows]
        if metric == "failure_rate":
            statuses = tuple(params.get("statuses") or DEFAULT_FAILURE_STATUSES)
            min_samples = int(params.get("min_samples", 20))
            rows = self._cached(
                cache,
                ("failure", group_by, window_s, statuses),
                lambda: self._failures(group_by, window_s, statuses, now),
            )
            return [
                _sample(label, g, _ratio(failed, total))
                for g, failed, total in rows
                if total and total >= max(min_samples, 1)
            ]
        if metric == "session_runtime_s":
            rows = self._cached(cache, ("runtime", group_by), lambda: self._runtimes(group_by, now))
            return [
                _sample(label, g, Decimal(max(0, int((now - started).total_seconds()))), ctx)
                for g, started, ctx in rows
            ]
        if metric == "agents_offline":
            after = int(params.get("offline_after_s", 60))
            rows = self._cached(
                cache, ("offline", group_by, after), lambda: self._offline(group_by, after, now)
            )
            return [_sample(label, g, Decimal(int(n or 0))) for g, n in rows]
        if metric == "kills_unconfirmed":
            rows = self._cached(
                cache, ("kills-u", group_by, window_s), lambda: self._kills(group_by, window_s, now)
            )
            return [_sample(label, g, Decimal(n)) for g, n in rows]
        if metric == "kills_ineffective":
            rows = self._cached(
                cache, ("kills-i", group_by, window_s), lambda: self._kills(group_by, window_s, now, True)
            )
            return [_sample(label, g, Decimal(n)) for g, n in rows]
        if metric == "ingest_rejection_rate":
            min_samples = int(params.get("min_samples", 100))
            rejected, total = self._cached(cache, ("ingest", window_s), lambda: self._ingest(window_s, now))
            if not total or total < max(min_samples, 1):
                return []
            return [Sample({}, _ratio(rejected, total))]
        if metric == "slo_burn":
            return [Sample({}, self._slo_burn(params, now, cache))]
        if metric == "budget_state":
            rows = self._cached(cache, ("budgets",), self._budget_states)
            return [Sample({"budget": name}, Decimal(level)) for name, level in rows]
        if metric == "receiver_disabled":
            rows = self._cached(cache, ("receivers",), self._receivers)
            return [Sample({"receiver": name}, Decimal(1 if disabled else 0)) for name, disabled in rows]
        raise ValueError(f"unknown metric {metric!r}")

    def alert_agent_context(self) -> dict[str, dict[str, str]]:
        """Each agent's provider and model, added to per-agent alerts' labels (one query per cycle)."""
        with self._read() as conn:
            rows = conn.execute(select(Agent.id, Agent.provider, Agent.model)).all()
        return {r.id: {k: v for k, v in (("provider", r.provider), ("model", r.model)) if v} for r in rows}

    # -- the queries -------------------------------------------------------------------------------

    def _cached(self, cache: MetricCache, key: tuple, run):
        key = _key(*key)
        if key not in cache.results:
            cache.queries += 1
            cache.results[key] = run()
        return cache.results[key]

    def _usage(
        self, group_by: str, window_s: int, now: datetime, cache: MetricCache
    ) -> list[tuple[Any, int, int]]:
        """(group value, cost nanos, tokens) per group over [now - window, now], summed in Python from the
        window's per-(agent, model, provider) sums: one query per window serves every group-by."""
        fine = self._cached(cache, ("usage-fine", window_s), lambda: self._usage_fine(window_s, now))
        labels: dict[str, dict] = {}
        key = group_by.split(":", 1)[1] if group_by.startswith("label:") else None
        if key is not None:
            labels = self._cached(cache, ("agent-labels",), self._agent_labels)
        column = {"agent": 0, "model": 1, "provider": 2}.get(group_by)
        sums: dict[Any, list[int]] = {}
        for row in fine:
            if key is not None:
                g = (labels.get(row[0]) or {}).get(key)
                if g is None:
                    continue  # an agent without the label is in no label group
                g = str(g)
            else:
                g = None if column is None else row[column]
            acc = sums.setdefault(g, [0, 0])
            acc[0] += int(row[3] or 0)
            acc[1] += int(row[4] or 0)
        return [(g, cost, tokens) for g, (cost, tokens) in sums.items()]

    def _usage_fine(self, window_s: int, now: datetime) -> list[tuple]:
        """Usage in [now - window, now] per agent, model and provider: the whole hours from the hourly
        rollups, the ragged first hour from usage_events (by its ts index)."""
        start = now - timedelta(seconds=window_s)
        first_full = -(-int(start.timestamp()) // HOUR_S)  # the first whole hour inside the window
        r = UsageRollup
        parts = [
            select(
                r.agent_id,
                r.model,
                r.provider,
                r.cost_nanos.label("cost"),
                (r.input_tokens + r.output_tokens).label("tokens"),
            ).where(r.hour >= first_full)
        ]
        head_end = datetime.fromtimestamp(first_full * HOUR_S, tz=now.tzinfo)
        if start < head_end:
            e = UsageEvent
            parts.append(
                select(
                    e.agent_id,
                    func.coalesce(e.model, "").label("model"),
                    e.provider,
                    func.coalesce(e.cost_nanos, 0).label("cost"),
                    (e.input_tokens + e.output_tokens).label("tokens"),
                ).where(e.ts >= start, e.ts < head_end)
            )
        u = union_all(*parts).subquery("u")
        stmt = select(
            u.c.agent_id, u.c.model, u.c.provider, func.sum(u.c.cost), func.sum(u.c.tokens)
        ).group_by(u.c.agent_id, u.c.model, u.c.provider)
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(stmt).all()]

    def _agent_labels(self) -> dict[str, dict]:
        with self._read() as conn:
            return {r.id: r.labels or {} for r in conn.execute(select(Agent.id, Agent.labels)).all()}

    def _failures(self, group_by, window_s, statuses, now) -> list[tuple[Any, int, int]]:
        start = now - timedelta(seconds=window_s)
        group = _group_expr(group_by, Session)
        failed = func.sum(case((Session.status.in_(statuses), 1), else_=0))
        stmt = select(
            group.label("g") if group is not None else literal(None).label("g"), failed, func.count()
        ).where(Session.ended_at >= start, Session.ended_at <= now, Session.status != "running")
        if group_by.startswith("label:"):
            stmt = stmt.where(group.is_not(None))
        if group is not None:
            stmt = stmt.group_by(group)
        with self._read() as conn:
            return [(r[0], int(r[1] or 0), int(r[2])) for r in conn.execute(stmt).all() if r[2]]

    def _runtimes(self, group_by: str, now: datetime) -> list[tuple[Any, datetime, dict]]:
        if group_by == "session":
            stmt = select(Session.id, Session.started_at, Session.agent_id).where(Session.status == "running")
            with self._read() as conn:
                return [(r[0], r[1], {"agent": r[2]}) for r in conn.execute(stmt).all()]
        group = _group_expr(group_by, Session)
        stmt = select(
            group.label("g") if group is not None else literal(None).label("g"), func.min(Session.started_at)
        ).where(Session.status == "running")
        if group_by.startswith("label:"):
            stmt = stmt.where(group.is_not(None))
        if group is not None:
            stmt = stmt.group_by(group)
        with self._read() as conn:
            return [(r[0], r[1], {}) for r in conn.execute(stmt).all() if r[1] is not None]

    def _offline(self, group_by: str, offline_after_s: int, now: datetime) -> list[tuple[Any, int]]:
        # As the Hero Grid says "offline": no sign of life (any event counts) for longer than the threshold.
        cutoff = now - timedelta(seconds=offline_after_s)
        silent = or_(Agent.last_heartbeat_at.is_(None), Agent.last_heartbeat_at < cutoff)
        group = _group_expr(group_by, Agent)
        stmt = select(
            group.label("g") if group is not None else literal(None).label("g"),
            func.sum(case((silent, 1), else_=0)),
        ).where(or_(Agent.control_state.is_(None), Agent.control_state != "killed"))
        if group_by.startswith("label:"):
            stmt = stmt.where(group.is_not(None))
        if group is not None:
            stmt = stmt.group_by(group)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [(r[0], int(r[1])) for r in rows if r[1] is not None]

    def _kills(self, group_by: str, window_s: int, now: datetime, ineffective: bool = False):
        start = now - timedelta(seconds=window_s)
        if ineffective:
            where = and_(Command.verification == "ineffective", Command.updated_at >= start)
        else:
            # The TTL ran out in the window and the agent never confirmed (it may have refused or failed).
            where = and_(
                Command.expires_at >= start,
                Command.expires_at <= now,
                Command.state.not_in(("completed", "cancelled")),
            )
        group = Command.agent_id if group_by == "agent" else None
        stmt = select(
            group.label("g") if group is not None else literal(None).label("g"), func.count()
        ).where(Command.kind == "kill", where)
        if group is not None:
            stmt = stmt.group_by(group)
        with self._read() as conn:
            return [(r[0], int(r[1])) for r in conn.execute(stmt).all() if r[1]]

    def _ingest(self, window_s: int, now: datetime) -> tuple[int, int]:
        first = int((now - timedelta(seconds=window_s)).timestamp() // 60)
        stmt = select(
            func.coalesce(func.sum(IngestStat.rejected), 0),
            func.coalesce(func.sum(IngestStat.accepted + IngestStat.duplicates + IngestStat.rejected), 0),
        ).where(IngestStat.minute >= first)
        with self._read() as conn:
            rejected, total = conn.execute(stmt).one()
        return int(rejected), int(total)

    def _slo_burn(self, params: Mapping[str, Any], now: datetime, cache: MetricCache) -> Decimal:
        """The threshold of the fastest burn condition holding for the SLO (0: none), from the rollups."""
        target = params.get("target_ppm")
        if target is None:
            raise ValueError(f"no SLO named {params.get('slo')!r} is configured")
        minutes = {name: int(w / timedelta(minutes=1)) for name, w in WINDOWS.items()}
        now_minute = int(now.timestamp()) // 60
        sums = self._cached(cache, ("sli", now_minute), lambda: self.sli_window_sums(now_minute, minutes))
        found = sums.get(params["slo"], {})
        held = conditions_holding({w: Counts(*found.get(w, (0, 0))) for w in WINDOWS}, int(target))
        if not held:
            return Decimal(0)
        rate = held[0].burn_rate
        return Decimal(rate.numerator) / Decimal(rate.denominator)

    def _budget_states(self) -> list[tuple[str, int]]:
        levels = {"soft": 1, "locked": 2, "overridden": 2}
        with self._read() as conn:
            rows = conn.execute(select(Budget.name, Budget.state)).all()
        return [(name, levels.get(state, 0)) for name, state in rows]

    def _receivers(self) -> list[tuple[str, bool]]:
        stmt = select(AlertReceiver.name, AlertReceiver.disabled_reason.is_not(None))
        with self._read() as conn:
            return [(r[0], bool(r[1])) for r in conn.execute(stmt).all()]


def _group_expr(group_by: str, cols):
    """The SQL expression a group-by groups on, over a table or a subquery's columns."""
    if group_by == "fleet":
        return None
    if group_by == "agent":
        return cols.agent_id if hasattr(cols, "agent_id") else cols.id
    if group_by in ("model", "provider"):
        col = getattr(cols, group_by)
        return func.coalesce(col, "")
    if group_by.startswith("label:"):
        key = group_by.split(":", 1)[1]
        table = cols if cols is Session else Agent
        return table.labels[key].as_string()
    raise ValueError(f"cannot group by {group_by!r} here")


def _sample(
    label: str | None, group: Any, value: Decimal, context: Mapping[str, str] | None = None
) -> Sample:
    labels = {} if label is None else {label: "" if group is None else str(group)}
    return Sample(labels, value, dict(context or {}))
