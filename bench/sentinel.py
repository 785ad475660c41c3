"""One stuck-loop sentinel cycle over a busy fleet: how long it takes.

Builds N running agents through the real ingest service, each with a session started 20 minutes ago, 60 log
lines and 20 model calls in the last 10 minutes (one agent in ten loops: the same line over and over), then
times ``SentinelService.run_cycle``: the first cycle (findings opened, alerted) and later ones (findings
refreshed, nothing new).

    .venv/bin/python bench/sentinel.py [--agents 200] [--rounds 5] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A working agent's lines: a few shapes, none of them most of what it logs.
WORK = (
    "step {k}: calling gpt-4.1",
    "tool call read_file(src/f{k}.py) -> ok",
    "tests: {k} passed",
    "patched f{k}",
)
USAGE = {"provider": "openai", "model": "gpt-4.1", "usage": {"prompt_tokens": 900, "completion_tokens": 80}}


def populate(ctx, n_agents: int, now: datetime) -> None:
    from helicarrier.auth.binding import Speaker

    def ts(minutes_ago: float) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat()

    for i in range(n_agents):
        a, s = f"agent-{i:03d}", f"session-{i:03d}"
        events = [
            {"id": f"hb-{i}", "type": "agent.heartbeat", "ts": ts(0), "agent_id": a,
             "data": {"status": "running"}},
            {"id": f"st-{i}", "type": "session.start", "ts": ts(20), "agent_id": a, "session_id": s,
             "data": {"model": "gpt-4.1", "provider": "openai", "task_kind": "coding"}},
        ]  # fmt: skip
        for k in range(60):
            line = "retry: GET /api/x failed (HTTP 502)" if i % 10 == 0 else WORK[k % len(WORK)].format(k=k)
            events.append({"id": f"l-{i}-{k}", "type": "log", "ts": ts(10 - k / 6), "agent_id": a,
                           "session_id": s, "data": {"message": line}})  # fmt: skip
        for k in range(20):
            events.append({"id": f"u-{i}-{k}", "type": "usage", "ts": ts(10 - k / 2), "agent_id": a,
                           "session_id": s, "data": USAGE})  # fmt: skip
        body = orjson.dumps({"version": "v2", "source": {"name": "bench-sentinel"}, "events": events})
        status, text = ctx.ingest.ingest(Speaker.internal("bench"), body, None, "/bench")
        assert status == 200, text


def run(url: str, args) -> None:
    from helicarrier.config import load_settings
    from helicarrier.context import build_context

    ctx = build_context(
        load_settings(
            database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="x", log_level="WARNING"
        )
    )
    now = datetime.now(UTC)
    populate(ctx, args.agents, now)
    times = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        report = ctx.sentinel.run_cycle(now + timedelta(seconds=r))
        times.append((time.perf_counter() - t0) * 1000)
        if r == 0:
            opened = len(report.opened)
            print(f"  first cycle  : {times[0]:8.1f} ms, {opened} findings opened, {report.agents} agents")
    later = times[1:] or times
    print(f"  later cycles : median {statistics.median(later):8.1f} ms over {len(later)}")
    ctx.repo.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="sqlite")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared)")
    for backend in args.backends.split(","):
        print(f"{backend}, {args.agents} agents:")
        if backend == "sqlite":
            run(f"sqlite:///{tempfile.mkdtemp()}/bench.db", args)
        else:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
            name = f"hc_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as c:
                c.execute(text(f'CREATE SCHEMA "{name}"'))
            try:
                url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
                run(url.render_as_string(hide_password=False), args)
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
                admin.dispose()
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
