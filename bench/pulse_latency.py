"""System Pulse latency: from the POST of a log line to its row on the screen, in headless Chromium.

Starts the real server (gunicorn, production settings) on a fresh SQLite file (or the URL given), signs in
through the login form, then posts one log line at a time over HTTP and records, with a MutationObserver in
the page, the moment its row is added to the pulse. Both clocks are the machine's wall clock.

    .venv/bin/python bench/pulse_latency.py [--lines 60] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser_cpu import chrome, sign_in  # noqa: E402
from bench.ingest import _free_port, _wait_healthy  # noqa: E402

OBSERVER = """
window.hcSeen = {};
new MutationObserver(function (muts) {
  var now = Date.now();
  muts.forEach(function (m) { m.addedNodes.forEach(function (n) {
    var t = n.textContent || ""; var i = t.indexOf("mark-");
    if (i >= 0) { window.hcSeen[t.substr(i, 41)] = now; }
  }); });
}).observe(document.getElementById(arguments[0]), {childList: true});
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=60)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--gap", type=float, default=0.7, help="seconds between posts (spread over poll phases)")
    args = ap.parse_args()

    from helicarrier.data.engine import make_engine
    from helicarrier.data.repository import Repository
    from helicarrier.data.schema import ensure_schema
    from helicarrier.layouts.watchtower import ID

    data_dir = Path(tempfile.mkdtemp(prefix="hc-pulse-"))
    url = args.database_url or f"sqlite:///{data_dir / 'pulse.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    repo = Repository(engine)
    token, _ = repo.create_token(f"pulse-{uuid.uuid4().hex[:6]}", "ingest")
    repo.create_user(f"bench-{uuid.uuid4().hex[:6]}", "bench-password", "viewer")
    username = repo.list_users()[-1].username
    port = _free_port()
    env = {
        **os.environ,
        "HELICARRIER_DATABASE_URL": url,
        "HELICARRIER_DATA_DIR": str(data_dir),
        "HELICARRIER_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "app:server",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    driver = chrome()
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(port, server)
        driver.get(f"{base}/login")
        sign_in(driver, username, "bench-password", ID.LOG)
        time.sleep(1.5)  # let the first full load land
        driver.execute_script(OBSERVER, ID.LOG)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        latencies = []
        for i in range(args.lines):
            mark = f"mark-{uuid.uuid4()}"
            body = json.dumps(
                {
                    "version": "v1",
                    "type": "log",
                    "agent_id": "bench-agent",
                    "ts": datetime.now(UTC).isoformat(),
                    "level": "info",
                    "message": mark,
                }
            )
            t0 = time.time() * 1000
            conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            seen = None
            limit = time.time() + 10
            while seen is None and time.time() < limit:
                seen = driver.execute_script("return window.hcSeen[arguments[0]] || null;", mark)
                if seen is None:
                    time.sleep(0.01)
            if seen is None:
                print(f"line {i} never appeared", file=sys.stderr)
                continue
            latencies.append(seen - t0)
            time.sleep(args.gap)
        q = statistics.quantiles(latencies, n=100)
        print(
            f"machine: {platform.node()} {os.cpu_count()} cores; server: gunicorn 2 workers x 4 threads; "
            f"database: {engine.dialect.name}; pulse poll interval 500 ms"
        )
        print(
            f"lines: {len(latencies)}/{args.lines}  p50 {statistics.median(latencies):.0f} ms  "
            f"p95 {q[94]:.0f} ms  max {max(latencies):.0f} ms"
        )
    finally:
        driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        engine.dispose()


if __name__ == "__main__":
    main()
