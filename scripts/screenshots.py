"""Screenshots of every page, as an admin and as a viewer, into docs/screenshots/ (the README shows one).

Starts the real server (gunicorn, as `make run` does) on a scratch SQLite file with the demo history, a live
demo fleet reporting to it, and an alert rule that fires; signs in through the real form in headless
Chromium and saves ``<page>-<role>.png`` for each page. Run it with ``make screenshots`` after a UI change.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser_cpu import chrome, sign_in  # noqa: E402
from bench.ingest import _free_port, _wait_healthy  # noqa: E402

PAGES = {  # file name -> path, and the element that says the page has drawn its data
    "watchtower": ("/", ".agent-card"),
    "command": ("/command", "#command-history tr"),
    "ledger": ("/ledger?range=30d", "#ledger-grid .ag-row"),
    "session": (None, "#ledger-detail-timeline"),
    "intelligence": ("/intelligence", "#intelligence-cost-chart .barlayer .point"),
    "alerts": ("/alerts", "#alerts-rules table"),
    "operations": ("/operations", "#operations-system table"),
}
ROLES = ("admin", "viewer")
PASSWORD = "screenshot-password"


def _wait_for(driver, css: str, seconds: float = 45) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if driver.execute_script("return document.querySelectorAll(arguments[0]).length", css):
            return
        time.sleep(0.3)
    print(f"  (waited {seconds:.0f} s for {css}; taking the page as it is)")


def _seed(repo, ingest) -> tuple[str, str]:
    """The demo history, users of both roles, an ingest token and a rule that fires; a session's id."""
    from helicarrier.actors import Actor
    from helicarrier.alerts.rules import validate_rule
    from helicarrier.demo.seed import seed_demo

    seed_demo(ingest, days=30, seed=11, now=datetime.now(UTC))
    for role in ROLES:
        repo.create_user(role, PASSWORD, role)
    rule = {"name": "agent offline", "metric": "agents_offline", "group_by": "agent", "threshold": "0",
            "params": {"offline_after_s": 60}, "severity": "critical"}  # fmt: skip
    repo.create_alert_rule(validate_rule(rule), Actor("admin", "user", "admin"))
    token, _ = repo.create_token("screenshots", "ingest")
    from helicarrier.analytics.filters import SessionFilters

    (first,) = repo.sessions_rows(SessionFilters(statuses=("failed",)), sort="started_at", descending=True,
                                  offset=0, limit=1)  # fmt: skip
    return token, first["id"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--warmup", type=float, default=40.0, help="seconds of live fleet before the pictures")
    args = ap.parse_args()

    from helicarrier.actors import Actor
    from helicarrier.config import load_settings
    from helicarrier.context import build_context
    from helicarrier.demo.fleet import run_demo_fleet

    data_dir = Path(tempfile.mkdtemp(prefix="hc-shots-"))
    url = f"sqlite:///{data_dir / 'shots.db'}"
    port = _free_port()
    env = {**os.environ, "HELICARRIER_DATABASE_URL": url, "HELICARRIER_DATA_DIR": str(data_dir),
           "HELICARRIER_LOG_LEVEL": "WARNING", "HELICARRIER_PORT": str(port), "HELICARRIER_WORKERS": "2",
           "HELICARRIER_THREADS": "16"}  # fmt: skip
    os.environ.update({k: v for k, v in env.items() if k.startswith("HELICARRIER_")})
    ctx = build_context(load_settings())
    print("seeding 30 days of demo history ...")
    token, session_id = _seed(ctx.repo, ctx.ingest)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:server"],
                              cwd=ROOT, env=env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        _wait_healthy(port, server)
        fleet = threading.Thread(target=run_demo_fleet, args=(base, token, 12),
                                 kwargs={"seed": 4, "stop_event": stop}, daemon=True)  # fmt: skip
        fleet.start()
        time.sleep(5)  # the agents say hello first
        body = {
            "kind": "inject",
            "task": "Summarize today's failed sessions for the standup",
            "mode": "queue",
        }
        ctx.control.issue(
            Actor("admin", "user", "admin"), "atlas-01", body, None
        )  # the Command page's history
        print(f"live demo fleet for {args.warmup:.0f} s ...")
        time.sleep(args.warmup)
        for role in ROLES:
            driver = chrome()
            try:
                driver.set_window_size(1440, 1000)
                driver.get(f"{base}/login")
                sign_in(driver, role, PASSWORD, "shell-username")
                for name, (path, ready) in PAGES.items():
                    driver.get(f"{base}{path or '/ledger/' + session_id}")
                    _wait_for(driver, ready)
                    time.sleep(1.5)  # charts finish their transitions
                    target = args.out / f"{name}-{role}.png"
                    driver.save_screenshot(str(target))
                    print(f"  {target.relative_to(ROOT)}")
            finally:
                driver.quit()
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
