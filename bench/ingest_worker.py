"""One gunicorn worker under bench/ingest.py's HTTP load: its CPU per event, and optionally a py-spy profile.

    .venv/bin/python bench/ingest_worker.py [--events 100000] [--clients 2] [--py-spy OUT [--gil]]
                                            [--backend sqlite|postgresql]

``gunicorn app:server`` with production settings and ONE worker (so that every request lands in the process
measured) on a fresh migrated SQLite file (or a throwaway schema on the test PostgreSQL); bench/ingest.py's
batches from ``--clients`` processes. Prints the worker's CPU time (user + system, from /proc) per event
stored: the whole request, HTTP, Flask and the ingest service, SQLite's C work and the scheduler's threads
included. That is less sensitive to other load on the machine than a rate. On PostgreSQL it also prints the
CPU the server's processes spent in the same time (every ``postgres`` process on the machine: keep it
otherwise idle). With ``--py-spy OUT``, ``py-spy record --format raw`` (collapsed stacks) is
attached to the worker for the load (``pip install py-spy``; not a project dependency); ``--gil`` keeps
only the samples that held the GIL.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    BATCH,
    _free_port,
    _wait_healthy,
    checkpoint,
    client_proc,
    drop_schemas,
    make_batches,
    prepare_database,
    run_clients,
    throwaway_schemas,
)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every ``postgres`` process now running (backends, WAL writer, checkpointer...)."""
    out = {}
    for pid in subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # ended in between
            out[int(pid)] = _cpu_seconds(int(pid))
    return out


def _worker_pid(master: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def _post(port: int, token: str, bodies: list[bytes]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body in bodies:
        conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--py-spy", dest="spy_out", help="write py-spy's collapsed stacks here")
    ap.add_argument("--gil", action="store_true", help="py-spy: only samples that held the GIL")
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hc-worker-"))
    schemas: list[str] = []
    admin = None
    try:
        if args.backend == "postgresql":
            admin, (url,) = throwaway_schemas(1, schemas)
        else:
            url = f"sqlite:///{tmp / 'http.db'}"
        _measure(args, tmp, url)
    finally:
        if admin is not None:
            drop_schemas(admin, schemas)
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(args, tmp: Path, url: str) -> None:
    token = prepare_database(url, tmp)
    checkpoint(url)  # PostgreSQL: not one falling due in the middle of the load
    env = {**os.environ, "HELICARRIER_DATABASE_URL": url, "HELICARRIER_DATA_DIR": str(tmp),
           "HELICARRIER_LOG_LEVEL": "WARNING", "HELICARRIER_AUTO_MIGRATE": "0"}  # fmt: skip
    port = _free_port()
    cmd = [sys.executable, "-m", "gunicorn", "app:server", "--bind", f"127.0.0.1:{port}", "--workers", "1",
           "--keep-alive", "30", "--log-level", "warning", "--timeout", "120"]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    spy = None
    try:
        _wait_healthy(port, server)
        worker = _worker_pid(server.pid)
        _post(port, token, make_batches(99, 2))  # warm-up: imports, pricing tables, compiled statements
        per_client = args.events // BATCH // args.clients
        bodies = [make_batches(c, per_client) for c in range(args.clients)]
        if args.spy_out:
            spy_cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(worker), "--rate",
                       "250", "--format", "raw", "-o", args.spy_out, "--nonblocking"]  # fmt: skip
            spy = subprocess.Popen(spy_cmd + (["--gil"] if args.gil else []), stdout=subprocess.DEVNULL)
            time.sleep(1.5)
        pg0 = _postgres_cpu() if args.backend == "postgresql" else {}
        cpu0 = _cpu_seconds(worker)
        run = run_clients(client_proc, port, token, bodies)
        acknowledged, seconds = run["items"], run["seconds"]
        cpu = _cpu_seconds(worker) - cpu0
        pg1 = _postgres_cpu() if args.backend == "postgresql" else {}
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    load = os.getloadavg()
    print(f"{acknowledged:,} events in {seconds:.2f} s = {acknowledged / seconds:,.0f} events/s, one worker; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"worker CPU: {cpu * 1e6 / acknowledged:.1f} us per event ({cpu:.2f} s)")
    if pg1:
        server_cpu = sum(t - pg0.get(pid, 0.0) for pid, t in pg1.items())
        print(f"PostgreSQL CPU: {server_cpu * 1e6 / acknowledged:.1f} us per event ({server_cpu:.2f} s)")


if __name__ == "__main__":
    main()
