"""Rollup upkeep of an ingest batch (``add_usage``) with every usage rollup table against the baseline
without one of them (``--without``: the newest, usage_agent_day_rollups, by default; usage_quarter_rollups
was the one measured when it came), alternating in one run on a fresh SQLite file: ms of CPU per batch
folded to 30 keys (10 agents x 3 models over 2 quarter hours), and the events that table and usage_rollups
then hold (the left-out table only the second arm's).

    .venv/bin/python bench/rollup_upkeep.py [--batches 300] [--rounds 3] [--without TABLE]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from helicarrier.data.engine import make_engine  # noqa: E402
from helicarrier.data.queries import rollups  # noqa: E402
from helicarrier.data.rollups import USAGE_SUMS  # noqa: E402
from helicarrier.data.schema import ensure_schema  # noqa: E402


def _batch(rng: random.Random, quarter: int) -> dict[tuple, list[int]]:
    folded = {}
    for a in range(10):
        for m in range(3):
            key = (quarter + rng.randrange(2), f"agent-{a}", f"model-{m}", "openai")
            folded[key] = [rng.randrange(1, 50) for _ in USAGE_SUMS]
    return folded


def _without(left_out: str):
    def add_usage(conn, folded) -> None:
        real = rollups.upsert_sums

        def others_only(conn, table, keys, sums, rows):
            if table != left_out:
                real(conn, table, keys, sums, rows)

        rollups.upsert_sums = others_only
        try:
            rollups.add_usage(conn, folded)
        finally:
            rollups.upsert_sums = real

    return add_usage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--without", default="usage_agent_day_rollups", help="the table the baseline leaves out")
    args = ap.parse_args()
    engine = make_engine(f"sqlite:///{Path(tempfile.mkdtemp()) / 'upkeep.db'}")
    ensure_schema(engine, auto_migrate=True)
    rng = random.Random(1)
    quarter = 1_960_000
    results: dict[str, list[float]] = {f"without {args.without} (baseline)": [], "every table": []}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, fn in zip(results, (_without(args.without), rollups.add_usage), strict=True):
            t = time.process_time()
            for _ in range(args.batches):
                with engine.begin() as conn:
                    fn(conn, _batch(rng, quarter))
                quarter += 1
            results[name].append((time.process_time() - t) / args.batches * 1000)
    print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}; {args.rounds} x {args.batches} batches each")
    for name, ms in results.items():
        print(f"  {name:<48} {', '.join(f'{x:.2f}' for x in ms)} ms CPU per batch")
    with engine.connect() as conn:
        for table in (args.without, "usage_rollups"):
            events = conn.execute(text(f"SELECT sum(events) FROM {table}")).scalar()
            print(f"  {table}: {events:,} events summed")


if __name__ == "__main__":
    main()
