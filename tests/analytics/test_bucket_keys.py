"""The SQL that puts a whole UTC hour of the rollups in a local bucket agrees with its Python twin for every
hour of a year, in zones whose offsets change on the half hour (Lord Howe), by 30 minutes, or not at all.

The reader moves the parts of an hour that belong elsewhere using the Python key (``_moves``); if the two
disagreed on any hour, that hour's sums would be counted in one bucket and taken out of another.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from helicarrier.data.queries.analytics import _rollup_key, _rollup_key_sql, local_buckets

ZONES = ("Australia/Lord_Howe", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Dublin", "UTC")


@pytest.mark.parametrize("granularity", ["day", "hour"])
@pytest.mark.parametrize("tz", ZONES)
def test_sql_and_python_put_every_hour_of_a_year_in_the_same_bucket(tz, granularity):
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    buckets = local_buckets(start, end, ZoneInfo(tz), granularity)
    h0, h1 = int(start.timestamp()) // 3600, int(end.timestamp()) // 3600
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE h (hour INTEGER)")
    db.executemany("INSERT INTO h VALUES (?)", [(h,) for h in range(h0, h1)])
    got = dict(db.execute(f"SELECT hour, {_rollup_key_sql(buckets)} FROM h"))
    want = {h: _rollup_key(buckets, h) for h in range(h0, h1)}
    assert got == want
    assert len(set(want.values())) >= (365 if granularity == "day" else 8760)
