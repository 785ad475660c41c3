"""The demo fleet's looping agent and the sentinel, over real HTTP: the agent loops, the sentinel finds it and
steers it, the agent leaves the loop and does the corrective task (what `make run` shows in its first
minutes)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

from helicarrier.client import HelicarrierClient
from helicarrier.data.types import utcnow
from helicarrier.demo.fleet import LOOPER, Pace, SimAgent
from helicarrier.demo.scenario import fleet
from helicarrier.sentinel.service import SentinelService
from helicarrier.sentinel.thresholds import Thresholds
from tests.client.conftest import ingest_token, live_server, serve_wsgi  # noqa: F401
from tests.waiting import wait_for

FAST = Pace(log_every=(0.05, 0.1), idle_between=(30.0, 30.0))


def test_the_looping_demo_agent_is_found_and_steered_out_of_its_loop(live_server, ingest_token):  # noqa: F811
    url, ctx = live_server
    (spec,) = [s for s in fleet(12) if s.id == LOOPER]
    client = HelicarrierClient(url, ingest_token, source="demo-test")
    stop = threading.Event()
    sim = SimAgent(client, spec, random.Random(3), stop, FAST)
    sim.listen(1.0)
    runner = threading.Thread(target=sim.run, daemon=True)
    runner.start()
    sentinel = SentinelService(ctx.repo, ctx.control, Thresholds(policy="steer", grace_s=1), (), 60)
    try:
        wait_for(lambda: len(ctx.repo.logs_after(0, agent_id=LOOPER)) >= 14, 30, "the loop")
        sentinel.run_cycle()
        (finding,) = ctx.repo.list_findings(agent_id=LOOPER)
        assert (
            finding["detector"] == "repeat"
            and "POST <path> failed (HTTP <n>)" in finding["evidence"]["pattern"]
        )
        sentinel.run_cycle(utcnow() + timedelta(seconds=2))  # a grace later: steered
        (steer,) = ctx.repo.commands_list(agent_id=LOOPER, kind="inject")
        assert steer["issued_by"] == "sentinel"
        # The task's session may stall on a tool call for up to 40 s, as every demo session may.
        wait_for(lambda: ctx.repo.get_command(steer["id"])["state"] == "completed", 90, "the task done")
        messages = [r["message"] for r in ctx.repo.logs_after(0, agent_id=LOOPER, limit=500)]
        assert "steered: leaving the retry loop to change approach" in messages
    finally:
        stop.set()
        runner.join(timeout=15)
        client.close(timeout=5)
