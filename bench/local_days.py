"""Exact local days at the speed of whole-hour zones: the daily (and hourly) usage series in zones whose
offset is not a whole hour, against UTC as the baseline in the same run (issue 12).

Builds (or reuses) the analytics bench's dataset (``bench/analytics.py``'s build: sessions, usage events and
rollups through the drivers' bulk paths), then times ``Repository.usage_series`` for each case, alternating
the zones call by call so that the shared machine's load falls on all of them alike. Prints p50 and the
minimum per case (wall and, for SQLite, in-process CPU) and the ratio of each zone to UTC, and checks that
each zone's days sum to the range's total (the figures are compared, not only timed).

    .venv/bin/python bench/local_days.py [--sessions 200000] [--events 2000000] [--runs 15]
                                         [--backends sqlite,postgresql]

The database is kept for the next run (``bench/analytics.py --reuse``'s file and schema); delete
``/tmp/hc-bench-analytics-*`` and drop the ``hc_bench_analytics_*`` schemas to rebuild.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns")
# (granularity, days, group_by)
CASES = (("day", 90, None), ("day", 90, "agent"), ("day", 7, "model"), ("hour", 3, "agent"))


def _url(backend: str, tag: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{Path(tempfile.gettempdir()) / f'hc-bench-analytics-{tag}.db'}"
    from analytics import _pg_schema_url

    return _pg_schema_url(f"hc_bench_analytics_{tag}")


def _build(backend: str, sessions: int, events: int) -> str:
    """The analytics bench's database of that size: analytics.py builds it (or finds it built) and keeps it
    (``--reuse``); its one measuring run is cheap next to the build."""
    args = [sys.executable, str(ROOT / "bench" / "analytics.py"), "--sessions", str(sessions)]
    args += ["--events", str(events), "--backends", backend, "--runs", "1", "--reuse"]
    subprocess.run(args, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return _url(backend, f"{sessions}_{events}")


def _measure(url: str, runs: int) -> dict:
    from helicarrier.data.repository import Repository

    repo = Repository.from_url(url)
    with repo.engine.connect() as conn:
        from sqlalchemy import text

        last = conn.execute(text("SELECT max(ts) FROM usage_events")).scalar()
    last = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
    end = last.replace(tzinfo=UTC).astimezone(UTC) if last.tzinfo is None else last.astimezone(UTC)
    end = end.replace(hour=0, minute=0, second=0, microsecond=0)
    wall: dict[tuple, list[float]] = {}
    cpu: dict[tuple, list[float]] = {}
    checked = 0
    for _ in range(runs):
        for case in CASES:
            gran, days, group = case
            for tz in ZONES:
                start = end - timedelta(days=days)
                t0, c0 = time.perf_counter(), time.process_time()
                frame = repo.usage_series(start, end, group_by=group, tz=tz, granularity=gran)
                wall.setdefault((case, tz), []).append(time.perf_counter() - t0)
                cpu.setdefault((case, tz), []).append(time.process_time() - c0)
                if group is None and gran == "day" and checked < len(ZONES):
                    # The zone's days hold exactly the range's events, none lost or counted twice.
                    checked += 1
                    total = repo.usage_totals(start, end)
                    assert int(frame["events"].sum()) == total["events"], (tz, frame["events"].sum(), total)
    out = {"load": os.getloadavg()[0], "cases": {}}
    for (case, tz), samples in wall.items():
        out["cases"][f"{case[0]} {case[1]}d by {case[2] or 'all'} | {tz}"] = {
            "p50_ms": statistics.median(samples) * 1000,
            "min_ms": min(samples) * 1000,
            "cpu_p50_ms": statistics.median(cpu[(case, tz)]) * 1000,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=200_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    for backend in args.backends.split(","):
        print(f"[{backend}] building {args.sessions:,} sessions / {args.events:,} events (or reusing)")
        url = _build(backend, args.sessions, args.events)
        load = os.getloadavg()[0]
        m = _measure(url, args.runs)
        print(f"  load average {load:.1f} -> {m['load']:.1f}; {args.runs} runs per case, zones alternating")
        print(f"  {'case':<44} {'p50 ms':>8} {'min ms':>8} {'cpu p50':>8} {'p50 / UTC':>10}")
        for name, r in m["cases"].items():
            base = m["cases"][name.split(" | ")[0] + " | UTC"]
            ratio = r["p50_ms"] / base["p50_ms"] if base["p50_ms"] else float("nan")
            print(f"  {name:<44} {r['p50_ms']:8.1f} {r['min_ms']:8.1f} {r['cpu_p50_ms']:8.1f} {ratio:10.2f}")


if __name__ == "__main__":
    main()
