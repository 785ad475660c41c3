"""Soak: ingest, dashboard reads and control commands together against the real server for a long time.

One ``gunicorn app:server`` (production settings) on a fresh, migrated database, and for ``--seconds``:

* ingest: a client posts v2 batches (session starts, usage priced on the way in, log lines) for 20 agents;
* dashboard: a reader cycles through what the HUD's pages ask for (agents, sessions, usage series, the model
  matrix, alerts), as an open browser tab does;
* control: an operator hands tasks to agents and kills some; each agent polls for its commands with its own
  token, acknowledges them (a kill with the session it stopped) and the operator releases it.

It prints, per kind of request, the count, errors and latency percentiles; the server's resident memory (the
master and its workers) sampled over time; and the baseline in the same run: the first third's latency and
memory against the last third's, after a warm-up. It counts what the database holds against what the server
acknowledged (nothing lost). Ten minutes is the benchmark (``make soak``); CI runs nothing of this.

    .venv/bin/python bench/soak.py [--seconds 600] [--backend sqlite|postgresql] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import PG_URL, _free_port, _payload, _wait_healthy  # noqa: E402

AGENTS = [f"soak-agent-{i:02d}" for i in range(20)]
DASHBOARD = [
    "/api/v1/agents",
    "/api/v1/sessions?limit=50",
    "/api/v1/usage?group_by=model",
    "/api/v1/models/matrix?min_samples=1",
    "/api/v1/alerts",
]


class Recorder:
    """Latencies and errors per kind of request, with the time each was made (for the thirds)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def add(self, kind: str, started: float, seconds: float, status: int, body: bytes, ok=(200,)) -> None:
        with self.lock:
            self.samples[kind].append((started, seconds))
            if status not in ok:
                self.errors[kind].append(f"{status} {body[:160]!r}")


class Client:
    def __init__(self, port: int, token: str, rec: Recorder) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.rec = rec

    def call(self, kind: str, method: str, path: str, body=None, ok=(200,)) -> tuple[int, bytes]:
        payload = orjson.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            resp = self.conn.getresponse()
            status, data = resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            status, data = 0, str(exc).encode()
        self.rec.add(kind, started, time.perf_counter() - started, status, data, ok)
        return status, data


def _now() -> str:
    return datetime.now(UTC).isoformat()


def ingest_loop(client: Client, stop: threading.Event, counts: dict) -> None:
    response = _payload()
    batch_no = 0
    while not stop.is_set():
        batch_no += 1
        events = []
        for i, agent in enumerate(AGENTS[:10]):
            session = f"soak-{agent}-{batch_no // 20}"
            if batch_no % 20 == 1:
                events.append(
                    {
                        "id": f"b{batch_no}-{i}-s",
                        "type": "session.start",
                        "ts": _now(),
                        "agent_id": agent,
                        "session_id": session,
                        "data": {"model": "gpt-4o", "provider": "openai", "task": "soak"},
                    }
                )
            events.append(
                {
                    "id": f"b{batch_no}-{i}-u",
                    "type": "usage",
                    "ts": _now(),
                    "agent_id": agent,
                    "session_id": session,
                    "data": {"provider": "openai", "response": response},
                }
            )
            events.append(
                {
                    "id": f"b{batch_no}-{i}-l",
                    "type": "log",
                    "ts": _now(),
                    "agent_id": agent,
                    "session_id": session,
                    "data": {"level": "info", "message": f"step {batch_no} of {agent}"},
                }
            )
        body = {"version": "v2", "source": {"name": "soak"}, "events": events}
        status, data = client.call("ingest", "POST", "/api/v1/ingest", body)
        if status == 200 and json.loads(data)["accepted"] == len(events):
            counts["accepted"] += sum(e["type"] in ("usage", "log") for e in events)
        stop.wait(0.1)


def dashboard_loop(client: Client, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        path = DASHBOARD[i % len(DASHBOARD)]
        client.call("dashboard " + path.split("?")[0].removeprefix("/api/v1/"), "GET", path)
        i += 1
        stop.wait(0.2)


def control_loop(operator: Client, agent: Client, stop: threading.Event) -> None:
    """Tasks to the other half of the fleet (not the agents the ingest loop restarts); every fifth a kill."""
    i = 0
    while not stop.is_set():
        name = AGENTS[10 + i % 10]
        session = f"ctl-{name}-{i}"
        agent.call(
            "agent session.start",
            "POST",
            "/api/v1/ingest",
            {
                "version": "v1",
                "type": "session.start",
                "agent_id": name,
                "session_id": session,
                "ts": _now(),
                "model": "gpt-4o",
                "provider": "openai",
                "task": "controlled",
            },
        )
        if i % 5 == 4:
            operator.call(
                "control kill",
                "POST",
                f"/api/v1/agents/{name}/kill",
                {"reason": "soak", "strength": "graceful"},
                ok=(200, 201),
            )
        else:
            operator.call(
                "control task",
                "POST",
                f"/api/v1/agents/{name}/tasks",
                {"task": f"task {i}", "mode": "follow_up"},
                ok=(200, 201),
            )
        status, data = agent.call("agent poll", "GET", f"/api/v1/agents/{name}/commands")
        for cmd in json.loads(data).get("commands", []) if status == 200 else []:
            ack = {"agent_id": name, "state": "completed", "session_id": cmd.get("session_id") or session}
            agent.call("agent ack", "POST", f"/api/v1/commands/{cmd['id']}/ack", ack)
            if cmd["kind"] == "kill":
                operator.call("control release", "POST", f"/api/v1/agents/{name}/release", {"reason": "soak"})
        i += 1
        stop.wait(0.5)


def _rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of the master and its worker processes, and of the largest worker, MiB."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    sizes = {}
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[p] = int(line.split()[1]) / 1024
        except OSError:
            pass
    workers = [m for p, m in sizes.items() if p != pid]
    return sum(sizes.values()), max(workers, default=0.0)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _database(backend: str, data_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'soak.db'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"soak_{uuid.uuid4().hex[:8]}"
    with create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def _stored(url: str) -> int:
    from sqlalchemy import func, select

    from helicarrier.data.engine import make_engine
    from helicarrier.data.models import LogEvent, UsageEvent

    engine = make_engine(url)
    with engine.connect() as conn:
        n = sum(
            conn.execute(select(func.count()).select_from(m)).scalar_one() for m in (UsageEvent, LogEvent)
        )
    engine.dispose()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--probe", type=Path, help="directory for each worker's memory probe (bench/memprobe.conf.py)"
    )
    ap.add_argument("--trace", action="store_true", help="with --probe: also trace Python's allocations")
    ap.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="set in the server's environment"
    )
    args = ap.parse_args()

    from helicarrier.data.engine import make_engine
    from helicarrier.data.repository import Repository
    from helicarrier.data.schema import ensure_schema

    data_dir = Path(tempfile.mkdtemp(prefix="hc-soak-"))
    url = _database(args.backend, data_dir)
    engine = make_engine(url)
    ensure_schema(engine)
    repo = Repository(engine)
    tokens = {
        name: repo.create_token(name, scopes)[0]
        for name, scopes in [("agents", "ingest"), ("operator", "control"), ("dashboard", "read")]
    }
    engine.dispose()

    port = _free_port()
    env = {
        **os.environ,
        "HELICARRIER_DATABASE_URL": url,
        "HELICARRIER_DATA_DIR": str(data_dir),
        "HELICARRIER_LOG_LEVEL": "WARNING",
        **dict(pair.split("=", 1) for pair in args.env),
    }
    probe = []
    if args.probe:
        args.probe.mkdir(parents=True, exist_ok=True)
        env["HELICARRIER_PROBE_DIR"] = str(args.probe)
        env["HELICARRIER_PROBE_TRACE"] = "1" if args.trace else ""
        probe = ["-c", str(ROOT / "bench" / "memprobe.conf.py")]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "app:server",
            *probe,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
    )
    rec = Recorder()
    counts = {"accepted": 0}
    memory: list[tuple[float, float]] = []
    try:
        _wait_healthy(port, server)
        stop = threading.Event()
        threads = [
            threading.Thread(target=ingest_loop, args=(Client(port, tokens["agents"], rec), stop, counts)),
            threading.Thread(target=dashboard_loop, args=(Client(port, tokens["dashboard"], rec), stop)),
            threading.Thread(
                target=control_loop,
                args=(Client(port, tokens["operator"], rec), Client(port, tokens["agents"], rec), stop),
            ),
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        while (elapsed := time.perf_counter() - t0) < args.seconds:
            memory.append((elapsed, *_rss_mb(server.pid)))
            time.sleep(min(5.0, args.seconds - elapsed) if args.seconds - elapsed > 0 else 0)
        stop.set()
        for t in threads:
            t.join()
        memory.append((time.perf_counter() - t0, *_rss_mb(server.pid)))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report(args, rec, counts, memory, _stored(url), t0)
    if args.probe:
        probe_report(args.probe, args.seconds * 0.1)


def report(args, rec: Recorder, counts: dict, memory: list, stored: int, t0: float) -> None:
    load = os.getloadavg()
    warm = args.seconds * 0.1
    third = (args.seconds - warm) / 3
    print(
        f"soak: {args.backend}, {args.seconds:.0f} s, {args.workers} workers; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"{'request':28} {'count':>7} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'p95 first':>10} {'p95 last':>9}"
    )
    total = errors = 0
    for kind in sorted(rec.samples):
        rows = rec.samples[kind]
        lat = [s for _, s in rows]
        first = [s for at, s in rows if warm <= at - t0 < warm + third]
        last = [s for at, s in rows if at - t0 >= args.seconds - third]
        n_err = len(rec.errors[kind])
        total, errors = total + len(rows), errors + n_err
        print(
            f"{kind:28} {len(rows):7d} {n_err:6d} {_pct(lat, 0.5):8.1f} {_pct(lat, 0.95):8.1f}"
            f" {_pct(lat, 0.99):8.1f} {_pct(first, 0.95):10.1f} {_pct(last, 0.95):9.1f}"
        )
        for e in rec.errors[kind][:3]:
            print(f"    {e}")
    print(f"error rate: {errors}/{total} = {errors / max(total, 1):.4%}")
    print(
        "server RSS (MiB) over time: "
        + ", ".join(f"{t:.0f}s {m:.0f}" for t, m, _w in memory[:: max(1, len(memory) // 12)])
    )
    print(
        "largest worker RSS (MiB) over time: "
        + ", ".join(f"{t:.0f}s {w:.0f}" for t, _m, w in memory[:: max(1, len(memory) // 12)])
    )
    for label, col in (("server", 1), ("largest worker", 2)):
        after = [row[col] for row in memory if row[0] >= warm]
        n = max(1, len(after) // 3)
        first, last = statistics.mean(after[:n]), statistics.mean(after[-n:])
        print(
            f"{label} RSS after warm-up: first third {first:.1f} MiB, last third {last:.1f} MiB "
            f"({(last / first - 1):+.1%}), peak {max(after):.1f} MiB, at the end {after[-1]:.1f} MiB"
        )
    print(
        f"usage and log events acknowledged {counts['accepted']}, stored (usage + log rows) {stored}"
        f"{'' if stored >= counts['accepted'] else '  LOST EVENTS'}"
    )


def probe_report(directory: Path, warm: float) -> None:
    """Each worker's memory after warm-up, first sample -> last: RSS against what malloc holds in use,
    what it keeps free without returning it, and (traced) what Python's objects hold."""
    fields = ("rss_mib", "heap_mib", "in_use_mib", "free_kept_mib", "mmap_mib", "python_mib")
    for path in sorted(directory.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows = [r for r in rows if r["t"] >= warm] or rows
        if not rows:
            continue
        a, b = rows[0], rows[-1]
        role = "scheduler" if a["scheduler"] else "api"
        parts = [f"{f.removesuffix('_mib')} {a[f]:.0f}->{b[f]:.0f}" for f in fields if f in a]
        print(f"worker {a['pid']} ({role}), {a['t']}-{b['t']} s: " + ", ".join(parts) + " MiB")


if __name__ == "__main__":
    main()
