"""The demo fleet as the auto-scaler's local supervisor, against the real app over HTTP: a backlog of tasks
scales it up to the maximum, and once the backlog is gone and its agents idle, it retires them down to the
minimum (each finishing its session first)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from helicarrier.actors import Actor
from helicarrier.data.models import Agent, LogEvent
from helicarrier.demo.fleet import Pace, run_demo_fleet

# The real-HTTP server fixtures live with the client tests.
from tests.client.conftest import ingest_token, live_server, serve_wsgi  # noqa: F401

# Short sessions, then a long idle: agents stop running soon after their work, so idleness shows.
BRISK_THEN_IDLE = Pace(log_every=(0.05, 0.15), idle_between=(600.0, 600.0))
RETIRED = "retired by the auto-scaler"


@pytest.fixture
def settings(settings):
    return replace(
        settings, autoscale_min=1, autoscale_max=4, autoscale_tasks_per_worker=2, autoscale_cooldown_s=0
    )


def wait_for(what: str, check, leader, timeout: float = 60.0):
    """Poll ``check`` while acting as the scheduler's leader (one evaluation per round)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader()
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"never: {what}")


def fleet_agents(ctx) -> set[str]:
    with ctx.repo.engine.connect() as conn:
        return set(conn.execute(select(Agent.id).where(Agent.id != "backlog-01")).scalars())


def retirements(ctx) -> int:
    with ctx.repo.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(LogEvent).where(LogEvent.message.like(f"{RETIRED}%"))
        ).scalar_one()


def test_a_backlog_scales_the_demo_fleet_up_and_idleness_down(live_server, ingest_token):  # noqa: F811
    url, ctx = live_server
    reader, _ = ctx.repo.create_token("supervisor", "read")
    operator = Actor("omar", "user", "operator")
    # A backlog for an agent that has gone quiet: twelve tasks nobody has fetched.
    beat = {"id": "hb-backlog", "type": "agent.heartbeat", "ts": datetime.now(UTC).isoformat(),
            "agent_id": "backlog-01", "data": {"status": "idle"}}  # fmt: skip
    body = json.dumps({"version": "v2", "source": {"name": "test"}, "events": [beat]}).encode()
    req = urllib.request.Request(
        f"{url}/api/v1/ingest",
        data=body,
        headers={"Authorization": f"Bearer {ingest_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    ids = []
    for i in range(12):
        command, _ = ctx.control.issue(
            operator, "backlog-01", {"kind": "inject", "task": f"item {i}", "mode": "queue"}, None
        )
        ids.append(command["id"])
    stop = threading.Event()
    runner = threading.Thread(
        target=run_demo_fleet,
        args=(url, ingest_token, 1),
        kwargs={"seed": 3, "stop_event": stop, "pace": BRISK_THEN_IDLE, "scale_token": reader,
                "scale_every": 0.3, "command_wait": 1.0},
        daemon=True,
    )  # fmt: skip
    runner.start()
    leader = ctx.autoscale.evaluate
    try:
        wait_for("four agents working", lambda: len(fleet_agents(ctx)) == 4, leader)
        assert ctx.autoscale.last().desired == 4
        assert retirements(ctx) == 0
        for cid in ids:
            ctx.control.cancel(operator, cid)
        wait_for("three agents retired", lambda: retirements(ctx) == 3, leader)
        assert ctx.autoscale.last().desired == 1
        assert len(fleet_agents(ctx)) == 4  # retired, not forgotten: they stay in the fleet's history
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    moves = [d["to"] for d in ctx.repo.audit_entries(action="fleet.scale").sort_values("id")["details"]]
    assert moves[0] == 4 and moves[-1] == 1 and max(moves) == 4
