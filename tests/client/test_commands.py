"""The client's command loop against the real app over real HTTP, on both backends: it long-polls, answers
through the ack route, obeys kills (closing the loop to ``verified`` / ``ineffective``), injected tasks and
model switches, and keeps the agent alive when the server is gone."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from helicarrier.client import Command, CommandRejected, HelicarrierClient, StopRequested
from helicarrier.data.models import Command as CommandRow
from helicarrier.data.models import Session
from helicarrier.data.types import utcnow
from helicarrier.fleet import grid
from tests.waiting import SERVED, wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
OPENAI = json.loads((FIXTURES / "openai_chat__full.json").read_text())["payload"]


@pytest.fixture
def settings(settings):
    return replace(settings, kill_settle_s=1)


@pytest.fixture
def control_token(live_server) -> str:
    _, ctx = live_server
    token, _ = ctx.repo.create_token("test-operator", "control")
    return token


def api(url: str, token: str, path: str, body: dict, key: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    headers["Idempotency-Key"] = key or uuid.uuid4().hex
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def command_in(ctx, cid: str, *states: str) -> dict:
    return wait_for(
        lambda: (c := ctx.repo.get_command(cid)) and c["state"] in states and c,
        what=f"command {cid} to reach {states}",
    )


def card_status(ctx, agent_id: str) -> str:
    cards = grid.card_models(ctx.repo.agents_snapshot(), utcnow(), ctx.settings.offline_after_s)
    return next(c.status for c in cards if c.id == agent_id)


def audit_actions(ctx, cid: str) -> list[str]:
    return list(reversed(list(ctx.repo.audit_entries(target_id=cid)["action"])))


def online_agent(client: HelicarrierClient, agent_id: str):
    agent = client.agent(agent_id, name=agent_id.title())
    agent.heartbeat("running", current_task="warm up", model="gpt-4.1", provider="openai")
    assert client.flush(timeout=10)
    return agent


def test_loop_accepts_and_completes_an_injected_task(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "jarvis-1")
    seen: list[Command] = []

    def do_task(cmd: Command) -> str:
        seen.append(cmd)
        return f"summarized: {cmd.task}"

    loop = agent.on_command(inject=do_task)
    status, doc = api(url, control_token, "/api/v1/agents/jarvis-1/tasks", {"task": "summarize ticket 42"})
    assert status == 201
    cid = doc["command"]["id"]
    done = command_in(ctx, cid, "completed", "failed", "rejected")
    assert done["state"] == "completed"
    assert done["result_message"] == "summarized: summarize ticket 42"
    assert [(c.task, c.mode, c.issued_by) for c in seen] == [
        ("summarize ticket 42", "steer", "token:test-operator")
    ]
    # Every step went through the lifecycle: fetched, accepted, then completed.
    assert done["delivered_at"] is not None
    assert audit_actions(ctx, cid) == ["command.accept", "command.complete"]
    # The loop counts a command once the server has answered its ack: the row can be there first.
    wait_for(lambda: loop.handled == 1, what="the loop to count the command")
    assert loop.alive


def test_kill_ends_the_session_killed_and_is_verified(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "runaway-1")
    agent.on_command()  # the default kill handler
    started = threading.Event()
    outcome: list[str] = []

    def work() -> None:  # an agent that watches for a stop between steps
        try:
            with agent.session(model="gpt-4.1", provider="openai", task="loop forever") as s:
                started.set()
                while True:
                    agent.check_stop()
                    s.usage(provider="openai", response=OPENAI)
                    time.sleep(0.05)
        except StopRequested as exc:
            outcome.append(exc.strength)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    assert started.wait(5)
    session_id = agent.current_session.id
    wait_for(lambda: card_status(ctx, "runaway-1") == "running", what="agent running")

    status, doc = api(url, control_token, "/api/v1/agents/runaway-1/kill", {"reason": "runaway loop"})
    assert status == 201
    cid = doc["command"]["id"]
    assert card_status(ctx, "runaway-1") == "killing"  # reflected at once
    done = command_in(ctx, cid, "completed", "failed")
    assert done["state"] == "completed", done
    worker.join(5)
    assert outcome == ["graceful"] and agent.stop_requested.is_set()
    assert done["verification"] == "awaiting"
    assert card_status(ctx, "runaway-1") == "killed"
    assert ctx.repo.agent_detail("runaway-1")["agent"]["current_session_id"] is None
    with ctx.repo.engine.connect() as conn:
        row = conn.execute(select(Session.status, Session.error).where(Session.id == session_id)).one()
    assert (row.status, row.error) == ("killed", "stopped on a graceful kill command")  # the client ended it

    assert ctx.control.verify_kills(1) == []  # confirmed, but the settle time has not passed yet
    # The settle time passes with no usage from the agent (the scheduler runs this every 5 s).
    wait_for(lambda: ctx.control.verify_kills(1) == [cid], what="the kill to be verified")
    assert ctx.repo.get_command(cid)["verification"] == "verified"


def test_usage_after_a_confirmed_kill_marks_it_ineffective(
    live_server, ingest_token, control_token, make_client
):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "stubborn-1")
    agent.on_command()
    status, doc = api(
        url, control_token, "/api/v1/agents/stubborn-1/kill", {"reason": "stop", "strength": "force"}
    )
    assert status == 201
    cid = doc["command"]["id"]
    done = command_in(ctx, cid, "completed", "failed")
    assert done["state"] == "completed" and "force" in done["result_message"]
    assert agent.stop_requested.is_set() and agent.stop_strength == "force"
    # The agent ignores the stop and calls its model again.
    time.sleep(0.05)
    agent.usage("openai", response=OPENAI)
    assert client.flush(timeout=10)
    assert ctx.repo.get_command(cid)["verification"] == "ineffective"
    assert ctx.control.verify_kills(0) == []  # an ineffective kill is never verified later


def test_a_handler_rejects_with_command_rejected(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "busy-1")

    def refuse(cmd: Command) -> str:
        raise CommandRejected(f"busy deploying; not taking {cmd.task!r}")

    agent.on_command(inject=refuse)
    _, doc = api(url, control_token, "/api/v1/agents/busy-1/tasks", {"task": "write docs"})
    done = command_in(ctx, doc["command"]["id"], "rejected", "completed", "failed")
    assert (done["state"], done["result_message"]) == ("rejected", "busy deploying; not taking 'write docs'")

    # A handler that breaks after accepting: failed, with the exception's text.
    def broken(cmd: Command) -> str:
        cmd.accept()
        raise ValueError("tool crashed")

    agent.on_command(inject=broken)  # re-arms the same loop with new handlers
    _, doc = api(url, control_token, "/api/v1/agents/busy-1/tasks", {"task": "again"})
    done = command_in(ctx, doc["command"]["id"], "failed", "completed", "rejected")
    assert done["result_message"] == "ValueError: tool crashed"
    assert audit_actions(ctx, done["id"]) == ["command.accept", "command.fail"]


def test_without_an_inject_handler_tasks_are_rejected(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "plain-1")
    client.start_commands("plain-1")  # by agent id: default kill and model handlers only
    _, doc = api(url, control_token, "/api/v1/agents/plain-1/tasks", {"task": "anything"})
    done = command_in(ctx, doc["command"]["id"], "rejected", "completed", "failed")
    assert done["state"] == "rejected" and "no inject" in done["result_message"]
    assert agent.agent_id == "plain-1"


def test_model_command_switches_the_model(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "thrifty-1")
    agent.on_command()
    status, doc = api(
        url, control_token, "/api/v1/agents/thrifty-1/model", {"model": "gpt-4.1-mini", "reason": "spend"}
    )
    assert status == 201, doc
    done = command_in(ctx, doc["command"]["id"], "completed", "failed", "rejected")
    assert done["state"] == "completed" and "gpt-4.1-mini" in done["result_message"]
    assert agent.model == "gpt-4.1-mini"
    assert ctx.repo.agent_detail("thrifty-1")["agent"]["model"] == "gpt-4.1-mini"
    # The next heartbeat and session report the switched model.
    agent.heartbeat("running")
    with agent.session(task="cheaper now"):
        pass
    assert client.flush(timeout=10)
    detail = ctx.repo.agent_detail("thrifty-1")
    assert detail["agent"]["model"] == "gpt-4.1-mini"


def test_a_repeated_ack_counts_as_done(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "echo-1")
    loop = agent.on_command(inject=lambda cmd: "ok")
    _, doc = api(url, control_token, "/api/v1/agents/echo-1/tasks", {"task": "ping"})
    done = command_in(ctx, doc["command"]["id"], "completed")
    cmd = Command(loop, done)
    # The server answers 409 illegal_transition to the same answer again: the client takes it as done.
    assert loop.ack(cmd, "completed", "ok") is True
    assert ctx.repo.get_command(done["id"])["state"] == "completed"


def test_double_submitted_task_is_one_command(live_server, ingest_token, control_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    online_agent(client, "twin-1")
    key = uuid.uuid4().hex
    first = api(url, control_token, "/api/v1/agents/twin-1/tasks", {"task": "once"}, key)
    second = api(url, control_token, "/api/v1/agents/twin-1/tasks", {"task": "once"}, key)
    assert (first[0], second[0]) == (201, 200)
    assert first[1]["command"]["id"] == second[1]["command"]["id"]
    assert len(ctx.repo.commands_list(agent_id="twin-1")) == 1


def test_the_agent_keeps_working_when_the_server_is_down(dead_url, make_client, caplog):
    client = make_client(dead_url, "hc_nothing", max_retries=1)
    agent = client.agent("lonely-1")
    loop = agent.on_command(inject=lambda cmd: "never called")
    with caplog.at_level("WARNING", logger="helicarrier.client"):
        agent.heartbeat("running")
        with agent.session(model="gpt-4.1", task="offline work") as s:
            s.usage("openai", response=OPENAI)
            s.log("info", "still working")
        time.sleep(1.0)  # several polls fail and back off meanwhile
    assert loop.alive
    warnings = [r.getMessage() for r in caplog.records if "command poll" in r.getMessage()]
    assert len(warnings) == 1  # the first failure is logged, the retries are not
    started = time.monotonic()
    client.close(timeout=1)
    assert time.monotonic() - started < 5
    assert not loop.alive


def test_close_interrupts_the_long_poll(live_server, ingest_token, make_client):
    url, _ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "sleepy-1")
    loop = agent.on_command()
    wait_for(lambda: SERVED[url].active("/sleepy-1/commands"), what="the long poll to wait on the server")
    started = time.monotonic()
    client.close(timeout=1)
    assert time.monotonic() - started < 3
    assert not loop.alive


def _delivered_long_ago(ctx, cid: str, **values) -> datetime:
    """The command handed over 31 s ago (past the server's 30 s redelivery time); returns that time."""
    long_ago = utcnow() - timedelta(seconds=31)
    with ctx.repo.engine.begin() as conn:
        conn.execute(update(CommandRow).where(CommandRow.id == cid).values(delivered_at=long_ago, **values))
    return long_ago


def _delivered_at(ctx, cid: str) -> datetime:
    with ctx.repo.engine.connect() as conn:
        return conn.execute(select(CommandRow.delivered_at).where(CommandRow.id == cid)).scalar_one()


def test_a_command_handed_over_again_is_obeyed_once(live_server, ingest_token, control_token, make_client):
    """The server hands a command over again while it has no answer (at least once): the loop obeys it
    once, and when its answer is what the server missed, says it again."""
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = online_agent(client, "jarvis-9")
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def long_task(cmd: Command) -> str:
        calls.append(cmd.id)
        started.set()
        release.wait(30)
        return "done"

    agent.on_command(inject=long_task, wait=0.2)
    status, doc = api(url, control_token, "/api/v1/agents/jarvis-9/tasks", {"task": "a long one"})
    assert status == 201
    cid = doc["command"]["id"]
    assert started.wait(10)
    # Still being obeyed, no answer yet: the server hands it over again at the loop's next poll.
    long_ago = _delivered_long_ago(ctx, cid)
    wait_for(lambda: _delivered_at(ctx, cid) > long_ago, what="the command handed over again")
    release.set()
    assert command_in(ctx, cid, "completed", "failed", "rejected")["state"] == "completed"
    assert calls == [cid]

    # Answered, but say the server never heard it: handed over again, the loop repeats its answer.
    _delivered_long_ago(ctx, cid, state="delivered", result_message=None)
    assert command_in(ctx, cid, "completed")["result_message"] == "done"
    assert calls == [cid]
