"""Claude Code hook latency: what a developer's session waits for at each hook, beside the native ingest of
the same work as a baseline, in the same run, on a SQLite file under a temp folder.

Posts ``--n`` PreToolUse inputs (distinct tool_use_ids) through the real app's test client and, as the
baseline, the same number of single-event v1 heartbeats to /api/v1/ingest; prints p50/p99/max of each, their
ratio, and how many log lines were stored (one per hook). Then with a pending kill: the latency of the hook
that delivers it.

    .venv/bin/python bench/hooks.py [--n 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from helicarrier.config import load_settings  # noqa: E402
from helicarrier.data.models import LogEvent  # noqa: E402
from helicarrier.webapp import create_app  # noqa: E402


def timed(call) -> float:
    t0 = time.perf_counter()
    resp = call()
    took = (time.perf_counter() - t0) * 1000
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    return took


def figures(ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"p50 {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms, max {ms[-1]:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    settings = load_settings(database_url=f"sqlite:///{tmp}/hc.db", data_dir=tmp, secret_key="bench")
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("dev", "ingest")
    control, _ = ctx.repo.create_token("op", "control")
    client = app.server.test_client()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    path = "/api/v1/hooks/claude-code?agent=bench"
    base = {"session_id": "s-bench", "cwd": "/src", "transcript_path": "/t.jsonl"}
    client.post(path, data=orjson.dumps({**base, "hook_event_name": "SessionStart"}), headers=auth)

    def hook(i: int):
        body = {**base, "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": f"t{i}",
                "tool_input": {"command": f"echo {i}"}}  # fmt: skip
        return client.post(path, data=orjson.dumps(body), headers=auth)

    def native(i: int):
        body = {"version": "v1", "id": f"n{i}", "type": "agent.heartbeat", "agent_id": "bench-native",
                "ts": datetime.now(UTC).isoformat(), "status": "running"}  # fmt: skip
        return client.post("/api/v1/ingest", data=orjson.dumps(body), headers=auth)

    hooks = [timed(lambda i=i: hook(i)) for i in range(args.n)]
    baseline = [timed(lambda i=i: native(i)) for i in range(args.n)]
    with ctx.repo.engine.connect() as conn:
        lines = conn.execute(
            select(func.count()).select_from(LogEvent).where(LogEvent.agent_id == "bench")
        ).scalar()
    kill = {"Authorization": f"Bearer {control}", "Content-Type": "application/json"}
    client.post("/api/v1/agents/bench/kill", data=b'{"reason": "bench"}', headers=kill)
    delivering = timed(lambda: hook(args.n + 1))
    print(f"hooks (PreToolUse, {args.n}):        {figures(hooks)}; log lines stored: {lines}")
    print(f"baseline (v1 heartbeat, {args.n}):   {figures(baseline)}")
    print(f"ratio of medians: {statistics.median(hooks) / statistics.median(baseline):.2f}")
    print(f"the hook that delivers a kill: {delivering:.2f} ms")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
