"""Usage analytics, month-to-date spend, the model matrix and the report rows.

Every figure is exact for any [start, end): whole buckets come from the rollups (UTC hours for usage, UTC
days for sessions), and the ragged ends (less than one bucket at each end) from an indexed time window of
the raw table (usage_events.ts, sessions.ended_at). So a dashboard reads at most a few thousand rollup rows
per day of range plus two partial buckets of raw rows, never the raw tables at large.

Local days and hours are exact in every IANA zone (helicarrier.localtime.LocalBuckets gives the UTC instant
each local day or clock hour begins). A whole UTC hour of the rollups is first counted in the local bucket
holding its middle (integer arithmetic in SQL, one CASE branch per offset change in the range); where a local
midnight (clock hour, offset change) cuts an hour, which happens in +05:30, +05:45, -03:30 zones and on
some DST days, the smaller part is moved to its own bucket: it is a whole number of quarter hours in every
zone's offset today, read from usage_quarter_rollups (raw events only for offsets that are not, such as
the local mean times before 1900). The ragged ends of the range are split at their bucket starts the same
way, and only their parts off the quarter hour are read from usage_events. So a day costs a few extra rollup
rows in a half-hour zone, and the whole range at most two index range scans of under 15 minutes of raw
events.

Sessions are counted when they end (their outcome is known then): "sessions", "succeeded", runtimes and the
matrix are over sessions that ended in the range. Failures are every ended session that did not succeed:
failed, timeout and killed (each is also given apart).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, case, func, literal_column, select, text

from helicarrier.data.models import (
    Session,
    SessionRollup,
    SessionRuntimeRollup,
    UsageAgentDayRollup,
    UsageAgentRollup,
    UsageEvent,
    UsageModelRollup,
    UsageQuarterRollup,
    UsageRollup,
)
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.rollups import (
    BAND,
    EPOCH,
    FAILURE_STATUSES,
    HOURS_PER_DAY,
    RUNTIME_COLUMNS,
    RUNTIME_EDGES_MS,
    SUCCESS,
    USAGE_SUMS,
    failure_reason,
    quarter_of,
)
from helicarrier.localtime import DAY_S, HOUR_S, LocalBuckets, offset_segments, segment_offset, zone
from helicarrier.usage_fields import TOKEN_FIELDS

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd

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
_QUARTER_US = 900 * 1_000_000
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


def _local_midnight(day: int, z: ZoneInfo) -> datetime:
    """The first instant of local day ``day`` (days since 1970-01-01) in ``z``. A midnight that happens twice
    is the first (fold 0); one skipped by a clock change (America/Santiago, Asia/Beirut...) is the end of
    the gap, when the day actually begins."""
    d = date(1970, 1, 1) + timedelta(days=day)
    naive = datetime(d.year, d.month, d.day)
    at = naive.replace(tzinfo=z)
    if at.astimezone(UTC).astimezone(z).replace(tzinfo=None) == naive:
        return at
    # Skipped: the day begins at the first second whose local time is past midnight (a gap is < 1 day).
    lo = int(at.astimezone(UTC).timestamp()) - 86_400
    hi = lo + 2 * 86_400
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(z).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC).astimezone(z)


def _local_day(ts: datetime, z: ZoneInfo) -> int:
    return (ts.astimezone(z).date() - date(1970, 1, 1)).days


def _seconds(ts: datetime, *, up: bool = False) -> int:
    us = _us(ts)
    return -(-us // 1_000_000) if up else us // 1_000_000


def local_buckets(start: datetime, end: datetime, z: ZoneInfo, granularity: str) -> LocalBuckets:
    """The local days (or clock hours) of ``z`` over [start, end)."""
    if start < EPOCH + timedelta(days=2):
        raise ValueError("local buckets start after 1970-01-03")  # the SQL below divides positive numbers
    unit = DAY_S if granularity == "day" else HOUR_S
    return LocalBuckets(z, _seconds(start), max(_seconds(end, up=True), _seconds(start) + 1), unit)


def _rollup_key_sql(buckets: LocalBuckets, col: str = "hour") -> str:
    """SQL: the bucket a whole UTC hour of the rollups is counted in, first (``_rollup_key`` is the same in
    Python): the local day (clock hour) in which the hour's middle falls, by the offset at its start. The
    part of an hour that lies in another bucket is moved there afterwards (``_moves``, ``_Pieces``)."""
    t = f"(CAST({col} AS BIGINT) * 3600 + {HOUR_S // 2})"

    def branch(off: int) -> str:
        if buckets.unit == DAY_S:
            return f"({t} + {off}) / {DAY_S}"
        return f"({t} - (({t} + {off}) % {HOUR_S}))"

    segs = buckets.segs
    if len(segs) == 1:
        return branch(segs[0][1])
    parts = " ".join(
        f"WHEN {col} < {-(-first // HOUR_S)} THEN {branch(prev)}"
        for (first, _), (_, prev) in zip(segs[1:], segs, strict=False)
    )
    return f"CASE {parts} ELSE {branch(segs[-1][1])} END"


def _rollup_key(buckets: LocalBuckets, hour: int) -> int:
    t = hour * HOUR_S + HOUR_S // 2
    off = segment_offset(buckets.segs, hour * HOUR_S)
    return (t + off) // DAY_S if buckets.unit == DAY_S else t - (t + off) % HOUR_S


def _moves(buckets: LocalBuckets, h0: int, h1: int) -> list[tuple[int, int, int, int]]:
    """The parts of the whole hours [h0, h1) that lie outside the bucket their rollup row is counted in:
    [(from second, to second, counted in, belongs to)]. Only hours that a bucket start or an offset change
    cuts can have one, so there are at most a few per local day."""
    cut = {b // HOUR_S for b in buckets.starts if b % HOUR_S}
    cut |= {s // HOUR_S for s, _ in buckets.segs[1:] if s % HOUR_S}
    out = []
    for h in sorted(x for x in cut if h0 <= x < h1):
        a, e = h * HOUR_S, (h + 1) * HOUR_S
        counted = _rollup_key(buckets, h)
        edges = [a, *buckets.inner_starts(a, e), e]
        for x, y in zip(edges, edges[1:], strict=False):
            key = buckets.key_of(x)
            if key != counted:
                out.append((x, y, counted, key))
    return out


def _at_s(s: int) -> datetime:
    return EPOCH + timedelta(seconds=s)


def _group_name(value: Any) -> str:
    return value if value else UNKNOWN


# -- the usage reader ----------------------------------------------------------------------------------


def _usage_sum_columns(table) -> list:
    return [func.sum(table.c[c]) for c in USAGE_SUMS]


_RAW_GROUP_SQL = {"agent_id": "u.agent_id", "model": "coalesce(u.model, '')", "provider": "u.provider"}
_RAW_SUMS = (
    "count(*)", "sum(u.input_tokens)", "sum(u.output_tokens)", "sum(u.cache_read_tokens)",
    "sum(u.cache_write_tokens)", "sum(coalesce(u.reasoning_tokens, 0))", "sum(coalesce(u.cost_nanos, 0))",
    "sum(CASE WHEN u.cost_nanos IS NULL THEN 1 ELSE 0 END)", "sum(coalesce(u.reported_cost_nanos, 0))",
)  # fmt: skip
_RAW_SUMS_SQL = ", ".join(_RAW_SUMS)
_QUARTER_GROUP_SQL = {"agent_id": "q.agent_id", "model": "q.model", "provider": "q.provider"}
_QUARTER_SUMS_SQL = ", ".join(f"sum(q.{c})" for c in USAGE_SUMS)
_PIECES_PER_STATEMENT = 500


def _windowed(conn: Connection, pieces: list[tuple[Any, Any, int]], sql: str, bound_type=None) -> list:
    """``sql`` (which joins the windows ``p(k, a, b)`` to a table) run over ``pieces`` [(from, to, tag)], in
    one statement per 500 windows."""
    rows = []
    for i in range(0, len(pieces), _PIECES_PER_STATEMENT):
        chunk = pieces[i : i + _PIECES_PER_STATEMENT]
        values = ", ".join(f"(:k{j}, :a{j}, :b{j})" for j in range(len(chunk)))
        stmt = text(f"WITH p(k, a, b) AS (VALUES {values}) {sql}")
        if bound_type is not None:
            stmt = stmt.bindparams(
                *(bindparam(f"a{j}", type_=bound_type) for j in range(len(chunk))),
                *(bindparam(f"b{j}", type_=bound_type) for j in range(len(chunk))),
            )
        args = {}
        for j, (a, b, tag) in enumerate(chunk):
            args[f"k{j}"], args[f"a{j}"], args[f"b{j}"] = tag, a, b
        rows.extend(conn.execute(stmt, args).all())
    return rows


def _raw_pieces(
    conn: Connection, pieces: list[tuple[datetime, datetime, int]], group_cols: Sequence[str]
) -> list:
    """Raw usage summed per (piece tag, *group values) over the time windows ``pieces`` [(from, to, tag)]:
    each window is an index range scan on usage_events.ts."""
    if not pieces:
        return []
    grouped = ", ".join(["p.k", *(_RAW_GROUP_SQL[c] for c in group_cols)])
    if conn.dialect.name == "postgresql":
        # The planner cannot see how short the windows are (it guesses a tenth of the table per window);
        # JIT, which that guess would trigger, is off for every app connection (helicarrier.data.engine).
        groups = [_RAW_GROUP_SQL[c] for c in group_cols]
        sql = _lateral_sql("usage_events u", "u.ts", groups, _RAW_SUMS)
        return _windowed(conn, pieces, sql, UsageEvent.ts.type)
    sql = (
        f"SELECT {grouped}, {_RAW_SUMS_SQL} FROM p JOIN usage_events u ON u.ts >= p.a AND u.ts < p.b "
        f"GROUP BY {grouped}"
    )
    return _windowed(conn, pieces, sql, UsageEvent.ts.type)


def _lateral_sql(table: str, column: str, groups: Sequence[str], sums: Sequence[str]) -> str:
    """PostgreSQL: ``sums`` per ``groups`` of ``table`` over each window ``column`` in [p.a, p.b), summed in
    a LATERAL subquery per window, then the windows of one tag added up. The planner cannot see how short
    the windows are: the plain join planned a parallel scan of the whole table, every partition of the
    monthly-partitioned usage_events (15 s at 34M events, bench/partitions.py), and of
    usage_quarter_rollups once it holds millions of rows (0.8 s). Per window the executor reads the index
    range, in the partition(s) the window falls in (a few ms)."""
    names = [f"g{i}" for i in range(len(groups))]
    cols = [f"c{i}" for i in range(len(sums))]
    inner = ", ".join(
        [*(f"{g} AS {n}" for g, n in zip(groups, names, strict=True)),
         *(f"{e} AS {c}" for e, c in zip(sums, cols, strict=True))]
    )  # fmt: skip
    group_inner = f" GROUP BY {', '.join(groups)}" if groups else ""
    outer = ", ".join(["p.k", *(f"l.{n}" for n in names)])
    return (
        f"SELECT {outer}, {', '.join(f'sum(l.{c})' for c in cols)} FROM p CROSS JOIN LATERAL "
        f"(SELECT {inner} FROM {table} WHERE {column} >= p.a AND {column} < p.b{group_inner} "
        f"HAVING count(*) > 0) l GROUP BY {outer}"
    )


def _quarter_pieces(conn: Connection, pieces: list[tuple[int, int, int]], group_cols: Sequence[str]) -> list:
    """The same sums from usage_quarter_rollups over whole quarter hours [(from quarter, to quarter, tag)]."""
    if not pieces:
        return []
    if conn.dialect.name == "postgresql":
        groups = [_QUARTER_GROUP_SQL[c] for c in group_cols]
        sums = [f"sum(q.{c})" for c in USAGE_SUMS]
        return _windowed(conn, pieces, _lateral_sql("usage_quarter_rollups q", "q.quarter", groups, sums))
    grouped = ", ".join(["p.k", *(_QUARTER_GROUP_SQL[c] for c in group_cols)])
    sql = (
        f"SELECT {grouped}, {_QUARTER_SUMS_SQL} FROM p JOIN usage_quarter_rollups q "
        f"ON q.quarter >= p.a AND q.quarter < p.b GROUP BY {grouped}"
    )
    return _windowed(conn, pieces, sql)


class _Pieces:
    """Windows of time to sum, each tagged with (the bucket it belongs to, the bucket its rollup row was
    counted in, or None). A window's whole quarter hours are read from usage_quarter_rollups, only what is
    left at its ends (less than a quarter hour on each side) from usage_events."""

    def __init__(self) -> None:
        self.tags: dict[tuple[int, int | None], int] = {}
        self.raw: list[tuple[datetime, datetime, int]] = []
        self.quarters: list[tuple[int, int, int]] = []

    def add(self, a: datetime, b: datetime, key: int, counted: int | None) -> None:
        tag = self.tags.setdefault((key, counted), len(self.tags))
        a_us, b_us = _us(a), _us(b)
        q0, q1 = -(-a_us // _QUARTER_US), b_us // _QUARTER_US
        if q0 >= q1:
            self.raw.append((a, b, tag))
            return
        if a_us < q0 * _QUARTER_US:
            self.raw.append((a, _at_us(q0 * _QUARTER_US), tag))
        self.quarters.append((q0, q1, tag))
        if q1 * _QUARTER_US < b_us:
            self.raw.append((_at_us(q1 * _QUARTER_US), b, tag))

    def rows(self, conn: Connection, group_cols: Sequence[str]):
        """(bucket, bucket counted in or None, group values, sums) for each piece tag and group."""
        by_tag = {tag: kc for kc, tag in self.tags.items()}
        n = len(group_cols)
        rows = _raw_pieces(conn, self.raw, group_cols) + _quarter_pieces(conn, self.quarters, group_cols)
        for row in rows:
            if not row[n + 1]:  # no events (count of 0, or a sum over no rows)
                continue
            key, counted = by_tag[row[0]]
            yield key, counted, tuple(row[1 : n + 1]), row[n + 1 :]


def usage_grouped(
    conn: Connection,
    start: datetime,
    end: datetime,
    group_cols: Sequence[str] = (),
    *,
    buckets: LocalBuckets | None = None,
) -> dict[tuple, list[int]]:
    """{(bucket, *group values): [USAGE_SUMS]} over [start, end). The bucket is 0 without ``buckets``, else
    the key of the local day (clock hour) of ``buckets`` each event falls in, exactly: whole UTC hours from
    the rollups, and from usage_events the ragged ends of the range and the parts of hours that a local
    midnight (or clock hour, or offset change) cuts."""
    whole, windows = _split(start, end, _HOUR_US)
    if "agent_id" not in group_cols:
        table = UsageModelRollup.__table__
    elif set(group_cols) == {"agent_id"}:
        table = UsageAgentRollup.__table__
    else:
        table = UsageRollup.__table__
    out: dict[tuple, list[int]] = {}

    def add(key: tuple, values: Sequence[Any], sign: int = 1) -> None:
        acc = out.get(key)
        vals = [sign * int(v or 0) for v in values]
        if acc is None:
            out[key] = vals
        else:
            for i, v in enumerate(vals):
                acc[i] += v

    gcols = [table.c[c] for c in group_cols]
    n = len(gcols)
    hour_ranges = [whole] if whole is not None else []
    daily = buckets is None or buckets.unit == DAY_S
    if table is UsageAgentRollup.__table__ and whole is not None and daily:
        hour_ranges = _agent_days(conn, buckets, whole, add)
    for h0, h1 in hour_ranges:
        hour_range = (table.c.hour >= h0, table.c.hour < h1)
        if buckets is None:
            stmt = select(*gcols, *_usage_sum_columns(table)).where(*hour_range)
            if gcols:
                stmt = stmt.group_by(*gcols)
            for row in conn.execute(stmt):
                if row[n] is None:  # an aggregate over no rows
                    continue
                add((0, *row[:n]), row[n:])
        else:
            b = literal_column(_rollup_key_sql(buckets))
            stmt = select(b, *gcols, *_usage_sum_columns(table)).where(*hour_range).group_by(b, *gcols)
            for row in conn.execute(stmt):
                add(tuple(row[: n + 1]), row[n + 1 :])
    pieces = _Pieces()
    for w_start, w_end, _hour in windows:
        if buckets is None:
            pieces.add(w_start, w_end, 0, None)
            continue
        inner = buckets.inner_starts(_seconds(w_start), _seconds(w_end, up=True))
        edges = [w_start, *(_at_s(x) for x in inner), w_end]
        for a, b in zip(edges, edges[1:], strict=False):
            if a < b:
                pieces.add(a, b, buckets.key_of(_seconds(a)), None)
    if whole is not None and buckets is not None:
        for a, b, counted, key in _moves(buckets, whole[0], whole[1]):
            pieces.add(_at_s(a), _at_s(b), key, counted)
    for key, counted, groups, sums in pieces.rows(conn, group_cols):
        add((key, *groups), sums)
        if counted is not None:
            add((counted, *groups), sums, sign=-1)
    return out


def _agent_days(
    conn: Connection, buckets: LocalBuckets | None, whole: tuple[int, int], add
) -> list[tuple[int, int]]:
    """Add the whole UTC days inside the hours ``whole`` per agent from usage_agent_day_rollups; the hour
    ranges left at its ends are returned for the hourly rollups.

    Each hour must count in ``_rollup_key`` of it, as the hourly path counts it. A day's row is counted in
    the bucket most of its hours fall in; the runs of its other hours (before or after a local midnight:
    up to 12 a day, none in UTC) are read from usage_agent_rollups, added to their bucket and taken out of
    the day's. Over 90 days by agent that reads 4,500 day rows and a fifth to a half of the hourly rows,
    instead of grouping all 108k of them.

    PostgreSQL groups the hourly rows in the server, and there merging the moved hours in Python costs more
    than the day rows save (90 days by agent, New York: 40 -> 66-80 ms CPU, docs/performance.md): it takes
    the day rows only where no hour moves (UTC, and zones a whole number of days off it)."""
    d0, d1 = -(-whole[0] // HOURS_PER_DAY), whole[1] // HOURS_PER_DAY
    if d0 >= d1:
        return [whole]
    if conn.dialect.name == "postgresql" and buckets is not None and any(off for _, off in buckets.segs):
        # Only an offset of 0 keeps every hour of a UTC day in one local day; decided before keying 2,000+
        # hours for nothing (a zone whose offset is under half an hour also moves none: it reads hourly).
        return [whole]
    counted: dict[int, int] = {}
    runs: list[tuple[int, int, int, int]] = []  # (from hour, to hour, bucket, bucket the day counts in)
    for d in range(d0, d1):
        hours = range(d * HOURS_PER_DAY, (d + 1) * HOURS_PER_DAY)
        keys = [0 if buckets is None else _rollup_key(buckets, h) for h in hours]
        counted[d] = day_key = max(keys, key=keys.count)
        for h, key in zip(hours, keys, strict=True):
            if key == day_key:
                continue
            if runs and runs[-1][1:] == (h, key, day_key):
                runs[-1] = (runs[-1][0], h + 1, key, day_key)
            else:
                runs.append((h, h + 1, key, day_key))
    t = UsageAgentDayRollup.__table__
    stmt = select(t.c.day, t.c.agent_id, *(t.c[c] for c in USAGE_SUMS)).where(t.c.day >= d0, t.c.day < d1)
    for row in conn.execute(stmt):
        add((counted[row[0]], row[1]), row[2:])
    tags = {(key, day_key): i for i, (key, day_key) in enumerate(dict.fromkeys((r[2], r[3]) for r in runs))}
    by_tag = {i: kc for kc, i in tags.items()}
    pieces = [(a, b, tags[(key, day_key)]) for a, b, key, day_key in runs]
    for row in _hour_pieces(conn, pieces):
        key, day_key = by_tag[row[0]]
        add((key, row[1]), row[2:])
        add((day_key, row[1]), row[2:], sign=-1)
    return [r for r in ((whole[0], d0 * HOURS_PER_DAY), (d1 * HOURS_PER_DAY, whole[1])) if r[0] < r[1]]


def _hour_pieces(conn: Connection, pieces: list[tuple[int, int, int]]) -> list:
    """Per (piece tag, agent) the sums of usage_agent_rollups over whole hours [(from hour, to hour, tag)]
    (SQLite only: see ``_agent_days``)."""
    if not pieces:
        return []
    sums = [f"sum(r.{c})" for c in USAGE_SUMS]
    sql = (
        f"SELECT p.k, r.agent_id, {', '.join(sums)} FROM p JOIN usage_agent_rollups r "
        "ON r.hour >= p.a AND r.hour < p.b GROUP BY p.k, r.agent_id"
    )
    return _windowed(conn, pieces, sql)


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
            by_status = _session_status_totals(conn, start, end)
        return _totals(next(iter(usage.values()), None), by_status)

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
        import pandas as pd

        rows = self.usage_series_rows(start, end, group_by=group_by, tz=tz, granularity=granularity)
        frame = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
        z = zone(tz)
        if frame.empty:
            frame["bucket"] = pd.Series([], dtype=f"datetime64[ns, {z.key}]")
        else:
            frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True).dt.tz_convert(z.key)
        for c in SERIES_COLUMNS[2:]:
            frame[c] = frame[c].astype("int64")
        frame["group"] = frame["group"].astype(str)
        return frame

    def usage_series_rows(
        self,
        start: datetime,
        end: datetime,
        *,
        group_by: str | None,
        tz: str = "UTC",
        granularity: str = "day",
    ) -> list[dict[str, Any]]:
        """``usage_series`` as plain rows (``bucket`` an aware datetime in ``tz``), without pandas: the API
        reads them through ``usage_overview``, so that a worker serving only the API never loads pandas
        (issue 17's memory target)."""
        _check_range(start, end)
        with self._read() as conn:
            rows, _found = _series_rows(conn, start, end, group_by, tz, granularity)
        return rows

    def usage_overview(
        self,
        start: datetime,
        end: datetime,
        *,
        group_by: str | None,
        tz: str = "UTC",
        granularity: str = "day",
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``usage_totals`` and ``usage_series_rows`` of one range in one read (what GET /api/v1/usage
        answers): the usage totals are the sums of the series' buckets, so the rollups are read once, not
        twice (issue 17: 20 ms of a 90-day request on SQLite)."""
        _check_range(start, end)
        with self._read() as conn:
            rows, found = _series_rows(conn, start, end, group_by, tz, granularity)
            by_status = _session_status_totals(conn, start, end)
        usage = [0] * len(USAGE_SUMS)
        for values in found.values():
            for i, v in enumerate(values):
                usage[i] += v
        return _totals(usage, by_status), rows

    def usage_rollups_before(self, t: datetime) -> bool:
        """Whether the rollups hold usage from before ``t`` (one read of the first key)."""
        with self._read() as conn:
            oldest = conn.execute(select(func.min(UsageQuarterRollup.quarter))).scalar()
        return oldest is not None and oldest < quarter_of(t)

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
            buckets = local_buckets(start, end, z, "day") if end > start else None
            found = usage_grouped(conn, start, end, ("agent_id", "model", "provider"), buckets=buckets)
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
        s0 = _seconds(start)
        segs = offset_segments(z, s0, max(s0, _seconds(end, up=True)))
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


def _series_rows(
    conn: Connection, start: datetime, end: datetime, group_by: str | None, tz: str, granularity: str
) -> tuple[list[dict[str, Any]], dict[tuple, list[int]]]:
    """The dense series rows of ``usage_series_rows`` and the sums they were made from (``usage_grouped``)."""
    z = zone(tz)
    if group_by not in GROUP_COLUMNS:
        raise ValueError("group_by must be one of model, provider, agent (or None)")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    gcol = GROUP_COLUMNS[group_by]
    buckets = local_buckets(start, end, z, granularity) if end > start else None
    found = usage_grouped(conn, start, end, (gcol,) if gcol else (), buckets=buckets)
    if buckets is None:
        keys = []
    elif granularity == "day":
        days = {k[0] for k in found} | {_local_day(start, z), _local_day(end - _US, z)}
        keys = list(range(min(days), max(days) + 1))
    else:
        keys = list(buckets.keys)
    groups = sorted({k[1] for k in found}, key=lambda g: (g is None or g == "", g)) if gcol else ["all"]
    rows = []
    for b in keys:
        if granularity == "day":
            stamp = _local_midnight(b, z)
        else:
            stamp = datetime.fromtimestamp(b, UTC).astimezone(z)
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
    return rows, found


def _session_status_totals(conn: Connection, start: datetime, end: datetime) -> dict[str, list[int]]:
    """{status: [sessions, runtime ms]} of the sessions that ended in [start, end)."""
    _whole, rolled, windows = _session_parts(conn, start, end, ("status",))
    raw = _raw_sessions(
        conn, windows, (Session.status,), (func.count(), func.sum(func.coalesce(Session.runtime_ms, 0)))
    )
    by_status: dict[str, list[int]] = {}
    for status, n, ms, *_cost_unpriced in (*rolled, *raw):  # rollup rows carry two sums more
        acc = by_status.setdefault(status, [0, 0])
        acc[0] += int(n or 0)
        acc[1] += int(ms or 0)
    return by_status


def _totals(usage: Sequence[int] | None, by_status: dict[str, list[int]]) -> dict[str, Any]:
    u = _sum_dict(usage)
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


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v if v is not None else "") for v in key)


def _epoch_day_expr(segs: list[tuple[int, int]], epoch: str) -> str:
    if len(segs) == 1:
        return f"({epoch} + {segs[0][1]}) / 86400"
    parts = " ".join(
        f"WHEN {epoch} < {first} THEN ({epoch} + {prev}) / 86400"
        for (first, _), (_, prev) in zip(segs[1:], segs, strict=False)
    )
    return f"CASE {parts} ELSE ({epoch} + {segs[-1][1]}) / 86400 END"
