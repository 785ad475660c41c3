"""Where an ingest request's time goes: the ingest service (what a worker runs per POST, without HTTP)
under cProfile, its self time grouped by stage.

    .venv/bin/python bench/ingest_profile.py [--batches 200] [--backend sqlite|postgresql] [--top 25]

The batches are bench/ingest.py's (500 events: half OpenAI usage events, half log lines, 50 agents), sent by
a real token (binding checked) to a migrated, empty database. Prints each stage's share of the CPU time,
the functions that cost most, and the rows stored (counted in the tables, not taken from the answers).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import PG_URL, make_batches  # noqa: E402

# First match wins: (stage, what a profiled function's file path contains). Built-in functions (sqlite3's
# executemany and commit, orjson.loads, dict.get, ...) count for the stage of the function that called them.
STAGES = (
    ("validation (pydantic, envelope, depth, NUL)", ("pydantic", "helicarrier/ingest/validate",
                                                     "helicarrier/ingest/schemas", "helicarrier/jsonio")),
    ("normalization", ("helicarrier/ingest/normalize", "helicarrier/ingest/providers",
                       "helicarrier/usage_fields", "helicarrier/ingest/documented")),
    ("unknown-field drift", ("helicarrier/ingest/drift",)),
    ("pricing", ("helicarrier/pricing", "genai_prices")),
    ("rollups and folding", ("rollups", "helicarrier/ingest/fold")),
    ("SQL (SQLAlchemy, driver, commit)", ("sqlalchemy", "sqlite3", "psycopg", "helicarrier/data")),
    ("ingest service (outcome, answer)", ("helicarrier/ingest",)),
)  # fmt: skip


def stage_of(filename: str) -> str:
    for stage, needles in STAGES:
        if any(n in filename for n in needles):
            return stage
    return "other"


def database_url(backend: str, tmp: str) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp}/profile.db", None
    schema = f"profile_{uuid.uuid4().hex[:8]}"
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    from sqlalchemy import create_engine, text

    from helicarrier.auth.binding import Speaker
    from helicarrier.config import load_settings
    from helicarrier.context import build_context

    with tempfile.TemporaryDirectory() as tmp:
        url, schema = database_url(args.backend, tmp)
        if schema:
            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            settings = load_settings(database_url=url, data_dir=data_dir, secret_key="profile")
            ctx = build_context(settings)  # migrates the empty database, as `make run` does
            _value, info = ctx.repo.create_token("profile", "ingest")
            speaker = Speaker(info.id, "profile")
            bodies = make_batches(0, args.batches)
            # One batch first, outside the profile: imports, the price book's first load, prepared SQL.
            ctx.ingest.ingest(speaker, make_batches(1, 1)[0], None, "/api/v1/ingest")
            profiler = cProfile.Profile()
            started, cpu = time.perf_counter(), time.process_time()
            profiler.enable()
            for body in bodies:
                status, answer = ctx.ingest.ingest(speaker, body, None, "/api/v1/ingest")
                assert status == 200, answer[:300]
            profiler.disable()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            report(profiler, args, wall, cpu, ctx)
            ctx.slo.recorder.close()
            ctx.repo.dispose()
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def report(profiler: cProfile.Profile, args, wall: float, cpu: float, ctx) -> None:
    from sqlalchemy import func, select

    from helicarrier.data.models import LogEvent, UsageEvent

    stats = pstats.Stats(profiler)
    by_stage: dict[str, float] = defaultdict(float)
    total = 0.0
    rows = []
    for (filename, line, name), (_cc, _nc, tottime, cumtime, callers) in stats.stats.items():
        total += tottime
        rows.append((tottime, cumtime, f"{Path(filename).name}:{line} {name}"))
        if filename != "~" or not callers:
            by_stage[stage_of(filename)] += tottime
            continue
        # A built-in: its time split over its callers, by the time each call site spent in it.
        spent = sum(c[2] for c in callers.values()) or 1.0
        for (caller_file, _l, _n), c in callers.items():
            by_stage[stage_of(caller_file)] += tottime * c[2] / spent
    events = args.batches * 500
    with ctx.repo.engine.connect() as conn:
        usage = conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one()
        logs = conn.execute(select(func.count()).select_from(LogEvent)).scalar_one()
    load = os.getloadavg()
    print(
        f"backend {args.backend}; {args.batches} batches of 500 ({events:,} events); load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"stored: {usage:,} usage events + {logs:,} log lines (the warm-up batch's 500 included)")
    print(
        f"wall {wall:.2f} s, CPU {cpu:.2f} s: {events / cpu:,.0f} events per CPU second "
        f"(under the profiler, which slows Python calls; the shares are what counts)"
    )
    print("\nself time by stage (wall clock: a commit waiting on the disk counts):")
    for stage, t in sorted(by_stage.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<46} {t:7.2f} s  {t / total:6.1%}")
    print(f"\ntop {args.top} functions by self time:")
    for tottime, cumtime, where in sorted(rows, reverse=True)[: args.top]:
        print(f"  {tottime:7.3f} s self  {cumtime:7.3f} s cum  {where}")


if __name__ == "__main__":
    main()
