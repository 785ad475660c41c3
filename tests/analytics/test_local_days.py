"""Exact local days and hours in every zone: each day's (hour's) cost and tokens against a plain-Python
grouping of the events sent, by ``ts.astimezone(zone)`` (zoneinfo), never by the app's bucket code.

Events sit just before and after every local midnight of half-hour (+05:30, -03:30, +09:30/+10:30),
45-minute (+05:45) and whole-hour zones over five weeks that hold two DST changes: New York's (2026-03-08,
a 23-hour day) and Lord Howe's 30-minute one (2026-04-05, +11:00 -> +10:30). Those at 30 and 45 minutes
past a UTC hour are the ones a whole-UTC-hour rollup would put on the wrong day.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.analytics.test_usage import FIXTURES, TOKENS, Expected

ZONES = (
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/New_York",
)
FIRST, LAST = date(2026, 3, 4), date(2026, 4, 8)  # local days, both included
AROUND_MIDNIGHT = (
    -timedelta(minutes=46),
    -timedelta(minutes=31),
    -timedelta(minutes=16),
    -timedelta(seconds=1),
    -timedelta(microseconds=1),
    timedelta(0),
    timedelta(minutes=14),
    timedelta(minutes=29),
    timedelta(minutes=44, seconds=59),
    timedelta(minutes=59),
)
NANOS = Decimal(1_000_000_000)


def _midnight(d: date, z: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=z).astimezone(UTC)


@pytest.fixture
def around_midnights(ctx, sender) -> Expected:
    ex = Expected(ctx, sender)
    names = sorted(FIXTURES)
    rng = random.Random(5)
    stamps = set()
    for key in ZONES:
        z = ZoneInfo(key)
        d = FIRST - timedelta(days=1)
        while d <= LAST + timedelta(days=1):
            m = _midnight(d, z)
            stamps.update(m + delta for delta in AROUND_MIDNIGHT)
            stamps.add(m + timedelta(seconds=rng.randrange(86400)))
            d += timedelta(days=1)
    for i, ts in enumerate(sorted(stamps)):
        ex.add_usage(ts, f"agent-{i % 3}", None, names[i % len(names)])
    sender.send(ex.events, batch=500)
    return ex


def _want_days(ex: Expected, a: datetime, b: datetime, z: ZoneInfo, by: str | None) -> dict:
    want: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for u in ex.usage:
        if a <= u["ts"] < b:
            w = want[(u["ts"].astimezone(z).date(), "all" if by is None else (u[by] or "(unknown)"))]
            for k in TOKENS:
                w[k] += u[k]
            w["cost_nanos"] += u["cost"] or 0
            w["events"] += 1
    return {k: dict(v) for k, v in want.items()}


def _got(frame, key) -> dict:
    return {
        (key(r["bucket"]), r["group"]): {k: r[k] for k in (*TOKENS, "cost_nanos", "events")}
        for r in frame.to_dict("records")
        if r["events"]
    }


@pytest.mark.parametrize("tz", ZONES)
def test_each_local_day_is_exact(around_midnights, ctx, tz):
    z = ZoneInfo(tz)
    a, b = _midnight(FIRST, z), _midnight(LAST + timedelta(days=1), z)
    want = _want_days(around_midnights, a, b, z, None)
    frame = ctx.repo.usage_series(a, b, group_by=None, tz=tz)
    assert _got(frame, lambda t: t.date()) == want
    assert [t.date() for t in frame["bucket"]] == [
        FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)
    ]
    assert all(t.hour == 0 and t.minute == 0 for t in frame["bucket"])


@pytest.mark.parametrize("tz", ["Asia/Kathmandu", "Australia/Lord_Howe"])
@pytest.mark.parametrize("group_by", ["model", "agent"])
def test_each_local_day_by_group_over_a_ragged_range(around_midnights, ctx, tz, group_by):
    z = ZoneInfo(tz)
    a = _midnight(date(2026, 3, 20), z) - timedelta(minutes=7, microseconds=3)  # the ends are not midnights
    b = _midnight(date(2026, 4, 7), z) + timedelta(hours=5, minutes=44, seconds=1)
    want = _want_days(around_midnights, a, b, z, group_by)
    frame = ctx.repo.usage_series(a, b, group_by=group_by, tz=tz)
    assert _got(frame, lambda t: t.date()) == want


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe"])
def test_usage_report_rows_per_local_day(around_midnights, ctx, tz):
    """The scheduled CSV reports' rows: per local day x agent x model x provider."""
    z = ZoneInfo(tz)
    a, b = _midnight(date(2026, 3, 30), z), _midnight(date(2026, 4, 8), z)
    want: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for u in around_midnights.usage:
        if a <= u["ts"] < b:
            w = want[
                (u["ts"].astimezone(z).date().isoformat(), u["agent"], u["model"] or None, u["provider"])
            ]
            w[0] += 1
            w[1] += u["cost"] or 0
            w[2] += u["input_tokens"]
    rows = ctx.repo.usage_report_rows(a, b, tz=tz)
    got = {
        (r["day"], r["agent_id"], r["model"], r["provider"]): [
            r["events"],
            r["cost_nanos"],
            r["input_tokens"],
        ]
        for r in rows
    }
    assert got == dict(want)


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Asia/Kathmandu", date(2026, 3, 10)),
        ("America/St_Johns", date(2026, 3, 8)),  # its DST starts at 02:00 local
        ("Australia/Lord_Howe", date(2026, 4, 5)),  # 02:00 +11:00 -> 01:30 +10:30
        ("America/New_York", date(2026, 3, 8)),  # 02:00 EST -> 03:00 EDT
    ],
)
def test_each_local_clock_hour_is_exact(around_midnights, ctx, tz, day):
    """Hour buckets are the zone's clock hours (split where the offset changes), not UTC hours."""
    z = ZoneInfo(tz)
    a, b = _midnight(day - timedelta(days=1), z), _midnight(day + timedelta(days=1), z)

    def hour_of(t: datetime) -> tuple:
        local = t.astimezone(z)
        return local.date(), local.hour, local.utcoffset()

    want: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for u in around_midnights.usage:
        if a <= u["ts"] < b:
            w = want[(hour_of(u["ts"]), "all")]
            for k in TOKENS:
                w[k] += u[k]
            w["cost_nanos"] += u["cost"] or 0
            w["events"] += 1
    frame = ctx.repo.usage_series(a, b, group_by=None, tz=tz, granularity="hour")
    assert _got(frame, lambda t: hour_of(t.to_pydatetime())) == {k: dict(v) for k, v in want.items()}
    hours = [hour_of(t.to_pydatetime()) for t in frame["bucket"]]
    stamps = [t.to_pydatetime() for t in frame["bucket"]]
    assert len(set(hours)) == len(hours) and all(x < y for x, y in zip(stamps, stamps[1:], strict=False))
    # A bucket starts on a whole local hour, or where the offset changes (Lord Howe's 01:30 +10:30).
    for prev, t in zip(stamps, stamps[1:], strict=False):
        assert t.minute == 0 or t.utcoffset() != prev.utcoffset()


@pytest.mark.parametrize("tz", ["Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"])
def test_the_api_answers_exact_days_in_decimal_dollars(around_midnights, ctx, client, read_headers, tz):
    z = ZoneInfo(tz)
    first, last = date(2026, 3, 25), date(2026, 4, 8)
    r = client.get(f"/api/v1/usage?from={first}&to={last}&tz={tz}&group_by=day", headers=read_headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    want = _want_days(around_midnights, _midnight(first, z), _midnight(last + timedelta(days=1), z), z, None)
    got = {}
    for point in r.get_json()["series"]:
        day = datetime.fromisoformat(point["bucket"]).date()
        got[day] = (Decimal(point["cost_usd"]), point["input_tokens"], point["output_tokens"])
    assert got == {
        d: (Decimal(w["cost_nanos"]) / NANOS, w["input_tokens"], w["output_tokens"])
        for (d, _), w in want.items()
    }
    assert sum(v[0] for v in got.values()) > 0


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"])
def test_local_days_stay_exact_after_the_raw_events_are_pruned(around_midnights, ctx, tz):
    """Retention keeps rollups far longer than raw usage: with every raw event gone, a local day cut
    inside a UTC hour is still exact (its parts come from the quarter-hour rollups)."""
    z = ZoneInfo(tz)
    a, b = _midnight(FIRST, z), _midnight(LAST + timedelta(days=1), z)
    want = _want_days(around_midnights, a, b, z, None)
    while ctx.repo.prune_batch("usage", datetime(2100, 1, 1, tzinfo=UTC), 100_000):
        pass
    assert {h.kind: h.rows for h in ctx.repo.retention_holdings()}["usage"] == 0
    frame = ctx.repo.usage_series(a, b, group_by=None, tz=tz)
    assert _got(frame, lambda t: t.date()) == want


@pytest.fixture
def across_southern_spring(ctx, sender) -> Expected:
    """An event every 53 minutes (so over the days every minute of the hour is hit) from 2026-09-18 to
    2026-10-08 UTC, over the September DST starts of New Zealand, Chatham and Chile."""
    ex = Expected(ctx, sender)
    names = sorted(FIXTURES)
    ts, last = datetime(2026, 9, 18, 0, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC)
    i = 0
    while ts < last:
        ex.add_usage(ts, f"agent-{i % 3}", None, names[i % len(names)])
        ts += timedelta(minutes=53)
        i += 1
    sender.send(ex.events, batch=500)
    return ex


# Per agent, whole UTC days come from usage_agent_day_rollups, counted in the local day most of their hours
# fall in; around UTC+12/+13 that flips from one day to the next at the DST change, and the hours moved
# out of two neighbouring UTC days then meet.
SPRING_ZONES = (
    "Pacific/Auckland", "Pacific/Chatham", "America/Santiago", "Pacific/Kiritimati", "Etc/GMT+12", "UTC",
)  # fmt: skip


@pytest.mark.parametrize("tz", SPRING_ZONES)
def test_each_local_day_by_agent_across_a_spring_forward(across_southern_spring, ctx, tz):
    z = ZoneInfo(tz)
    a = _midnight(date(2026, 9, 20), z) - timedelta(minutes=7)
    b = _midnight(date(2026, 10, 6), z) + timedelta(hours=5, minutes=44)
    want = _want_days(across_southern_spring, a, b, z, "agent")
    frame = ctx.repo.usage_series(a, b, group_by="agent", tz=tz)
    assert _got(frame, lambda t: t.date()) == want
