"""The agent client through maintenance mode (a database move): it keeps its events queued while the server
answers 503 `maintenance` and sends them once it is off; nothing is lost, nothing stored twice."""

from __future__ import annotations

from sqlalchemy import func, select

from helicarrier.data.models import LogEvent
from helicarrier.operations.maintenance import switch
from tests.waiting import wait_for


def test_the_agent_client_queues_through_maintenance_and_loses_nothing(
    live_server, ingest_token, make_client
):
    """Fails when the client drops a batch refused with 503 (or the server stores during maintenance)."""
    url, ctx = live_server
    ctx.maintenance.cache_s = 0
    switch(ctx.repo, True, "cutover", "test")
    client = make_client(url, ingest_token)
    agent = client.agent("patient-agent")
    for i in range(25):
        agent.log("info", f"line {i}")
    wait_for(lambda: client.stats.retries >= 1, timeout=10, what="a 503 answered to the client")
    assert _count(ctx, LogEvent) == 0
    switch(ctx.repo, False, None, "test")
    assert client.flush(timeout=20)  # the client waits Retry-After (5 s), then sends
    stats = client.stats
    assert (stats.sent, stats.failed, stats.dropped) == (25, 0, 0)
    assert _count(ctx, LogEvent) == 25


def _count(ctx, model) -> int:
    with ctx.repo.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()
