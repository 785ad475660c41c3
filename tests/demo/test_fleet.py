"""The live demo fleet, through the agent client, against the real app over HTTP."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from helicarrier.data.models import Agent, LogEvent, Session, UsageEvent
from helicarrier.demo.fleet import run_demo_fleet

# The real-HTTP server fixtures live with the client tests.
from tests.client.conftest import ingest_token, live_server, serve_wsgi  # noqa: F401

TABLES = (("agents", Agent), ("sessions", Session), ("logs", LogEvent), ("usage", UsageEvent))


def _counts(ctx) -> dict[str, int]:
    with ctx.repo.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in (
                ("agents", Agent),
                ("sessions", Session),
                ("logs", LogEvent),
                ("usage", UsageEvent),
            )
        }


def test_demo_fleet_reports_agents_sessions_logs_and_usage(live_server, ingest_token):  # noqa: F811
    url, ctx = live_server
    stop = threading.Event()
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(
            run_demo_fleet(url, ingest_token, 3, seed=5, stop_event=stop, command_wait=1.0)
        ),
        daemon=True,
    )
    runner.start()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            got = _counts(ctx)
            if got["agents"] == 3 and got["sessions"] and got["logs"] >= 3 and got["usage"]:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive(), "the fleet did not stop on stop_event"
    got = _counts(ctx)
    assert got["agents"] == 3 and got["sessions"] >= 1 and got["logs"] >= 3 and got["usage"] >= 1, got
    assert result["sent"] > 0 and result["failed"] == 0
    with ctx.repo.engine.connect() as conn:
        names = set(conn.execute(select(Agent.id)).scalars())
        running = conn.execute(select(func.count()).where(Session.status == "running")).scalar_one()
    assert names == {"atlas-01", "hermes-07", "vega-03"}
    assert running == 0  # a clean shutdown ends the sessions it leaves (killed: demo fleet stopped)
