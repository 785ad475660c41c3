"""`make run` as a newcomer meets it: the address and the one-time admin password come last, once the
server answers, the password signs in, and the terminal stays quiet while the HUD is used and the
scheduler runs (it printed 7,211 scheduler lines an hour, burying the password within seconds)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from tests.servers import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
UP = "Helicarrier is up: open"


class Terminal:
    """What the script prints, line by line, stdout and stderr together (a person sees both)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=30)


def sign_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrf": csrf, "next": "/"})
    opener.open(f"{base}/login", data=form.encode(), timeout=10)
    return opener


def test_make_run_ends_with_the_address_and_password_and_then_stays_quiet(tmp_path):
    port = free_port()
    env = {
        # A newcomer's shell: none of our settings, and none of the Werkzeug variables a browser test's
        # server leaves in this process (WERKZEUG_SERVER_FD makes `serve` think it is a reloader's watcher,
        # which runs no scheduler).
        **{k: v for k, v in os.environ.items() if not k.startswith(("HELICARRIER_", "WERKZEUG_", "FLASK_"))},
        "DEMO": "0",  # the demo's 30 days of history take a minute; the order and the quiet are the same
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "HELICARRIER_DATABASE_URL": f"sqlite:///{tmp_path / 'first.db'}",
        "HELICARRIER_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    terminal = Terminal(proc)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: any(UP in line for line in terminal.snapshot()), 120, "the script to say it is up")
        before = terminal.snapshot()
        up = next(i for i, line in enumerate(before) if UP in line)
        assert before[up] == f"{UP} {base}/ and sign in. Ctrl-C stops it."
        block = before[:up]
        password_line = block.index("First start: created user 'admin' with password (shown only this once):")
        assert block[password_line + 1 :] and all(
            not line.startswith(" * ") for line in block[password_line:]
        ), "the password block is the last thing before the address"
        password = block[password_line + 1].strip()

        opener = sign_in(base, "admin", password)
        # Use the HUD a little, and let the scheduler run its jobs (its heartbeat makes /readyz ready).
        for path in ("/", "/ledger", "/intelligence", "/nope"):
            with contextlib.suppress(urllib.error.HTTPError):  # /nope: a 404, which logs nothing either
                opener.open(f"{base}{path}", timeout=10).read()

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=5) as resp:
                    return json.load(resp)["status"] == "ready"
            except urllib.error.HTTPError:
                return False

        wait_for(ready, 60, "the scheduler's first runs")
        with opener.open(f"{base}/ledger", timeout=10) as resp:
            assert resp.geturl() == f"{base}/ledger"  # the printed password signed in: no way to /login
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        terminal.join()
    after = terminal.snapshot()[up + 1 :]
    assert after == [], f"the terminal kept talking after start-up: {after[:10]}"
