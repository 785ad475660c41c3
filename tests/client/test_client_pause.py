"""The client honours pause and resume against the real app over real HTTP, on both backends: a paused agent
finishes the model call it is in, reports it, then waits in ``check_stop()`` until a resume; its poll says
``budget_locked`` while a locked budget holds it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from helicarrier.data.models import UsageEvent
from helicarrier.data.types import utcnow
from tests.client.test_commands import OPENAI, api, command_in, online_agent
from tests.waiting import wait_for

NOT_RESUMED_S = 0.5  # how long a paused agent is watched for starting another call (a negative check)


@pytest.fixture
def control_token(live_server) -> str:
    token, _ = live_server[1].repo.create_token("test-operator", "control")
    return token


def _usage_events(ctx) -> int:
    with ctx.repo.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one()


def test_a_paused_agent_finishes_its_call_then_waits_until_resumed(
    live_server, ingest_token, control_token, make_client
):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "pauser-1")
    agent.on_command()  # the default pause and resume handlers
    in_call, call_may_end = threading.Event(), threading.Event()
    calls: list[int] = []
    at_check, past_check = threading.Event(), threading.Event()
    stop = threading.Event()

    def model_call(n: int) -> None:
        in_call.set()
        if n == 0:
            call_may_end.wait(10)  # the provider is slow: the pause arrives mid-call
        calls.append(n)

    def work() -> None:
        with agent.session(model="gpt-4.1", provider="openai", task="long job") as s:
            n = 0
            while not stop.is_set():
                model_call(n)
                s.usage(provider="openai", response=OPENAI)
                at_check.set()
                agent.check_stop()  # the step boundary: a paused agent waits here
                past_check.set()
                n += 1

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    assert in_call.wait(5)

    status, doc = api(url, control_token, "/api/v1/agents/pauser-1/pause", {"reason": "budget review"})
    assert status == 201
    done = command_in(ctx, doc["command"]["id"], "completed", "failed", "rejected")
    assert done["state"] == "completed" and agent.paused and agent.pause_reason == "budget review"

    call_may_end.set()  # the call in flight finishes and is reported...
    assert at_check.wait(5)
    assert client.flush(timeout=5)
    wait_for(lambda: _usage_events(ctx) == 1, what="the finished call's usage")
    assert calls == [0]
    # ...and no further call starts while paused.
    assert not past_check.wait(NOT_RESUMED_S) and calls == [0]

    status, doc = api(url, control_token, "/api/v1/agents/pauser-1/resume", {"reason": "approved"})
    assert status == 201
    assert command_in(ctx, doc["command"]["id"], "completed")["state"] == "completed"
    assert past_check.wait(5) and not agent.paused
    stop.set()
    worker.join(5)
    assert not worker.is_alive() and calls[:2] == [0, 1]


def test_the_poll_tells_the_client_a_budget_locks_it(live_server, ingest_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "locked-1")
    ctx.repo.insert_budget(
        {
            "name": "cap",
            "scope": "agent",
            "scope_value": "locked-1",
            "period": "day",
            "limit_nanos": 1,
            "soft_percent": 80,
            "policy": "finish",
            "state": "locked",
            "lock_reason": "test",
            "spent_nanos": 1,
            "rate_nanos_per_h": 0,
            "created_by": "test",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
    )
    agent.on_command(wait=0.2)
    wait_for(lambda: agent.budget_locked, what="the poll to say budget_locked")
