"""What /metrics costs (issue 15): a scrape against a database of many agents and commands (the gauges are
read at scrape time), and the instrumentation on the ingest path, per call, in-process and in prometheus-
client's multiprocess mode (values in mmap files, as under gunicorn).

    .venv/bin/python bench/metrics.py [--agents 1000] [--commands 100000] [--backends sqlite,postgresql]

PostgreSQL: a throwaway schema in HELICARRIER_TEST_POSTGRES_URL's database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _median_ms(run, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def scrape(backend: str, agents: int, commands: int) -> None:
    from sqlalchemy import create_engine, insert, text

    from helicarrier.data.engine import make_engine
    from helicarrier.data.models import Agent, Command
    from helicarrier.data.repository import Repository
    from helicarrier.data.schema import ensure_schema
    from helicarrier.observability.scrape import exposition

    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    else:
        schema = f"hc_bench_metrics_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        now = datetime.now(UTC)
        kinds = ("kill", "inject", "model")
        states = ("completed", "expired", "failed", "pending", "cancelled")
        with engine.begin() as conn:
            conn.execute(
                insert(Agent),
                [{"id": f"a{i}", "name": f"a{i}", "status": "running",
                  "last_heartbeat_at": now - timedelta(seconds=i % 120)} for i in range(agents)],
            )  # fmt: skip
            for start in range(0, commands, 20_000):
                conn.execute(
                    insert(Command),
                    [{"id": str(uuid.uuid4()), "agent_id": f"a{i % agents}", "kind": kinds[i % 3],
                      "state": states[i % 5], "issued_by": "bench", "created_at": now, "expires_at": now,
                      "updated_at": now} for i in range(start, min(commands, start + 20_000))],
                )  # fmt: skip
        repo = Repository(engine)
        exposition(repo, 60)
        ms = _median_ms(lambda: exposition(repo, 60), 20)
        print(f"scrape [{backend}] {agents:,} agents, {commands:,} commands: median {ms:.1f} ms")
    finally:
        engine.dispose()
        if schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def hot_path(mode: str) -> None:
    """Per-call cost of what an ingest request adds: a timed repository call, the request's counter and
    histogram, and the events of a 100-event batch."""
    from helicarrier.observability import metrics

    timed = metrics.timed(metrics.DB_QUERY, "bench.noop", lambda: None)
    batch = [("usage", "accepted", "")] * 90 + [("log", "duplicate", "")] * 10
    n = 20_000
    t = time.perf_counter()
    for _ in range(n):
        timed()
    per_timed = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        metrics.finish_request("/api/v1/ingest", 200, 0.003)
    per_request = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n // 10):
        metrics.count_events(batch)
    per_batch = (time.perf_counter() - t) / (n // 10) * 1e6
    print(
        f"hot path [{mode}]: timed repository call {per_timed:.1f} µs, request counter+histogram "
        f"{per_request:.1f} µs, events of a 100-event batch {per_batch:.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--hot-path-only", metavar="MODE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hot_path_only:
        hot_path(args.hot_path_only)
        return
    for backend in args.backends.split(","):
        scrape(backend, args.agents, args.commands)
    hot_path("in-process")
    # Multiprocess mode is chosen when prometheus-client is imported: a child process with the variable set.
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        subprocess.run([sys.executable, __file__, "--hot-path-only", "multiprocess"], env=env, check=True)


if __name__ == "__main__":
    main()
