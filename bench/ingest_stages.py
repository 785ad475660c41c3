"""CPU per event of each step of the ingest service, without a profiler: the steps are wrapped in timers.

    .venv/bin/python bench/ingest_stages.py [--batches 200]

bench/ingest.py's batches (500 events: half OpenAI usage events, half log lines, 50 agents), a real token, a
fresh migrated SQLite file; CPU time (``time.process_time``) per event for the whole service and for each
wrapped step (nested steps count in their callers too). The rows stored are counted in the tables. The
startup heap is frozen after the warm-up, as app.py does in a worker (``settle_heap``).
cProfile (bench/ingest_profile.py) slows every Python call and inflates small recursive functions; this
shows what each step costs as it runs.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_batches  # noqa: E402

SPENT: collections.Counter = collections.Counter()


def _timed(owner, name: str) -> None:
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.process_time() - started

    setattr(owner, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()

    from sqlalchemy import func, select

    import helicarrier.data.queries.ingest as queries
    import helicarrier.ingest.service as service
    from helicarrier.auth.binding import Speaker
    from helicarrier.config import load_settings
    from helicarrier.context import build_context
    from helicarrier.data.models import LogEvent, UsageEvent
    from helicarrier.webapp import settle_heap

    _timed(service, "parse_body")
    _timed(service, "_priced_usage_rows")
    for name in ("_store_events", "_note_source", "_note_drift", "_refuse_unknown_commands"):
        _timed(service.IngestService, name)
    for name in ("store_batch", "_insert_new_agents", "_upsert_sessions", "_insert_usage", "_insert_logs",
                 "_update_agents", "record_ingest_stats"):  # fmt: skip
        _timed(queries.IngestTx, name)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        ctx = build_context(load_settings(database_url=f"sqlite:///{tmp}/stages.db", data_dir=data_dir,
                                          secret_key="stages"))  # fmt: skip
        _timed(ctx.repo, "run_transaction")
        _timed(ctx.fleet, "speak_for")
        _timed(ctx.control, "restart_agents")
        _timed(ctx.control, "flag_ineffective_kills")
        _value, info = ctx.repo.create_token("stages", "ingest")
        speaker = Speaker(info.id, "stages")
        ctx.ingest.ingest(speaker, make_batches(1, 1)[0], None, "/api/v1/ingest")  # warm-up, not counted
        # As a production worker does once its app is built (app.py): the startup heap frozen, out of the
        # collector's sight. Without it each full collection walks ~200k startup objects, and that cost
        # lands on whichever step happens to allocate when one falls due (5-10 us per event, moving
        # between steps when one allocates less).
        settle_heap()
        SPENT.clear()
        bodies = make_batches(0, args.batches)
        events = 500 * len(bodies)
        started = time.process_time()
        for body in bodies:
            status, answer = ctx.ingest.ingest(speaker, body, None, "/api/v1/ingest")
            assert status == 200, answer[:300]
        total = time.process_time() - started
        with ctx.repo.engine.connect() as conn:
            stored = sum(conn.execute(select(func.count()).select_from(m)).scalar_one()
                         for m in (UsageEvent, LogEvent))  # fmt: skip
        ctx.slo.recorder.close()
        ctx.repo.dispose()
    load = os.getloadavg()
    print(f"{events:,} events, {stored:,} rows stored (the warm-up's 500 included); load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(
        f"ingest service: {total * 1e6 / events:6.1f} us of CPU per event "
        f"({events / total:,.0f} events per CPU s)"
    )
    for name, spent in SPENT.most_common():
        print(f"  {name:28} {spent * 1e6 / events:6.1f} us per event")


if __name__ == "__main__":
    main()
