"""Hero Grid refresh at 500 agents: the server-side time of one refresh, and what it sends.

Builds 500 agents with running sessions through the real ingest service, then times the grid callback's
function (snapshot query + cards + diff + Patch) for: the first full render, a refresh where nothing
changed, and a refresh after 10 agents changed (their task) while all 500 sent heartbeats.

    .venv/bin/python bench/hero_grid.py [--agents 500] [--rounds 50] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _batch(events: list[dict]) -> bytes:
    return orjson.dumps({"version": "v2", "source": {"name": "bench-grid"}, "events": events})


def populate(ctx, n_agents: int) -> None:
    from helicarrier.auth.binding import Speaker

    payload = json.loads((ROOT / "fixtures/providers/openai_chat__full.json").read_text())["payload"]
    now = datetime.now(UTC).isoformat()
    events = []
    for i in range(n_agents):
        a, s = f"agent-{i:03d}", f"session-{i:03d}"
        events += [
            {
                "id": f"hb-{i}",
                "type": "agent.heartbeat",
                "ts": now,
                "agent_id": a,
                "data": {"status": "running", "labels": {"team": f"t{i % 5}"}},
            },
            {
                "id": f"st-{i}",
                "type": "session.start",
                "ts": now,
                "agent_id": a,
                "session_id": s,
                "data": {"model": "gpt-4.1", "provider": "openai", "task": f"task {i}"},
            },
            {
                "id": f"u-{i}",
                "type": "usage",
                "ts": now,
                "agent_id": a,
                "session_id": s,
                "data": {"provider": "openai", "response": payload},
            },
        ]
    for k in range(0, len(events), 500):
        status, body = ctx.ingest.ingest(
            Speaker.internal("bench"), _batch(events[k : k + 500]), None, "/bench"
        )
        assert status == 200, body


def touch(ctx, n_agents: int, changed: int, round_no: int) -> None:
    from helicarrier.auth.binding import Speaker

    now = datetime.now(UTC).isoformat()
    events = [
        {
            "id": f"r{round_no}-hb-{i}",
            "type": "agent.heartbeat",
            "ts": now,
            "agent_id": f"agent-{i:03d}",
            "data": {"status": "running"},
        }
        for i in range(n_agents)
    ]
    for i in range(changed):
        events[i]["data"]["current_task"] = f"round {round_no} task {i}"
    status, body = ctx.ingest.ingest(Speaker.internal("bench"), _batch(events), None, "/bench")
    assert status == 200, body


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t0) * 1000, out


def size_of(component) -> int:
    import plotly.io.json as pj

    return len(pj.to_json_plotly(component))


def run(url: str, args) -> None:
    from helicarrier.callbacks.watchtower import refresh_grid
    from helicarrier.config import load_settings
    from helicarrier.context import build_context

    ctx = build_context(
        load_settings(
            database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="x", log_level="WARNING"
        )
    )
    populate(ctx, args.agents)
    first_ms, out = timed(refresh_grid, ctx, None, None, None, "name", None, {}, [])
    grid, shown, hb_patch, *_ = out
    hb = _apply_hb({}, hb_patch)
    print(f"  first render : {first_ms:7.1f} ms, {size_of(grid) / 1024:7.1f} KiB sent ({len(grid)} cards)")
    idle, changed, sizes = [], [], []
    for r in range(args.rounds):
        ms, out = timed(refresh_grid, ctx, None, None, None, "name", shown, hb, [])
        idle.append(ms)
        touch(ctx, args.agents, 10, r)
        ms, out = timed(refresh_grid, ctx, None, None, None, "name", shown, hb, [])
        changed.append(ms)
        grid_patch, shown, hb_patch, *_ = out
        sizes.append(sum(size_of(x) for x in (grid_patch, hb_patch) if hasattr(x, "to_plotly_json")))
        hb = _apply_hb(hb, hb_patch)  # what the browser holds after applying the patch

    def p(xs, q):
        return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else xs[0]

    print(f"  no change    : p50 {p(idle, 50):6.1f} ms  p95 {p(idle, 95):6.1f} ms")
    print(
        f"  10 changed   : p50 {p(changed, 50):6.1f} ms  p95 {p(changed, 95):6.1f} ms, "
        f"{statistics.median(sizes) / 1024:.1f} KiB sent (10 cards + {args.agents} heartbeats)"
    )
    ctx.repo.dispose()


def _apply_hb(hb: dict, patch) -> dict:
    if not hasattr(patch, "to_plotly_json"):
        return hb
    out = dict(hb)
    for op in patch.to_plotly_json()["operations"]:
        if op["operation"] == "Assign":
            out[op["location"][0]] = op["params"]["value"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    print(
        f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.agents} agents, {args.rounds} rounds"
    )
    for backend in args.backends.split(","):
        print(f"[{backend}]")
        if backend == "sqlite":
            run(f"sqlite:///{tempfile.mkdtemp()}/grid.db", args)
            continue
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
        name = f"hc_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{name}"'))
        try:
            run(
                make_url(PG_URL)
                .update_query_dict({"options": f"-csearch_path={name}"})
                .render_as_string(hide_password=False),
                args,
            )
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


if __name__ == "__main__":
    main()
