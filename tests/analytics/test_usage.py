"""Usage analytics against an independent computation over events built from the provider fixtures.

Every provider's cache-read, cache-write and reasoning cases go in (the fixtures' own ``expected`` counts are
the reference for tokens; cost is what the active price book says for each event), at timestamps on both
sides of local midnights: America/New_York on the day DST starts (a 23-hour day) and Asia/Kolkata
(+05:30). The expectations are computed here in Python from the list of events sent, not from the database.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helicarrier.analytics.matrix import model_matrix
from helicarrier.data.rollups import RUNTIME_EDGES_MS
from helicarrier.ingest.normalize import normalize_usage
from tests.ingesting import provider_fixtures

FIXTURES = provider_fixtures()
NY = ZoneInfo("America/New_York")
IST = ZoneInfo("Asia/Kolkata")
T = datetime(2026, 3, 7, tzinfo=UTC)
STAMPS = [
    T + timedelta(hours=4, minutes=59, seconds=59, microseconds=999_999),  # 23:59:59.999999 EST, Mar 6
    T + timedelta(hours=5),  # 00:00 EST, Mar 7
    T + timedelta(hours=18, minutes=29, seconds=59),  # 23:59:59 IST, Mar 7
    T + timedelta(hours=18, minutes=30),  # 00:00 IST, Mar 8 (in the 18:00Z hour bucket)
    T + timedelta(hours=18, minutes=45),
    T + timedelta(hours=19),
    T + timedelta(hours=23, minutes=59, seconds=59),
    T + timedelta(days=1),
    T + timedelta(days=1, hours=4, minutes=30),
    T + timedelta(days=1, hours=5),  # 00:00 EST, Mar 8 (DST starts at 02:00 local)
    T + timedelta(days=1, hours=18, minutes=15),
    T + timedelta(days=1, hours=18, minutes=31),
    T + timedelta(days=2, hours=3, minutes=59, seconds=59),  # 23:59:59 EDT, Mar 8
    T + timedelta(days=2, hours=4),  # 00:00 EDT, Mar 9
    T + timedelta(days=2, hours=12, minutes=7),
]
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


class Expected:
    """The events sent, with the figures each one must contribute."""

    def __init__(self, ctx, sender):
        self.book = ctx.price_books.active()
        self.sender = sender
        self.usage: list[dict] = []
        self.sessions: list[dict] = []
        self.events: list[dict] = []

    def add_usage(self, ts, agent, session, fixture, *, model=None, cost=None):
        data = dict(FIXTURES[fixture]["data"])
        expected = dict(FIXTURES[fixture]["expected"])
        if model is not None:
            data["response"] = {**data["response"], "model": model}
            expected["model"] = model
        if cost is not None:
            data["cost"] = cost
        priced = self.book.price(normalize_usage(data), ts)
        self.usage.append(
            {
                "ts": ts,
                "agent": agent,
                "model": expected["model"] or "",
                "provider": expected["provider"],
                **{k: expected[k] or 0 for k in TOKENS},
                "cost": priced.total_nanos,
                "reported": priced.reported_nanos or 0,
            }
        )
        self.events.append(self.sender.event("usage", ts, agent, session, data))
        return priced.total_nanos or 0

    def add_session(self, sid, agent, start, end, model, kind, status, error, fixture):
        cost = self.add_usage(start + (end - start) / 2, agent, sid, fixture)
        data = {"model": model, "task": f"task {sid}", "task_kind": kind}
        self.events.append(self.sender.event("session.start", start, agent, sid, data))
        self.events.append(
            self.sender.event("session.end", end, agent, sid, {"status": status, "error": error})
        )
        self.sessions.append(
            {
                "id": sid,
                "start": start,
                "end": end,
                "model": model,
                "kind": kind,
                "status": status,
                "error": error,
                "cost": cost,
                "ms": (end - start) // timedelta(milliseconds=1),
            }
        )

    def totals(self, a, b) -> dict[str, int]:
        rows = [u for u in self.usage if a <= u["ts"] < b]
        out = {k: sum(u[k] for u in rows) for k in TOKENS}
        out["cost_nanos"] = sum(u["cost"] or 0 for u in rows)
        out["unpriced_events"] = sum(1 for u in rows if u["cost"] is None)
        out["reported_cost_nanos"] = sum(u["reported"] for u in rows)
        out["events"] = len(rows)
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
        return out


@pytest.fixture
def world(ctx, sender):
    ex = Expected(ctx, sender)
    names = sorted(FIXTURES)
    for i, ts in enumerate(STAMPS):
        for j, name in enumerate(names):
            ex.add_usage(ts, f"agent-{(i + j) % 3}", None, name)
    ex.add_usage(STAMPS[3], "agent-0", None, "openai_chat__full", model="no-such-model-x")  # unpriced
    ex.add_usage(STAMPS[5], "agent-1", None, "openai_chat__full", cost="0.012345678")  # a reported cost
    rng = random.Random(11)
    statuses = ["succeeded"] * 6 + ["failed", "timeout", "killed"]
    errors = {
        "failed": ["RateLimitError: 429", "ToolError: tests failed", None],
        "timeout": [None, "timed out"],
    }
    for k in range(60):
        end = datetime(2026, 3, 6, 12, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
        start = end - timedelta(seconds=rng.choice([0.4, 3, 45, 300, 1800, 7200]) * rng.uniform(0.8, 1.2))
        status = rng.choice(statuses)
        error = rng.choice(errors.get(status, [None])) if status != "succeeded" else None
        if status == "killed":
            error = "killed by op: runaway"
        model = rng.choice(["gpt-4.1", "claude-sonnet-4-6", None])
        kind = rng.choice(["coding", "triage", None])
        ex.add_session(
            f"sess-{k:03d}", f"agent-{k % 3}", start, end, model, kind, status, error, "openai_chat__full"
        )
    sender.send(ex.events, batch=37, shuffle=random.Random(3))
    return ex


def _local_midnight(d: date, z: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=z).astimezone(UTC)


RANGES = [
    (T - timedelta(days=2), T + timedelta(days=4)),  # everything
    (_local_midnight(date(2026, 3, 8), NY), _local_midnight(date(2026, 3, 9), NY)),  # the 23-hour day
    (_local_midnight(date(2026, 3, 7), NY), _local_midnight(date(2026, 3, 8), NY)),
    (_local_midnight(date(2026, 3, 8), IST), _local_midnight(date(2026, 3, 9), IST)),  # +05:30
    (T + timedelta(hours=18, minutes=29), T + timedelta(hours=18, minutes=46)),  # inside one hour
    (T + timedelta(hours=18, minutes=40), T + timedelta(hours=19, minutes=1)),  # across one hour boundary
    (T + timedelta(hours=4, minutes=59, seconds=59), T + timedelta(days=2, hours=4)),
]


@pytest.mark.parametrize("rng_index", range(len(RANGES)))
def test_usage_totals_exact(world, ctx, rng_index):
    a, b = RANGES[rng_index]
    got = ctx.repo.usage_totals(a, b)
    want = world.totals(a, b)
    assert {k: got[k] for k in want} == want
    assert want["events"] > 0 or rng_index == 4


def test_every_provider_case_is_in_the_totals(world, ctx):
    got = ctx.repo.usage_totals(*RANGES[0])
    assert got["cache_read_tokens"] > 0 and got["cache_write_tokens"] > 0 and got["reasoning_tokens"] > 0
    assert got["unpriced_events"] == 1
    assert got["reported_cost_nanos"] == world.totals(*RANGES[0])["reported_cost_nanos"] > 0


@pytest.mark.parametrize("group_by", [None, "model", "provider", "agent"])
def test_daily_series_in_new_york_across_the_dst_change(world, ctx, group_by):
    a, b = _local_midnight(date(2026, 3, 6), NY), _local_midnight(date(2026, 3, 10), NY)
    frame = ctx.repo.usage_series(a, b, group_by=group_by, tz="America/New_York")
    want: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    key = {None: None, "model": "model", "provider": "provider", "agent": "agent"}[group_by]
    for u in world.usage:
        if a <= u["ts"] < b:
            g = "all" if key is None else (u[key] or "(unknown)")
            w = want[(u["ts"].astimezone(NY).date(), g)]
            for k in TOKENS:
                w[k] += u[k]
            w["cost_nanos"] += u["cost"] or 0
            w["events"] += 1
            w["unpriced_events"] += u["cost"] is None
    got = {}
    for rec in frame.to_dict("records"):
        assert rec["bucket"].hour == 0 and str(rec["bucket"].tz) == "America/New_York"
        if rec["events"]:
            got[(rec["bucket"].date(), rec["group"])] = {
                k: rec[k] for k in (*TOKENS, "cost_nanos", "events", "unpriced_events")
            }
    assert got == {k: dict(v) for k, v in want.items()}
    # Dense: every local day of the range for every group.
    days = sorted({r.date() for r in frame["bucket"]})
    assert days == [date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    assert len(frame) == len(days) * frame["group"].nunique()


def test_daily_series_in_kolkata_counts_each_event_on_its_local_day(world, ctx):
    """In a +05:30 zone the hour 18:00-19:00Z (23:30-00:30 IST) straddles local midnight: its 18:30Z and
    18:45Z events are on the next day in the series too (see test_local_days for more zones)."""
    a, b = _local_midnight(date(2026, 3, 7), IST), _local_midnight(date(2026, 3, 10), IST)
    frame = ctx.repo.usage_series(a, b, group_by=None, tz="Asia/Kolkata")
    want: dict[date, int] = defaultdict(int)
    for u in world.usage:
        if a <= u["ts"] < b:
            want[u["ts"].astimezone(IST).date()] += u["cost"] or 0
    got = {r["bucket"].date(): r["cost_nanos"] for r in frame.to_dict("records") if r["cost_nanos"]}
    assert got == dict(want)
    exact_8th = world.totals(_local_midnight(date(2026, 3, 8), IST), _local_midnight(date(2026, 3, 9), IST))
    assert got[date(2026, 3, 8)] == exact_8th["cost_nanos"]


def test_hourly_series_in_local_clock_hours(world, ctx):
    """In a +05:30 zone the hour buckets are IST clock hours, [hh:30Z, hh+1:30Z), cut to the range."""
    a, b = T + timedelta(hours=17, minutes=30), T + timedelta(hours=20)
    frame = ctx.repo.usage_series(a, b, group_by=None, tz="Asia/Kolkata", granularity="hour")
    assert [r.isoformat() for r in frame["bucket"]] == [
        "2026-03-07T23:00:00+05:30",  # 17:30Z-18:30Z
        "2026-03-08T00:00:00+05:30",
        "2026-03-08T01:00:00+05:30",  # 19:30Z-20:00Z: the range ends there
    ]
    want = [
        world.totals(T + timedelta(hours=h, minutes=30), min(b, T + timedelta(hours=h + 1, minutes=30)))[
            "cost_nanos"
        ]
        for h in (17, 18, 19)
    ]
    assert frame["cost_nanos"].tolist() == want


def test_month_to_date_and_projection(world, ctx):
    now = datetime(2026, 3, 8, 12, tzinfo=UTC)
    mtd = ctx.repo.month_to_date(now, tz="America/New_York")
    start = _local_midnight(date(2026, 3, 1), NY)
    spend = world.totals(start, now)["cost_nanos"]
    assert mtd["spend_nanos"] == spend
    elapsed = (now - start).total_seconds()
    month = (_local_midnight(date(2026, 4, 1), NY) - start).total_seconds()  # 31 days minus the DST hour
    assert mtd["days_in_month"] == 31
    assert mtd["days_elapsed"] == pytest.approx(elapsed / 86400)
    assert abs(mtd["projected_nanos"] - spend * month / elapsed) <= 1
    assert mtd["unpriced_events"] == world.totals(start, now)["unpriced_events"]


@pytest.mark.parametrize("rng_index", [0, 1, 3, 6])
def test_session_totals_by_end_time(world, ctx, rng_index):
    a, b = RANGES[rng_index]
    got = ctx.repo.usage_totals(a, b)
    ended = [s for s in world.sessions if a <= s["end"] < b]
    ok = sum(s["status"] == "succeeded" for s in ended)
    assert got["sessions"] == len(ended)
    assert got["succeeded"] == ok
    assert got["failed"] == len(ended) - ok
    assert got["failed_by_status"] == {
        st: sum(s["status"] == st for s in ended) for st in ("failed", "timeout", "killed")
    }
    assert got["runtime_s"] == pytest.approx(sum(s["ms"] for s in ended) / 1000)
    cost = world.totals(a, b)["cost_nanos"]
    assert got["cost_per_success_nanos"] == (None if ok == 0 else (cost + ok // 2) // ok)


def _bin(ms: int) -> int:
    import bisect

    return bisect.bisect_right(RUNTIME_EDGES_MS, ms)


@pytest.mark.parametrize("rng_index", [0, 1, 3])
def test_model_matrix(world, ctx, rng_index):
    a, b = RANGES[rng_index]
    frame = model_matrix(ctx.repo, a, b)
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for s in world.sessions:
        if a <= s["end"] < b:
            cells[(s["model"] or "(unknown)", s["kind"] or "(unknown)")].append(s)
    assert len(frame) == len(cells)
    for rec in frame.to_dict("records"):
        group = cells[(rec["model"], rec["task_kind"])]
        ok = [s for s in group if s["status"] == "succeeded"]
        assert rec["total"] == len(group) and rec["successes"] == len(ok)
        assert rec["failures"] == rec["failed"] + rec["timeout"] + rec["killed"] == len(group) - len(ok)
        assert rec["cost_nanos"] == sum(s["cost"] for s in group)
        reasons: dict[str, int] = defaultdict(int)
        for s in group:
            if s["status"] != "succeeded":
                reasons[((s["error"] or "").partition(":")[0][:80].strip(" ")) or s["status"]] += 1
        assert dict(rec["top_failure_reasons"]) == dict(
            sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        )
        runtimes = sorted(s["ms"] for s in group)
        median = runtimes[(len(runtimes) - 1) // 2]
        # From the histogram: inside the true median's bin or a neighbour (bins are 19% wide).
        assert abs(_bin(int(rec["median_runtime_s"] * 1000)) - _bin(median)) <= 1
        assert rec["p95_runtime_s"] >= rec["median_runtime_s"]


def test_usage_report_rows_by_local_day_agent_model(world, ctx):
    a, b = _local_midnight(date(2026, 3, 7), NY), _local_midnight(date(2026, 3, 9), NY)
    rows = ctx.repo.usage_report_rows(a, b, tz="America/New_York")
    want: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for u in world.usage:
        if a <= u["ts"] < b:
            w = want[
                (u["ts"].astimezone(NY).date().isoformat(), u["agent"], u["model"] or None, u["provider"])
            ]
            w[0] += 1
            w[1] += u["cost"] or 0
    got = {(r["day"], r["agent_id"], r["model"], r["provider"]): [r["events"], r["cost_nanos"]] for r in rows}
    assert got == dict(want)


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "America/New_York"])
def test_session_report_rows(world, ctx, tz):
    """Sessions per local day (of their end), exact in half-hour, 45-minute and DST zones."""
    zone = ZoneInfo(tz)
    a, b = _local_midnight(date(2026, 3, 7), zone), _local_midnight(date(2026, 3, 10), zone)
    rows = ctx.repo.session_report_rows(a, b, tz=tz)
    want: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for s in world.sessions:
        if a <= s["end"] < b:
            w = want[
                (s["end"].astimezone(zone).date().isoformat(), f"agent-{int(s['id'][5:]) % 3}", s["model"])
            ]
            w[0] += 1
            w[1] += s["status"] == "succeeded"
            w[2] += s["ms"]
    got = {
        (r["day"], r["agent_id"], r["model"]): [r["sessions"], r["succeeded"], round(r["runtime_s"] * 1000)]
        for r in rows
    }
    assert got == dict(want)


def test_invalid_arguments(ctx):
    a, b = T, T + timedelta(days=1)
    with pytest.raises(ValueError, match="time zone"):
        ctx.repo.usage_series(a, b, group_by=None, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="group_by"):
        ctx.repo.usage_series(a, b, group_by="label")
    with pytest.raises(ValueError, match="aware"):
        ctx.repo.usage_totals(a.replace(tzinfo=None), b)
