"""A demo agent obeys a pause (as a budget's lock sends it) against the real app over HTTP: it finishes its
model call, says so in its log, holds its session without further calls, and goes on after a resume."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from helicarrier.data.models import LogEvent, Session, UsageEvent
from helicarrier.demo.fleet import run_demo_fleet
from tests.client.conftest import ingest_token, live_server, serve_wsgi  # noqa: F401
from tests.client.test_commands import api
from tests.waiting import wait_for


def _scalar(ctx, stmt):
    with ctx.repo.engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def _logged(ctx, text: str) -> bool:
    return _scalar(ctx, select(func.count()).where(LogEvent.message.contains(text))) > 0


def test_a_demo_agent_holds_its_session_while_paused_and_goes_on_after_resume(live_server, ingest_token):  # noqa: F811
    url, ctx = live_server
    control, _ = ctx.repo.create_token("operator", "control")
    stop = threading.Event()
    runner = threading.Thread(
        target=lambda: run_demo_fleet(url, ingest_token, 1, seed=5, stop_event=stop, command_wait=1.0),
        daemon=True,
    )
    runner.start()
    try:
        running = select(func.count()).where(Session.status == "running")
        wait_for(lambda: _scalar(ctx, running) == 1, 60, "a demo session to run")
        status, doc = api(url, control, "/api/v1/agents/atlas-01/pause", {"reason": "budget 'demo' locked"})
        assert status == 201
        cid = doc["command"]["id"]
        # Generous: on a loaded machine the demo's client answers after flushing what it reported first.
        wait_for(
            lambda: ctx.repo.get_command(cid)["state"] == "completed",
            60,
            f"the pause to be answered: {ctx.repo.get_command(cid)}",
        )
        wait_for(lambda: _logged(ctx, "paused: budget 'demo' locked"), 60, "the agent to hold after its call")
        calls = _scalar(ctx, select(func.count()).select_from(UsageEvent))
        assert _scalar(ctx, running) == 1  # held, not ended

        status, doc = api(url, control, "/api/v1/agents/atlas-01/resume", {"reason": "raised"})
        assert status == 201
        rid = doc["command"]["id"]
        wait_for(lambda: _logged(ctx, "resumed"), 30, f"the agent to go on: {rid}")
        wait_for(
            lambda: _scalar(ctx, select(func.count()).select_from(UsageEvent)) > calls,
            60,
            "a call after resume",
        )
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
