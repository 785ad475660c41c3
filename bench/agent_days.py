"""A 90-day per-agent series in local days: the day rows of usage_agent_day_rollups against the hourly
GROUP BY of usage_agent_rollups (the baseline: what every call did before migration 0017), alternating call
by call in one process, on the dataset ``bench/analytics.py --reuse`` keeps.

For each zone: ``Repository.usage_series_rows(group_by="agent")`` over 90 days ragged at both ends, median
CPU (this process) and wall ms of each way, and both answers compared point by point (they must be equal).
The baseline is the same code with the day rows left out (``_agent_days`` answering "read it hourly").

    .venv/bin/python bench/analytics.py --sessions 1000000 --events 10000000 --reuse --runs 1   # builds
    .venv/bin/python bench/agent_days.py [--sessions 1000000 --events 10000000] [--backends sqlite,postgresql]
                                         [--runs 9] [--zones UTC,America/New_York,...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ZONES = "UTC,America/New_York,Asia/Kolkata,Asia/Tokyo,Pacific/Auckland"


def _url(backend: str, tag: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{Path(tempfile.gettempdir()) / f'hc-bench-analytics-{tag}.db'}"
    from bench.analytics import _pg_schema_url

    return _pg_schema_url(f"hc_bench_analytics_{tag}")


def _timed(fn) -> tuple[float, float, list]:
    c, w = time.process_time(), time.perf_counter()
    rows = fn()
    return (time.process_time() - c) * 1000, (time.perf_counter() - w) * 1000, rows


def _median(samples: list[tuple[float, float]]) -> str:
    cpu = statistics.median(x[0] for x in samples)
    wall = statistics.median(x[1] for x in samples)
    return f"{cpu:6.1f} / {wall:6.1f} ms"


def measure(url: str, zones: list[str], runs: int) -> None:
    from sqlalchemy import text

    from helicarrier.config import load_settings
    from helicarrier.data.queries import analytics
    from helicarrier.webapp import create_app, settle_heap

    settings = load_settings(
        database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="bench", log_level="WARNING"
    )
    repo = create_app(settings).server.config["HELICARRIER"].repo
    settle_heap()
    with repo.engine.connect() as conn:
        top = conn.execute(text("SELECT max(hour) FROM usage_agent_rollups")).scalar()
        stored = conn.execute(text("SELECT sum(events) FROM usage_agent_day_rollups")).scalar()
    print(f"  usage_agent_day_rollups holds {stored:,} events")
    end = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=top - 5, minutes=17)
    start = end - timedelta(days=90)
    with_days = analytics._agent_days

    def hourly(conn, buckets, whole, add):
        return [whole]

    print(f"  {'zone':<20} {'points':>6}  {'hourly CPU / wall':>18}  {'day rows CPU / wall':>20}")
    for tz in zones:
        ways: dict[str, list[tuple[float, float]]] = {"hourly": [], "days": []}
        answers = {}
        for _ in range(runs):
            for way, impl in (("hourly", hourly), ("days", with_days)):
                analytics._agent_days = impl
                try:
                    cpu, wall, rows = _timed(
                        lambda tz=tz: repo.usage_series_rows(start, end, group_by="agent", tz=tz)
                    )
                finally:
                    analytics._agent_days = with_days
                ways[way].append((cpu, wall))
                answers[way] = rows
        assert answers["hourly"] == answers["days"], f"{tz}: the two ways answer differently"
        hourly_ms, days_ms = _median(ways["hourly"]), _median(ways["days"])
        print(f"  {tz:<20} {len(answers['days']):>6}  {hourly_ms:>18}  {days_ms:>20}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--zones", default=ZONES)
    args = ap.parse_args()
    tag = f"{args.sessions}_{args.events}"
    for backend in args.backends.split(","):
        print(f"[{backend}] load average {os.getloadavg()[0]:.2f}  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        measure(_url(backend, tag), args.zones.split(","), args.runs)
        print(f"  load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
