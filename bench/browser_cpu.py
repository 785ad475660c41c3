"""Browser CPU: what each HUD page costs a browser left open on it, in CPU seconds of headless Chromium.

An operator leaves the Watchtower open all day on a wall screen or a laptop. This starts the real server
(gunicorn, production settings) on a fresh SQLite file, registers 12 agents, signs in through the login
form, opens each page, lets it settle, then sums the user+system CPU time of every Chromium process (the
browser, its renderer, GPU and utility processes: chromedriver's descendants) over ``--seconds``. The server's
CPU is not counted. The baseline, in the same run, is the sign-in page: static HTML, the browser's own floor.

Pages are measured quiet (nothing changes: the 12 agents reported once), and the Watchtower also live
(the 12 agents of the demo fleet report, run sessions and log all the while).

    .venv/bin/python bench/browser_cpu.py [--seconds 60] [--pages / /ledger ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import _free_port, _wait_healthy  # noqa: E402

AGENTS = 12
PAGES = ("/", "/ledger", "/intelligence", "/command", "/alerts", "/operations")
SETTLE_S = 8.0  # the page's first load and its first polls are not what an all-day tab costs


def process_kind(proc: psutil.Process) -> str:
    """Chromium's process type (renderer, gpu-process, utility), or "browser" for the main process."""
    for arg in proc.cmdline():
        if arg.startswith("--type="):
            return arg.split("=", 1)[1]
    return "browser"


def browser_cpu_by_kind(driver) -> dict[str, float]:
    """User+system CPU seconds of chromedriver's descendants (the browser's processes), by process type."""
    totals: dict[str, float] = {}
    for proc in psutil.Process(driver.service.process.pid).children(recursive=True):
        try:
            t = proc.cpu_times()
            kind = process_kind(proc)
        except psutil.NoSuchProcess:
            continue  # a utility process that came and went between the two readings
        totals[kind] = totals.get(kind, 0.0) + t.user + t.system
    return totals


INJECT = """
var s = document.createElement('style'); s.textContent = arguments[0]; document.head.appendChild(s);
"""


def measure(driver, url: str, seconds: float, css: str = "") -> tuple[float, dict[str, float]]:
    """Per cent of one core the browser spent over ``seconds`` on ``url`` after it settled, in all and by
    process type. ``css``, if given, is added to the page first (to find what costs: e.g. every animation
    or backdrop-filter off)."""
    driver.get(url)
    if css:
        time.sleep(2)
        driver.execute_script(INJECT, css)
    time.sleep(SETTLE_S)
    before, t0 = browser_cpu_by_kind(driver), time.monotonic()
    time.sleep(seconds)
    after, wall = browser_cpu_by_kind(driver), time.monotonic() - t0
    kinds = {k: 100.0 * (after[k] - before.get(k, 0.0)) / wall for k in after}
    return sum(kinds.values()), kinds


def register_agents(base: str, token: str) -> None:
    """12 agents that report once: a quiet fleet."""
    from helicarrier.client import HelicarrierClient

    client = HelicarrierClient(base, token, source="browser-cpu-bench")
    for i in range(AGENTS):
        client.agent(f"quiet-{i:02d}", labels={"team": "bench"}).heartbeat("idle")
    if not client.flush(timeout=20):
        raise SystemExit("the quiet fleet's heartbeats were not delivered")
    client.close()


def sign_in(driver, username: str, password: str, until_id: str) -> None:
    """Fill the sign-in form on the page shown, then wait (20 s at most) for the element ``until_id``."""
    driver.find_element("id", "login-username").send_keys(username)
    driver.find_element("id", "login-password").send_keys(password)
    driver.find_element("id", "login-submit").click()
    deadline = time.time() + 20
    while time.time() < deadline and not driver.find_elements("id", until_id):
        time.sleep(0.1)


def chrome():
    """Headless Chromium as the browser benchmarks drive it (bench/pulse_latency.py too)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1440,1000",
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(options=opts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds per page")
    ap.add_argument("--pages", nargs="*", default=list(PAGES))
    ap.add_argument("--no-live", action="store_true", help="skip the Watchtower with the live demo fleet")
    ap.add_argument("--css", default="", help="CSS added to every measured page (diagnosis)")
    args = ap.parse_args()

    from helicarrier.data.engine import make_engine
    from helicarrier.data.repository import Repository
    from helicarrier.data.schema import ensure_schema
    from helicarrier.demo.fleet import run_demo_fleet
    from helicarrier.layouts.shell import ID as SHELL

    data_dir = Path(tempfile.mkdtemp(prefix="hc-cpu-"))
    url = f"sqlite:///{data_dir / 'cpu.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    repo = Repository(engine)
    token, _ = repo.create_token(f"cpu-{uuid.uuid4().hex[:6]}", "ingest")
    username = f"bench-{uuid.uuid4().hex[:6]}"
    repo.create_user(username, "bench-password", "admin")
    port = _free_port()
    env = {
        **os.environ,
        "HELICARRIER_DATABASE_URL": url,
        "HELICARRIER_DATA_DIR": str(data_dir),
        "HELICARRIER_LOG_LEVEL": "WARNING",
        "HELICARRIER_PORT": str(port),
        # Each agent's command poll holds a thread up to 30 s: the 12 of them need more than 2 x 4.
        "HELICARRIER_WORKERS": "2",
        "HELICARRIER_THREADS": "16",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
        cwd=ROOT,
        env=env,
    )
    driver = chrome()
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[str, tuple[float, dict[str, float]]]] = []
    try:
        _wait_healthy(port, server)
        register_agents(base, token)
        driver.get(f"{base}/login")
        baseline = measure(driver, f"{base}/login", args.seconds)
        results.append(("sign-in page (static; baseline)", baseline))
        floor = baseline[0]
        sign_in(driver, username, "bench-password", SHELL.USERNAME)
        for page in args.pages:
            results.append((f"{page} quiet", measure(driver, f"{base}{page}", args.seconds, args.css)))
        if not args.no_live:
            stop = threading.Event()
            fleet = threading.Thread(
                target=run_demo_fleet,
                args=(base, token, AGENTS),
                kwargs={"seed": 3, "stop_event": stop},
                daemon=True,
            )
            fleet.start()
            live = measure(driver, f"{base}/", args.seconds, args.css)
            results.append(("/ live (12 demo agents reporting)", live))
            stop.set()
            fleet.join(timeout=30)
        agents = repo.count_agents()
    finally:
        driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        engine.dispose()

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {platform.node()} {os.cpu_count()} cores, load average {load}; "
        f"headless Chromium; {args.seconds:.0f} s per page "
        f"after {SETTLE_S:.0f} s to settle; agents stored: {agents}"
    )
    print(f"{'page':<40} {'% of one core':>14} {'x baseline':>11}  by process")
    for name, (pct, kinds) in results:
        ranked = sorted(kinds.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"{k} {v:.1f}%" for k, v in ranked if v >= 0.1)
        print(f"{name:<40} {pct:>13.1f}% {pct / max(floor, 0.01):>10.1f}x  {parts}")


if __name__ == "__main__":
    main()
