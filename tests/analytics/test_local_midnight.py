"""Where a local day begins, in stdlib datetime (the API path no longer loads pandas): checked against pandas'
own ``tz_localize`` for every day of four years in zones whose clocks jump at midnight, and one that
falls back at midnight."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from helicarrier.data.queries.analytics import _local_midnight

EPOCH = date(1970, 1, 1)
# Santiago, Havana, Beirut and Asuncion skip midnight when their summer time starts; Santiago and Asuncion
# repeat the last hour before it when it ends; Kolkata and Kathmandu are off the whole hour.
ZONES = ["America/Santiago", "America/Havana", "Asia/Beirut", "America/Asuncion", "Asia/Kathmandu", "UTC"]


def _pandas_midnight(day: int, zone: str) -> pd.Timestamp:
    d = EPOCH + timedelta(days=day)
    return pd.Timestamp(d.year, d.month, d.day).tz_localize(zone, nonexistent="shift_forward", ambiguous=True)


@pytest.mark.parametrize("zone", ZONES)
def test_each_local_day_begins_where_pandas_says(zone):
    z = ZoneInfo(zone)
    first, last = (date(2024, 1, 1) - EPOCH).days, (date(2027, 12, 31) - EPOCH).days
    skipped = 0
    for day in range(first, last + 1):
        ours = _local_midnight(day, z)
        expected = _pandas_midnight(day, zone)
        assert ours.timestamp() == expected.timestamp(), (zone, EPOCH + timedelta(days=day), ours, expected)
        assert ours.utcoffset() == expected.utcoffset()
        skipped += ours.hour != 0
    if zone in ("America/Santiago", "America/Havana", "Asia/Beirut", "America/Asuncion"):
        assert skipped >= 1  # the range does reach a skipped midnight (Paraguay kept its summer time in 2024)
