"""Exactly one scheduler runs jobs, however many processes share the database; a follower takes over."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from helicarrier.config import load_settings
from helicarrier.data.engine import make_engine
from helicarrier.data.leader import Leadership, current_holder
from helicarrier.scheduler.runner import Job, Scheduler, should_start_in_web_process
from helicarrier.webapp import create_app
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


HOLDER = """
import sys, time
from helicarrier.config import load_settings
from helicarrier.data.engine import make_engine
from helicarrier.data.leader import Leadership
lead = Leadership(make_engine(sys.argv[1]))
print("leader" if lead.try_acquire() else "follower", flush=True)
time.sleep(60)
"""


def test_one_leader_across_processes_and_takeover(db_url):
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert other.stdout.readline().strip() == "leader"
        engine = make_engine(db_url)
        me = Leadership(engine)
        assert me.try_acquire() is False
        holder = current_holder(engine)
        assert holder is not None and str(other.pid) in holder
        other.kill()  # the leader dies without a goodbye
        other.wait()
        deadline = time.time() + 10
        while not me.try_acquire() and time.time() < deadline:
            time.sleep(0.2)
        assert me.is_leader
        assert str(os.getpid()) in current_holder(engine)
        me.release()
        assert current_holder(engine) is None
    finally:
        if other.poll() is None:
            other.kill()


def test_two_schedulers_only_the_leader_runs_jobs(settings):
    counts = {"a": 0, "b": 0}
    ctx_a = create_app(settings).server.config["HELICARRIER"]
    ctx_b = create_app(settings).server.config["HELICARRIER"]
    a = Scheduler(ctx_a, [Job("tick", 1, lambda ctx: counts.__setitem__("a", counts["a"] + 1))])
    b = Scheduler(ctx_b, [Job("tick", 1, lambda ctx: counts.__setitem__("b", counts["b"] + 1))])
    a.start()
    b.start()
    try:
        wait_for(lambda: counts["a"] + counts["b"] >= 3, 20, "three runs of the job")
        assert (counts["a"] > 0) != (counts["b"] > 0), counts  # one ran, the other never did
        leader, follower = (a, b) if counts["a"] else (b, a)
        leader.shutdown()  # the leader goes away: the follower takes over within its retry interval
        name = "b" if follower is b else "a"
        before = counts[name]
        wait_for(lambda: counts[name] > before, 20, "the follower to take over")
    finally:
        for s in (a, b):
            with contextlib.suppress(Exception):  # already stopped
                s.shutdown()


def test_no_second_scheduler_under_the_reloader(monkeypatch):
    monkeypatch.delenv("HELICARRIER_SCHEDULER", raising=False)
    monkeypatch.setenv("WERKZEUG_SERVER_FD", "3")
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert should_start_in_web_process(load_settings()) is False  # the reloader's watcher process
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    assert should_start_in_web_process(load_settings()) is True  # the serving child
    monkeypatch.setenv("HELICARRIER_SCHEDULER", "off")
    assert should_start_in_web_process(load_settings()) is False


def test_each_schema_of_one_postgresql_database_elects_its_own_leader(pg_schemas):
    # Advisory locks are database-wide: with one key, a Helicarrier in another schema (or another test run)
    # would hold the only leadership and this one's scheduler would never run.
    engines = [make_engine(pg_schemas.new()) for _ in range(2)]
    leaders = [Leadership(e) for e in engines]
    try:
        assert [leader.try_acquire() for leader in leaders] == [True, True]
        assert not Leadership(engines[0]).try_acquire()  # within a schema, still one at a time
        assert current_holder(engines[1]) is not None
    finally:
        for leader in leaders:
            leader.release()
        for e in engines:
            e.dispose()
    assert current_holder(engines[0]) is None
