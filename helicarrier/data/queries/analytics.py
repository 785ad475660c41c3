"""Usage analytics, month-to-date spend, the model matrix and the report rows.

Every figure is exact for any [start, end): whole buckets come from the rollups (UTC hours for usage, UTC
days for sessions), and the ragged ends (less than one bucket at each end) from an indexed time window of
the raw table (usage_events.ts, sessions.ended_at). So a dashboard reads at most a few thousand rollup rows
per day of range plus two partial buckets of raw rows, never the raw tables at large.

Local days: an hour bucket belongs to the local day in which it starts (the zone's offset at that hour,
DST included), computed in SQL as integer arithmetic on the hour number, with one CASE branch per offset
change inside the range. In whole-hour zones this is exact; in half- or quarter-hour zones (India, Nepal)
an hour bucket straddling an inner local midnight counts on the earlier day (see UsageRollup), while the
ragged ends of the range are split at their true local midnight.

Sessions are counted when they end (their outcome is known then): "sessions", "succeeded", runtimes and the
matrix are over sessions that ended in the range. Failures are every ended session that did not succeed:
failed, timeout and killed (each is also given apart).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, bindparam, case, func, literal_column, select, text

from helicarrier.data.models import (
    Session,
    SessionRollup,
    SessionRuntimeRollup,
    UsageAgentRollup,
    UsageEvent,
    UsageModelRollup,
    UsageRollup,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.rollups import (
    BAND,
    EPOCH,
    FAILURE_STATUSES,
    RUNTIME_COLUMNS,
    RUNTIME_EDGES_MS,
    SUCCESS,
    USAGE_SUMS,
    failure_reason,
)
from helicarrier.localtime import zone
from helicarrier.usage_fields import TOKEN_FIELDS

UNKNOWN = "(unknown)"
GROUP_COLUMNS = {None: None, "model": "model", "provider": "provider", "agent": "agent_id"}
GRANULARITIES = ("day", "hour")
SERIES_COLUMNS = (
    "bucket",
    "group",
    "cost_nanos",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "events",
    "unpriced_events",
    "total_tokens",
    "reported_cost_nanos",
)
USAGE_REPORT_COLUMNS = (
    "day", "agent_id", "model", "provider", "events", *TOKEN_FIELDS, "total_tokens", "cost_nanos",
    "reported_cost_nanos", "unpriced_events",
)  # fmt: skip
SESSION_REPORT_COLUMNS = (
    "day",
    "agent_id",
    "model",
    "provider",
    "sessions",
    "succeeded",
    "failed",
    "timeout",
    "killed",
    "runtime_s",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_nanos",
    "unpriced_events",
)
_US = timedelta(microseconds=1)
_HOUR_US = 3600 * 1_000_000
_DAY_US = 86400 * 1_000_000


# -- ranges, zones, buckets ----------------------------------------------------------------------------


def _check_range(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
    if end < start:
        raise ValueError("end is before start")


def _us(ts: datetime) -> int:
    return (ts - EPOCH) // _US


def _at_us(us: int) -> datetime:
    return EPOCH + us * _US


def _split(start: datetime, end: datetime, unit_us: int) -> tuple[tuple[int, int] | None, list[tuple]]:
    """Whole units [u0, u1) inside [start, end) and the ragged windows, each inside one unit:
    [(window start, window end, unit)]."""
    s, e = _us(start), _us(end)
    if e <= s:
        return None, []
    u0 = -(-s // unit_us)  # ceil
    u1 = e // unit_us
    if u0 < u1:
        windows = []
        if s < u0 * unit_us:
            windows.append((start, _at_us(u0 * unit_us), u0 - 1))
        if e > u1 * unit_us:
            windows.append((_at_us(u1 * unit_us), end, u1))
        return (u0, u1), windows
    windows = []
    cur = s
    while cur < e:
        unit = cur // unit_us
        stop = min(e, (unit + 1) * unit_us)
        windows.append((_at_us(cur), _at_us(stop), unit))
        cur = stop
    return None, windows


def _offset_s(z: ZoneInfo, hour: int) -> int:
    off = datetime.fromtimestamp(hour * 3600, tz=z).utcoffset()
    return int(off.total_seconds()) if off else 0


def offset_segments(z: ZoneInfo, h0: int, h1: int) -> list[tuple[int, int]]:
    """[(first hour, UTC offset in seconds)] of the constant-offset stretches of hours h0..h1."""
    segs = [(h0, _offset_s(z, h0))]
    h = h0
    step = 6
    while h < h1:
        nxt = min(h + step, h1)
        if _offset_s(z, nxt) != segs[-1][1]:
            for k in range(h + 1, nxt + 1):
                off = _offset_s(z, k)
                if off != segs[-1][1]:
                    segs.append((k, off))
        h = nxt
    return segs


def _local_day_of_hour(segs: list[tuple[int, int]], hour: int) -> int:
    off = segs[0][1]
    for first, o in segs:
        if hour >= first:
            off = o
        else:
            break
    return (hour * 3600 + off) // 86400


def _day_expr(segs: list[tuple[int, int]], col: str = "hour") -> str:
    """SQL: the local day number of an hour bucket (integer arithmetic, one branch per offset)."""

    def branch(off: int) -> str:
        if off % 60:
            raise ValueError("time zones with offsets in seconds are not supported")
        return f"({col} * 60 + {off // 60}) / 1440"

    if len(segs) == 1:
        return branch(segs[0][1])
    parts = " ".join(
        f"WHEN {col} < {first} THEN {branch(prev)}"
        for (first, _), (_, prev) in zip(segs[1:], segs, strict=False)
    )
    return f"CASE {parts} ELSE {branch(segs[-1][1])} END"


def _local_midnight(day: int, z: ZoneInfo) -> pd.Timestamp:
    d = date(1970, 1, 1) + timedelta(days=day)
    return pd.Timestamp(datetime(d.year, d.month, d.day)).tz_localize(
        z.key, nonexistent="shift_forward", ambiguous=True
    )


def _local_day(ts: datetime, z: ZoneInfo) -> int:
    return (ts.astimezone(z).date() - date(1970, 1, 1)).days


def _split_at_local_midnight(
    start: datetime, end: datetime, z: ZoneInfo
) -> list[tuple[datetime, datetime, int]]:
    """[start, end) (under an hour long) as pieces that each lie in one local day: [(from, to, local day)]."""
    first, last = _local_day(start, z), _local_day(end - _US, z)
    if first == last:
        return [(start, end, first)]
    d = date(1970, 1, 1) + timedelta(days=last)
    midnight = datetime(d.year, d.month, d.day, tzinfo=z).astimezone(UTC)
    return [(start, midnight, first), (midnight, end, last)]


def _group_name(value: Any) -> str:
    return value if value else UNKNOWN


# -- the usage reader ----------------------------------------------------------------------------------


def _usage_sum_columns(table) -> list:
    return [func.sum(table.c[c]) for c in USAGE_SUMS]


def _raw_usage_sums() -> list:
    u = UsageEvent
    return [
        func.count(),
        func.sum(u.input_tokens),
        func.sum(u.output_tokens),
        func.sum(u.cache_read_tokens),
        func.sum(u.cache_write_tokens),
        func.sum(func.coalesce(u.reasoning_tokens, 0)),
        func.sum(func.coalesce(u.cost_nanos, 0)),
        func.sum(case((u.cost_nanos.is_(None), 1), else_=0)),
        func.sum(func.coalesce(u.reported_cost_nanos, 0)),
    ]


_RAW_GROUP = {
    "agent_id": UsageEvent.agent_id,
    "model": func.coalesce(UsageEvent.model, ""),
    "provider": UsageEvent.provider,
}


def usage_grouped(
    conn: Connection,
    start: datetime,
    end: datetime,
    group_cols: Sequence[str] = (),
    *,
    bucket: str = "none",
    z: ZoneInfo | None = None,
) -> dict[tuple, list[int]]:
    """{(bucket, *group values): [USAGE_SUMS]} over [start, end). ``bucket`` is "none" (always 0), "hour"
    (the UTC hour number) or "day" (the local day number in ``z``)."""
    whole, windows = _split(start, end, _HOUR_US)
    if "agent_id" not in group_cols:
        table = UsageModelRollup.__table__
    elif set(group_cols) == {"agent_id"}:
        table = UsageAgentRollup.__table__
    else:
        table = UsageRollup.__table__
    out: dict[tuple, list[int]] = {}

    def add(key: tuple, values: Sequence[Any]) -> None:
        acc = out.get(key)
        vals = [int(v or 0) for v in values]
        if acc is None:
            out[key] = vals
        else:
            for i, v in enumerate(vals):
                acc[i] += v

    segs: list[tuple[int, int]] = []
    if bucket == "day":
        hours = [*(whole or ()), *(w[2] for w in windows)]
        if hours:
            segs = offset_segments(z or ZoneInfo("UTC"), min(hours), max(hours) + 1)
    if whole is not None:
        if bucket == "day":
            b = literal_column(_day_expr(segs))
        elif bucket == "hour":
            b = table.c.hour
        else:
            b = literal_column("0")
        gcols = [table.c[c] for c in group_cols]
        stmt = (
            select(b, *gcols, *_usage_sum_columns(table))
            .where(table.c.hour >= whole[0], table.c.hour < whole[1])
            .group_by(b, *gcols)
        )
        if bucket == "none":
            stmt = select(*gcols, *_usage_sum_columns(table)).where(
                table.c.hour >= whole[0], table.c.hour < whole[1]
            )
            if gcols:
                stmt = stmt.group_by(*gcols)
            for row in conn.execute(stmt):
                if row[len(gcols)] is None:  # an aggregate over no rows
                    continue
                add((0, *row[: len(gcols)]), row[len(gcols) :])
        else:
            n = len(gcols) + 1
            for row in conn.execute(stmt):
                add(tuple(row[:n]), row[n:])
    pieces = []
    for w_start, w_end, hour in windows:
        if bucket == "day":
            # Raw rows know their exact time: a ragged end goes to its true local day, split at a local
            # midnight that falls inside it (half-hour zones), so a range of whole local days is exact.
            pieces.extend(_split_at_local_midnight(w_start, w_end, z or ZoneInfo("UTC")))
        else:
            pieces.append((w_start, w_end, 0 if bucket == "none" else hour))
    for w_start, w_end, key_b in pieces:
        gcols = [_RAW_GROUP[c] for c in group_cols]
        stmt = select(*gcols, *_raw_usage_sums()).where(UsageEvent.ts >= w_start, UsageEvent.ts < w_end)
        if gcols:
            stmt = stmt.group_by(*gcols)
        for row in conn.execute(stmt):
            if not row[len(gcols)]:  # count(*) of 0: no events in the window
                continue
            add((key_b, *row[: len(gcols)]), row[len(gcols) :])
    return out


def _sum_dict(values: Sequence[int] | None) -> dict[str, int]:
    values = values or [0] * len(USAGE_SUMS)
    return dict(zip(USAGE_SUMS, values, strict=True))


# -- the session reader --------------------------------------------------------------------------------


def _runtime_bin_sql(col) -> Any:
    """The runtime bin of ``col`` (ms) in SQL: the same edges as runtime_bin(), as one CASE."""
    return case(*((col < edge, k) for k, edge in enumerate(RUNTIME_EDGES_MS)), else_=len(RUNTIME_EDGES_MS))


def _raw_sessions(conn: Connection, windows: list[tuple], group: Sequence[Any], aggs: Sequence[Any]) -> list:
    """Sessions that ended in the ragged windows, aggregated in SQL (GROUP BY ``group``)."""
    out = []
    for w_start, w_end, _day in windows:
        stmt = select(*group, *aggs).where(Session.ended_at >= w_start, Session.ended_at < w_end)
        out.extend(conn.execute(stmt.group_by(*group)).all())
    return out


def _session_parts(conn: Connection, start: datetime, end: datetime, group_cols: Sequence[str]):
    """Rollup rows over the whole UTC days of [start, end), and the ragged windows at its ends."""
    whole, windows = _split(start, end, _DAY_US)
    rolled = []
    if whole is not None:
        t = SessionRollup.__table__
        gcols = [t.c[c] for c in group_cols]
        stmt = (
            select(
                *gcols,
                func.sum(t.c.sessions),
                func.sum(t.c.runtime_ms),
                func.sum(t.c.cost_nanos),
                func.sum(t.c.unpriced_events),
            )
            .where(t.c.day >= whole[0], t.c.day < whole[1])
            .group_by(*gcols)
        )
        rolled = conn.execute(stmt).all()
    return whole, rolled, windows


class AnalyticsQueries(QueryBase):
    def usage_totals(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Token, cost and session totals over [start, end) (usage by event time, sessions by end time)."""
        _check_range(start, end)
        with self._read() as conn:
            usage = usage_grouped(conn, start, end)
            _whole, rolled, windows = _session_parts(conn, start, end, ("status",))
            raw = _raw_sessions(
                conn,
                windows,
                (Session.status,),
                (func.count(), func.sum(func.coalesce(Session.runtime_ms, 0))),
            )
        u = _sum_dict(next(iter(usage.values()), None))
        by_status: dict[str, list[int]] = {}
        for status, n, ms, _cost, _unpriced in rolled:
            acc = by_status.setdefault(status, [0, 0])
            acc[0] += int(n or 0)
            acc[1] += int(ms or 0)
        for status, n, ms in raw:
            acc = by_status.setdefault(status, [0, 0])
            acc[0] += int(n)
            acc[1] += int(ms or 0)
        sessions = sum(v[0] for v in by_status.values())
        succeeded = by_status.get(SUCCESS, [0, 0])[0]
        runtime_ms = sum(v[1] for v in by_status.values())
        cost = u["cost_nanos"]
        return {
            "input_tokens": u["input_tokens"],
            "output_tokens": u["output_tokens"],
            "cache_read_tokens": u["cache_read_tokens"],
            "cache_write_tokens": u["cache_write_tokens"],
            "reasoning_tokens": u["reasoning_tokens"],
            "total_tokens": u["input_tokens"] + u["output_tokens"],
            "cost_nanos": cost,
            "reported_cost_nanos": u["reported_cost_nanos"],
            "unpriced_events": u["unpriced_events"],
            "events": u["events"],
            "sessions": sessions,
            "succeeded": succeeded,
            "failed": sessions - succeeded,
            "failed_by_status": {s: by_status.get(s, [0, 0])[0] for s in FAILURE_STATUSES},
            "runtime_s": runtime_ms / 1000,
            "cost_per_success_nanos": None if succeeded == 0 else (cost + succeeded // 2) // succeeded,
        }

    def usage_series(
        self,
        start: datetime,
        end: datetime,
        *,
        group_by: str | None,
        tz: str = "UTC",
        granularity: str = "day",
    ) -> pd.DataFrame:
        """Cost and tokens per local day (or UTC hour, shown in ``tz``) and group, dense: every bucket of the
        range for every group seen, zeros where nothing happened. ``group`` is "all" without group_by."""
        _check_range(start, end)
        z = zone(tz)
        if group_by not in GROUP_COLUMNS:
            raise ValueError("group_by must be one of model, provider, agent (or None)")
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
        gcol = GROUP_COLUMNS[group_by]
        with self._read() as conn:
            found = usage_grouped(conn, start, end, (gcol,) if gcol else (), bucket=granularity, z=z)
        if granularity == "day":
            days = {k[0] for k in found} | {_local_day(start, z), _local_day(max(start, end - _US), z)}
            buckets = list(range(min(days), max(days) + 1))
        else:
            buckets = list(range(_us(start) // _HOUR_US, -(-_us(end) // _HOUR_US)))
        if end <= start:
            buckets = []
        groups = sorted({k[1] for k in found}, key=lambda g: (g is None or g == "", g)) if gcol else ["all"]
        rows = []
        for b in buckets:
            stamp = (
                _local_midnight(b, z)
                if granularity == "day"
                else pd.Timestamp(b * 3600, unit="s", tz="UTC").tz_convert(z.key)
            )
            for g in groups:
                sums = _sum_dict(found.get((b, g) if gcol else (b,)))
                rows.append(
                    {
                        "bucket": stamp,
                        "group": _group_name(g) if gcol else "all",
                        **{c: sums[c] for c in SERIES_COLUMNS[2:10]},
                        "total_tokens": sums["input_tokens"] + sums["output_tokens"],
                        "reported_cost_nanos": sums["reported_cost_nanos"],
                    }
                )
        frame = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
        if frame.empty:
            frame["bucket"] = pd.Series([], dtype=f"datetime64[ns, {z.key}]")
        for c in SERIES_COLUMNS[2:]:
            frame[c] = frame[c].astype("int64")
        frame["group"] = frame["group"].astype(str)
        return frame

    def month_to_date(self, now: datetime, tz: str = "UTC") -> dict[str, Any]:
        """Spend from local midnight of the 1st to ``now``, and a straight-line projection to month end."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        z = zone(tz)
        local = now.astimezone(z)
        month_start = datetime(local.year, local.month, 1, tzinfo=z)
        ny, nm = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        month_end = datetime(ny, nm, 1, tzinfo=z)
        # Aware datetimes of one zone subtract as wall-clock times: go through UTC for real durations.
        elapsed_us = _us(now.astimezone(UTC)) - _us(month_start.astimezone(UTC))
        month_us = _us(month_end.astimezone(UTC)) - _us(month_start.astimezone(UTC))
        with self._read() as conn:
            usage = usage_grouped(conn, month_start, now)
        u = _sum_dict(next(iter(usage.values()), None))
        spend = u["cost_nanos"]
        projected = spend if elapsed_us <= 0 else (spend * month_us + elapsed_us // 2) // elapsed_us
        return {
            "spend_nanos": spend,
            "projected_nanos": projected,
            "days_elapsed": max(0, elapsed_us) / _DAY_US,
            "days_in_month": calendar.monthrange(local.year, local.month)[1],
            "unpriced_events": u["unpriced_events"],
            "month_start": month_start,
        }

    def model_outcomes(self, start: datetime, end: datetime) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (model, task kind) of sessions that ended in [start, end): counts by status (``status``) and
        by failure reason (``reasons``), the runtime histogram (``hist``: bin -> count), ``cost`` and
        ``unpriced`` events. Rollups for whole days, raw sessions for the ragged ends."""
        _check_range(start, end)
        with self._read() as conn:
            whole, rolled, windows = _session_parts(
                conn, start, end, ("model", "task_kind", "status", "reason")
            )
            raw = _raw_sessions(
                conn,
                windows,
                (Session.model, Session.task_kind, Session.status, Session.error),
                (func.count(), func.sum(Session.cost_nanos), func.sum(Session.unpriced_events)),
            )
            binned = func.coalesce(Session.runtime_ms, 0)
            raw_bins = _raw_sessions(
                conn, windows, (Session.model, Session.task_kind, _runtime_bin_sql(binned)), (func.count(),)
            )
            hist_rows = []
            if whole is not None:
                t = SessionRuntimeRollup.__table__
                hist_rows = conn.execute(
                    select(t.c.model, t.c.task_kind, t.c.band, *(func.sum(t.c[c]) for c in RUNTIME_COLUMNS))
                    .where(t.c.day >= whole[0], t.c.day < whole[1])
                    .group_by(t.c.model, t.c.task_kind, t.c.band)
                ).all()
        cells: dict[tuple[str, str], dict[str, Any]] = {}

        def cell(model: str | None, kind: str | None) -> dict[str, Any]:
            key = (model or "", kind or "")
            c = cells.get(key)
            if c is None:
                c = cells[key] = {"status": {}, "reasons": {}, "hist": {}, "cost": 0, "unpriced": 0}
            return c

        def add(c: dict, status: str, reason: str, n: int, cost: int, unpriced: int) -> None:
            c["status"][status] = c["status"].get(status, 0) + n
            if status != SUCCESS:
                c["reasons"][reason] = c["reasons"].get(reason, 0) + n
            c["cost"] += cost
            c["unpriced"] += unpriced

        for model, kind, status, reason, n, _ms, cost, unpriced in rolled:
            add(cell(model, kind), status, reason, int(n or 0), int(cost or 0), int(unpriced or 0))
        for model, kind, band, *counts in hist_rows:
            h = cell(model, kind)["hist"]
            for i, n in enumerate(counts):
                if n:
                    b = int(band) * BAND + i
                    h[b] = h.get(b, 0) + int(n)
        for model, kind, status, error, n, cost, unpriced in raw:
            add(
                cell(model, kind),
                status,
                failure_reason(status, error),
                int(n),
                int(cost or 0),
                int(unpriced or 0),
            )
        for model, kind, b, n in raw_bins:
            h = cell(model, kind)["hist"]
            h[int(b)] = h.get(int(b), 0) + int(n)
        return cells

    # -- reports -----------------------------------------------------------------------------------

    def usage_report_rows(self, start: datetime, end: datetime, *, tz: str = "UTC") -> list[dict]:
        """Usage per local day x agent x model x provider over [start, end), for CSV reports."""
        _check_range(start, end)
        z = zone(tz)
        with self._read() as conn:
            found = usage_grouped(conn, start, end, ("agent_id", "model", "provider"), bucket="day", z=z)
        rows = []
        for (day, agent, model, provider), values in sorted(found.items(), key=lambda kv: _sort_key(kv[0])):
            s = _sum_dict(values)
            if not s["events"]:
                continue
            rows.append(
                {
                    "day": (date(1970, 1, 1) + timedelta(days=day)).isoformat(),
                    "agent_id": agent,
                    "model": model or None,
                    "provider": provider,
                    **{c: s[c] for c in USAGE_REPORT_COLUMNS[4:10]},
                    "total_tokens": s["input_tokens"] + s["output_tokens"],
                    "cost_nanos": s["cost_nanos"],
                    "reported_cost_nanos": s["reported_cost_nanos"],
                    "unpriced_events": s["unpriced_events"],
                }
            )
        return rows

    def session_report_rows(self, start: datetime, end: datetime, *, tz: str = "UTC") -> list[dict]:
        """Sessions that ended in [start, end) per local day (of the end) x agent x model x provider."""
        _check_range(start, end)
        z = zone(tz)
        h0, h1 = _us(start) // _HOUR_US, -(-_us(end) // _HOUR_US)
        segs = offset_segments(z, h0, max(h0, h1))
        with self._read() as conn:
            if conn.dialect.name == "postgresql":
                epoch = "CAST(floor(extract(epoch FROM ended_at)) AS BIGINT)"
            else:
                epoch = "CAST(strftime('%s', ended_at) AS INTEGER)"
            day = _epoch_day_expr(segs, epoch)
            stmt = text(
                f"SELECT {day} AS day, agent_id, model, provider, count(*), "
                "sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN status = 'timeout' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN status = 'killed' THEN 1 ELSE 0 END), "
                "sum(coalesce(runtime_ms, 0)), sum(input_tokens), sum(output_tokens), sum(total_tokens), "
                "sum(cost_nanos), sum(unpriced_events) "
                "FROM sessions WHERE ended_at >= :a AND ended_at < :b "
                f"GROUP BY {day}, agent_id, model, provider"
            ).bindparams(
                bindparam("a", type_=Session.ended_at.type), bindparam("b", type_=Session.ended_at.type)
            )
            result = conn.execute(stmt, {"a": start, "b": end}).all()
        rows = []
        for r in sorted(result, key=lambda r: _sort_key(tuple(r[:4]))):
            rows.append(
                {
                    "day": (date(1970, 1, 1) + timedelta(days=int(r[0]))).isoformat(),
                    "agent_id": r[1],
                    "model": r[2],
                    "provider": r[3],
                    "sessions": int(r[4]),
                    "succeeded": int(r[5]),
                    "failed": int(r[6]),
                    "timeout": int(r[7]),
                    "killed": int(r[8]),
                    "runtime_s": int(r[9] or 0) / 1000,
                    "input_tokens": int(r[10] or 0),
                    "output_tokens": int(r[11] or 0),
                    "total_tokens": int(r[12] or 0),
                    "cost_nanos": int(r[13] or 0),
                    "unpriced_events": int(r[14] or 0),
                }
            )
        return rows

    def rebuild_rollups(self) -> dict[str, int]:
        """Recompute every rollup table from the raw tables (one transaction); returns their row counts."""
        from helicarrier.data.queries.rollups import rebuild_all

        with self._write() as conn:
            return rebuild_all(conn)


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v if v is not None else "") for v in key)


def _epoch_day_expr(segs: list[tuple[int, int]], epoch: str) -> str:
    if len(segs) == 1:
        return f"({epoch} + {segs[0][1]}) / 86400"
    parts = " ".join(
        f"WHEN {epoch} < {first * 3600} THEN ({epoch} + {prev}) / 86400"
        for (first, _), (_, prev) in zip(segs[1:], segs, strict=False)
    )
    return f"CASE {parts} ELSE ({epoch} + {segs[-1][1]}) / 86400 END"
