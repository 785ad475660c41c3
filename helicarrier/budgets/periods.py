"""A budget's period (a local day or month of the organisation's zone) as exact UTC instants, through the same
local-day arithmetic as the analytics (``helicarrier.localtime``): a zone at +05:45, or whose clocks change at
midnight, still gets the instant its day really begins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from helicarrier.localtime import DAY_S, LocalBuckets


def _day_start(z: ZoneInfo, day: date) -> datetime:
    noon = int(datetime(day.year, day.month, day.day, 12, tzinfo=z).timestamp())  # noon always exists
    return datetime.fromtimestamp(LocalBuckets(z, noon, noon + 1, DAY_S).starts[0], UTC)


def bounds(period: str, z: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the ``period`` ("day" or "month") holding ``now``."""
    today = now.astimezone(z).date()
    if period == "day":
        return _day_start(z, today), _day_start(z, today + timedelta(days=1))
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _day_start(z, first), _day_start(z, following)
