"""Ingest throughput: the real server (gunicorn, production settings) against the raw bulk-insert path.

For each backend (a fresh SQLite file; a throwaway schema on the test PostgreSQL):
1. start ``gunicorn app:server`` (sync workers, one per core) on a migrated, empty database;
2. post v2 batches of 500 events from several client processes, over keep-alive HTTP connections, and
   count events/s from the first request to the last 2xx (each 2xx is sent only after the commit);
3. in the same run, insert the same number of rows straight into the same tables with the driver's bulk
   path (sqlite3 ``executemany`` in one transaction; PostgreSQL ``COPY``) and print the ratio;
4. on SQLite, post the same batches with the same clients to bench/bare_receiver.py (parse, one
   ``executemany`` into one indexed table per request) under the same gunicorn: the baseline the ingest
   target is set against. Every rate counts the rows in the tables, not the answers' ``accepted``.

    .venv/bin/python bench/ingest.py [--events 200000] [--clients 4] [--workers 2]
                                     [--backends sqlite,postgresql] [--no-bare]

The event mix is half usage events (a real OpenAI chat completion, normalized and priced on the way in)
and half log lines, spread over 50 agents.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import socket
import subprocess
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
BATCH = 500
AGENTS = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _payload() -> dict:
    return json.loads((ROOT / "fixtures/providers/openai_chat__full.json").read_text())["payload"]


def make_batches(client: int, n_batches: int) -> list[bytes]:
    payload = _payload()
    ts = datetime.now(UTC).isoformat()
    bodies = []
    for b in range(n_batches):
        events = []
        for i in range(BATCH):
            agent = f"bench-agent-{(client * 7 + i) % AGENTS}"
            session = f"bench-s-{client}-{b}-{i % 10}"
            # Time-ordered ids keep the unique index appends cheap, as real clients' UUIDv7s do.
            eid = f"{client:02d}{b:06d}{i:04d}"
            if i % 2 == 0:
                data = {"provider": "openai", "response": payload}
                events.append(
                    {
                        "id": eid,
                        "type": "usage",
                        "ts": ts,
                        "agent_id": agent,
                        "session_id": session,
                        "data": data,
                    }
                )
            else:
                data = {"level": "info", "message": f"step {i} complete: wrote tests/billing/test_invoice.py"}
                events.append(
                    {
                        "id": eid,
                        "type": "log",
                        "ts": ts,
                        "agent_id": agent,
                        "session_id": session,
                        "data": data,
                    }
                )
        bodies.append(
            orjson.dumps({"version": "v2", "source": {"name": f"bench-{client}"}, "events": events})
        )
    return bodies


def client_proc(port: int, token: str, bodies: list[bytes], start_evt, out_q) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start_evt.wait()
    done = 0
    errors = 0
    for body in bodies:
        conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status == 200:
            done += json.loads(data)["accepted"]
        else:
            errors += 1
            if errors < 3:
                print(f"  client error {resp.status}: {data[:200]!r}", file=sys.stderr)
    out_q.put((done, errors, time.perf_counter()))


def run_clients(target, port: int, token: str, bodies: list[list[bytes]]) -> dict:
    """One client process per list of bodies, all released at once; from the release to the last answer:
    {items, errors, seconds, per_s}. ``target(port, token, bodies, start_evt, out_q)`` puts (done, errors,
    its end time) on ``out_q``."""
    start_evt = mp.Event()
    out_q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=target, args=(port, token, b, start_evt, out_q)) for b in bodies]
    for p in procs:
        p.start()
    time.sleep(0.5)
    t0 = time.perf_counter()
    start_evt.set()
    results = [out_q.get() for _ in procs]
    for p in procs:
        p.join()
    seconds = max(r[2] for r in results) - t0
    done = sum(r[0] for r in results)
    return {"items": done, "errors": sum(r[1] for r in results), "seconds": seconds, "per_s": done / seconds}


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def prepare_database(url: str, data_dir: Path) -> str:
    from helicarrier.data.engine import make_engine
    from helicarrier.data.repository import Repository
    from helicarrier.data.schema import ensure_schema

    engine = make_engine(url)
    ensure_schema(engine)
    token, _ = Repository(engine).create_token("bench", "ingest")
    engine.dispose()
    return token


def checkpoint(url: str) -> None:
    """PostgreSQL: write every dirty page now (``CHECKPOINT``, superuser), so that each run measured starts
    from the same state: under this load max_wal_size sets one off every ~20 s, and the pages written after
    one log whole images."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()


def post_all(target: str, env: dict, token: str, args) -> dict:
    """Serve ``target`` under gunicorn (sync workers) and post every client's batches to it; the events the
    answers acknowledged and the seconds from the first request to the last answer."""
    port = _free_port()
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        target,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "sync",
        # One thread, or gunicorn quietly makes the workers gthread (gunicorn.conf.py asks for 8 threads),
        # keeps each client's connection alive on one worker, and half the runs had both clients on the same
        # one: 17,000 events/s against 29,000 with the other worker idle. A sync worker closes each
        # connection, so every request goes to whichever worker is free, as a fleet of agents spreads them.
        "--threads",
        "1",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env)
    try:
        _wait_healthy(port, server)
        per_client = args.events // BATCH // args.clients
        bodies = [make_batches(c, per_client) for c in range(args.clients)]
        run = run_clients(client_proc, port, token, bodies)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return {"acknowledged": run["items"], "errors": run["errors"], "seconds": run["seconds"]}


def http_run(url: str, args, data_dir: Path) -> dict:
    from sqlalchemy import func, select

    from helicarrier.data.engine import make_engine
    from helicarrier.data.models import LogEvent, UsageEvent

    token = prepare_database(url, data_dir)
    checkpoint(url)
    env = {
        **os.environ,
        "HELICARRIER_DATABASE_URL": url,
        "HELICARRIER_DATA_DIR": str(data_dir),
        "HELICARRIER_LOG_LEVEL": "WARNING",
        "HELICARRIER_AUTO_MIGRATE": "0",
    }
    run = post_all("app:server", env, token, args)
    # What the tables hold, not what the answers said.
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (UsageEvent, LogEvent)
        )
    engine.dispose()
    return {**run, "events": stored, "events_per_s": stored / run["seconds"]}


def bare_run(args, data_dir: Path) -> dict:
    """bench/bare_receiver.py under the same gunicorn and clients: the baseline of the same run."""
    import sqlite3

    db = data_dir / "bare.db"
    env = {**os.environ, "BARE_DB": str(db)}
    run = post_all("bench.bare_receiver:app", env, "unused", args)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    return {**run, "events": stored, "events_per_s": stored / run["seconds"]}


def _bulk_rows(n: int):
    """The rows the HTTP run stored, as the bulk path would write them (normalized and priced in advance)."""
    from helicarrier.ingest.normalize import normalize_usage
    from helicarrier.ingest.service import usage_row
    from helicarrier.pricing import PriceBook

    now = datetime.now(UTC)
    data = {"provider": "openai", "response": _payload()}
    u = normalize_usage(data)
    row = usage_row(u, PriceBook().price(u, now), data)
    usage, logs = [], []
    for i in range(n):
        agent = f"bulk-agent-{i % AGENTS}"
        if i % 2 == 0:
            usage.append(
                {
                    **row,
                    "source": "bulk",
                    "event_id": f"b{i:012d}",
                    "agent_id": agent,
                    "session_id": f"bulk-s-{i % 1000}",
                    "ts": now,
                    "received_at": now,
                }
            )
        else:
            logs.append(
                {
                    "source": "bulk",
                    "event_id": f"b{i:012d}",
                    "agent_id": agent,
                    "session_id": f"bulk-s-{i % 1000}",
                    "ts": now,
                    "received_at": now,
                    "level": "info",
                    "message": f"step {i} complete: wrote tests/billing/test_invoice.py",
                    "attrs": None,
                }
            )
    return usage, logs


def bulk_run(url: str, n: int) -> dict:
    """The driver's own bulk path into the same (indexed) tables: the ceiling for the HTTP path."""
    from helicarrier.data.engine import make_engine
    from helicarrier.data.schema import ensure_schema

    engine = make_engine(url)
    ensure_schema(engine)
    usage, logs = _bulk_rows(n)
    checkpoint(url)
    ucols = list(usage[0])
    lcols = list(logs[0])
    day = int(time.time()) // 86400  # the day each id was first seen, as the ingest path writes it
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        t0 = time.perf_counter()
        if engine.dialect.name == "sqlite":

            def conv(v):
                if isinstance(v, datetime):
                    return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                if isinstance(v, (dict, list)):
                    return orjson.dumps(v).decode()
                return v

            cur.execute("BEGIN")
            cur.executemany(
                "INSERT INTO ingest_event_ids (source, event_id, seen_day) VALUES (?, ?, ?)",
                [(r["source"], r["event_id"], day) for r in usage + logs],
            )
            cur.executemany(
                f"INSERT INTO usage_events ({', '.join(ucols)}) VALUES ({', '.join('?' * len(ucols))})",
                [tuple(conv(r[c]) for c in ucols) for r in usage],
            )
            cur.executemany(
                f"INSERT INTO log_events ({', '.join(lcols)}) VALUES ({', '.join('?' * len(lcols))})",
                [tuple(conv(r[c]) for c in lcols) for r in logs],
            )
            cur.execute("COMMIT")
        else:
            from psycopg.types.json import Jsonb

            def conv(v):
                return Jsonb(v) if isinstance(v, (dict, list)) else v

            with cur.copy("COPY ingest_event_ids (source, event_id, seen_day) FROM STDIN") as cp:
                for r in usage + logs:
                    cp.write_row((r["source"], r["event_id"], day))
            with cur.copy(f"COPY usage_events ({', '.join(ucols)}) FROM STDIN") as cp:
                for r in usage:
                    cp.write_row(tuple(conv(r[c]) for c in ucols))
            with cur.copy(f"COPY log_events ({', '.join(lcols)}) FROM STDIN") as cp:
                for r in logs:
                    cp.write_row(tuple(conv(r[c]) for c in lcols))
            raw.commit()
        dt = time.perf_counter() - t0
    finally:
        raw.close()
        engine.dispose()
    return {"rows": n, "seconds": dt, "rows_per_s": n / dt}


def throwaway_schemas(n: int, names: list[str]):
    """``n`` new schemas on the test PostgreSQL (their names appended to ``names`` as they are made, so that
    a failure half-way still drops them) -> (an AUTOCOMMIT admin engine, a URL per schema)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    urls = []
    for _ in range(n):
        name = f"hc_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{name}"'))
        names.append(name)
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
        urls.append(url.render_as_string(hide_password=False))
    return admin, urls


def drop_schemas(admin, names: list[str]) -> None:
    from sqlalchemy import text

    with admin.connect() as c:
        for name in names:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--no-bare",
        dest="bare",
        action="store_false",
        help="skip the bare receiver (bench/bare_receiver.py), SQLite's baseline in the same run",
    )
    args = ap.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"events: {args.events} in batches of {BATCH}, {args.clients} client processes, "
        f"{args.workers} gunicorn sync workers"
    )
    admin = None
    for backend in args.backends.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"hc-bench-{backend}-"))
        schemas = []
        try:
            if backend == "sqlite":
                http_url, bulk_url = f"sqlite:///{tmp / 'http.db'}", f"sqlite:///{tmp / 'bulk.db'}"
            else:
                admin, urls = throwaway_schemas(2, schemas)
                http_url, bulk_url = urls
            h = http_run(http_url, args, tmp)
            b = bulk_run(bulk_url, h["events"] or args.events)
            print(f"\n[{backend}] load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(
                f"  HTTP ingest : {h['events']:>8} events stored in {h['seconds']:.2f} s = "
                f"{h['events_per_s']:>9,.0f} events/s"
                f"  ({h['acknowledged']} acknowledged, {h['errors']} failed requests)"
            )
            if backend == "sqlite" and args.bare:
                bare = bare_run(args, tmp)
                print(
                    f"  bare recv.  : {bare['events']:>8} events stored in {bare['seconds']:.2f} s = "
                    f"{bare['events_per_s']:>9,.0f} events/s  ({bare['errors']} failed requests)"
                )
                print(f"  ratio       : {h['events_per_s'] / bare['events_per_s']:.0%} of the bare receiver")
            print(
                f"  bulk insert : {b['rows']:>8} rows   in {b['seconds']:.2f} s = "
                f"{b['rows_per_s']:>9,.0f} rows/s"
            )
            print(f"  ratio       : {h['events_per_s'] / b['rows_per_s']:.0%} of the raw bulk-insert rate")
        finally:
            if admin is not None:
                drop_schemas(admin, schemas)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
