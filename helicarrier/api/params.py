"""Query parameters: each reader answers a 422 naming the parameter when the value is wrong."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import request

from helicarrier.errors import Refused
from helicarrier.localtime import FIRST_YEAR, LAST_YEAR

DEFAULT_DAYS = 30
# Bounds on time parameters (docs/api.md, Limits): a zone is an IANA key (helicarrier.localtime), dates and
# times have a year in localtime's FIRST_YEAR..LAST_YEAR, and a series has a bounded number of buckets.
MAX_TIME_LENGTH = 40  # "2026-11-26T10:00:00.123456+05:30" is 32
MAX_DAILY_DAYS = 400
MAX_HOURLY_DAYS = 31
ALLOWED_TIMES = (
    f"a date YYYY-MM-DD or an ISO 8601 time with an offset, in the years {FIRST_YEAR} to {LAST_YEAR}"
)


def invalid(name: str, message: str) -> Refused:
    return Refused.invalid(name, message, code="invalid_parameter")


def text(name: str, default: str | None = None) -> str | None:
    return request.args.get(name) or default


def choice(name: str, allowed, default: str) -> str:
    value = request.args.get(name) or default
    if value not in allowed:
        raise invalid(name, f"must be one of {', '.join(allowed)}")
    return value


def many(name: str, *, split: bool = True) -> tuple[str, ...]:
    """A parameter that may repeat, each value possibly a comma-separated list; duplicates dropped."""
    out: list[str] = []
    for raw in request.args.getlist(name):
        parts = raw.split(",") if split else [raw]
        out.extend(p.strip() for p in parts if p.strip())
    return tuple(dict.fromkeys(out))


def integer(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"{raw!r} is not an integer") from None
    if not lo <= value <= hi:
        raise invalid(name, f"must be between {lo} and {hi}")
    return value


def number(name: str, default: float, lo: float, hi: float) -> float:
    """A finite number within [lo, hi]: NaN and infinities are refused, never clamped."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise invalid(name, f"{raw!r} is not a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise invalid(name, f"must be a number between {lo:g} and {hi:g}")
    return value


def time_zone(name: str = "tz") -> tuple[str, ZoneInfo]:
    from helicarrier.localtime import zone

    tz = request.args.get(name) or "UTC"
    try:
        return tz, zone(tz)
    except ValueError as exc:
        raise invalid(name, str(exc)) from None


def when(name: str, z: ZoneInfo, *, end: bool) -> datetime | None:
    """A date (a local day in ``z``; as an end, the day is included) or an aware ISO 8601 time, with a year
    in FIRST_YEAR..LAST_YEAR (so that no arithmetic on it can overflow)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    shown = raw if len(raw) <= MAX_TIME_LENGTH else raw[:MAX_TIME_LENGTH] + "…"
    bad = invalid(name, f"{shown!r} is not {ALLOWED_TIMES}")
    if len(raw) > MAX_TIME_LENGTH:
        raise bad
    if len(raw) == 10:
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise bad from None
        if not FIRST_YEAR <= d.year <= LAST_YEAR:
            raise bad
        if end:
            d = d + timedelta(days=1)
        return datetime(d.year, d.month, d.day, tzinfo=z).astimezone(UTC)
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad from None
    if ts.tzinfo is None:
        raise invalid(name, f"a time needs an offset (e.g. 2026-11-26T10:00:00Z); {ALLOWED_TIMES}")
    if not FIRST_YEAR <= ts.year <= LAST_YEAR:
        raise bad
    return ts.astimezone(UTC)


def series_range(start: datetime, end: datetime, granularity: str) -> None:
    """A series has at most MAX_DAILY_DAYS day buckets or MAX_HOURLY_DAYS days of hour buckets."""
    if granularity == "hour" and end - start > timedelta(days=MAX_HOURLY_DAYS):
        raise invalid("granularity", f"hourly series cover at most {MAX_HOURLY_DAYS} days (from .. to)")
    if end - start > timedelta(days=MAX_DAILY_DAYS):
        raise invalid("from", f"a daily series covers at most {MAX_DAILY_DAYS} days: from .. to is longer")


def time_range(
    z: ZoneInfo, *, default_days: int | None = DEFAULT_DAYS
) -> tuple[datetime | None, datetime | None]:
    """``from`` and ``to``; with ``default_days``, a missing end is the end of today and a missing start that
    many local days before the end."""
    start = when("from", z, end=False)
    stop = when("to", z, end=True)
    if default_days is not None:
        if stop is None:
            today = datetime.now(z).date() + timedelta(days=1)
            stop = datetime(today.year, today.month, today.day, tzinfo=z).astimezone(UTC)
        if start is None:
            first = stop.astimezone(z).date() - timedelta(days=default_days)
            start = datetime(first.year, first.month, first.day, tzinfo=z).astimezone(UTC)
    if start is not None and stop is not None and stop < start:
        raise invalid("to", "is before from")
    return start, stop
