"""gunicorn.conf.py: its values come from the declared settings, and one worker per instance runs the
scheduler (its replacement takes it over when it dies; none does when HELICARRIER_SCHEDULER=off)."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def _conf(monkeypatch, **env: str) -> dict:
    for name in (
        "HELICARRIER_WORKERS",
        "HELICARRIER_THREADS",
        "HELICARRIER_TRUSTED_PROXIES",
        "HELICARRIER_SCHEDULER",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_values_come_from_the_settings(monkeypatch):
    conf = _conf(monkeypatch, HELICARRIER_HOST="0.0.0.0", HELICARRIER_PORT="9001")
    assert conf["bind"] == "0.0.0.0:9001"
    assert conf["workers"] == (os.cpu_count() or 1) * 2 + 1
    # The command poll holds a request up to 30 s: threads wait, not whole processes, and no worker is
    # killed for it.
    assert conf["worker_class"] == "gthread" and conf["timeout"] > 30
    assert conf["forwarded_allow_ips"] == ""  # no proxy declared: nobody's X-Forwarded-* is believed
    conf = _conf(
        monkeypatch, HELICARRIER_WORKERS="3", HELICARRIER_THREADS="4", HELICARRIER_TRUSTED_PROXIES="1"
    )
    assert (conf["workers"], conf["threads"], conf["forwarded_allow_ips"]) == (3, 4, "*")


class _Arbiter:
    def __init__(self):
        self.WORKERS: dict[int, SimpleNamespace] = {}
        self.log = SimpleNamespace(info=lambda *a: None)

    def spawn(self, conf: dict, pid: int) -> str:
        worker = SimpleNamespace(pid=pid)
        conf["pre_fork"](self, worker)
        conf["post_fork"](self, worker)  # (in the child, in real life)
        self.WORKERS[pid] = worker
        return os.environ["HELICARRIER_SCHEDULER"]


def test_one_worker_runs_the_scheduler_and_its_replacement_takes_over(monkeypatch):
    conf = _conf(monkeypatch)
    arbiter = _Arbiter()
    assert [arbiter.spawn(conf, pid) for pid in (1, 2, 3)] == ["on", "off", "off"]
    del arbiter.WORKERS[2]  # a plain worker dies: its replacement does not run one
    assert arbiter.spawn(conf, 4) == "off"
    del arbiter.WORKERS[1]  # the scheduler's worker dies: its replacement does
    assert arbiter.spawn(conf, 5) == "on"


def test_no_worker_runs_the_scheduler_when_a_separate_process_does(monkeypatch):
    conf = _conf(monkeypatch, HELICARRIER_SCHEDULER="off")
    arbiter = _Arbiter()
    assert [arbiter.spawn(conf, pid) for pid in (1, 2)] == ["off", "off"]
