"""Command & Control over HTTP, Flower-style: one small view per action. The route table gives each its
scope (operators: ``control``; agents: ``ingest``); ``ControlService`` validates, decides, stores and
audits, exactly as for the HUD's buttons. Every request that issues a command takes an
``Idempotency-Key``: a double click or a retry issues one command.
"""

from __future__ import annotations

import time

from flask import g, request

from helicarrier.api import params
from helicarrier.api.http import app_context, idempotency_key, json_response, read_json_object, token_actor
from helicarrier.api.peer import client_gone
from helicarrier.control.validation import AckAnswer
from helicarrier.errors import Refused

MAX_WAIT_S = 30
POLL_STEP_S = 0.25


def _issue(agent_id: str, body: dict):
    command, created = app_context().control.issue(token_actor(), agent_id, body, idempotency_key())
    return json_response({"command": command, "created": created}, 201 if created else 200)


def kill(agent_id: str):
    """Tactical Override: stop the agent's current session.

    curl -X POST $URL/api/v1/agents/atlas-01/kill -H "Authorization: Bearer $T" \\
         -H "Content-Type: application/json" -H "Idempotency-Key: $(uuidgen)" -d '{"reason": "runaway loop"}'
    """
    return _issue(agent_id, {**read_json_object(), "kind": "kill"})


def inject(agent_id: str):
    """Jarvis Terminal: hand the agent a task or an instruction."""
    return _issue(agent_id, {**read_json_object(), "kind": "inject"})


def pause(agent_id: str):
    """Pause the agent: it finishes its current model call, then waits for a resume."""
    return _issue(agent_id, {**read_json_object(), "kind": "pause"})


def resume(agent_id: str):
    """Let a paused agent go on."""
    return _issue(agent_id, {**read_json_object(), "kind": "resume"})


def switch_model(agent_id: str):
    """Tell the agent to use another model from its next call (validated against the price table)."""
    return _issue(agent_id, {**read_json_object(), "kind": "model"})


def issue(agent_id: str):
    """Any command kind, named in the body."""
    return _issue(agent_id, read_json_object())


def release(agent_id: str):
    """Let a killed agent work again (its next ``session.start`` does the same)."""
    body = read_json_object()
    state = app_context().control.release(token_actor(), agent_id, body.get("reason"))
    return json_response({"agent_id": agent_id, "control_state": state})


def poll(agent_id: str):
    """The agent's poll. ``?wait=N`` holds the request up to N seconds until a command arrives; a longer wait
    is held 30 s (clients may ask for more, the server holds a thread no longer)."""
    wait = params.number("wait", 0.0, 0.0, 3600.0)
    deadline = time.monotonic() + min(wait, MAX_WAIT_S)
    control = app_context().control
    control.check_poller(g.token.speaker, agent_id, request.remote_addr)
    while True:
        # An agent that hung up (it died, or its own timeout was shorter) is handed nothing: a command handed
        # over now would be marked delivered and lost; left pending, the agent's next poll receives it.
        gone = client_gone(request.environ)
        commands = [] if gone else control.deliver(agent_id)
        if gone or commands or time.monotonic() >= deadline:
            # A locked budget holds the agent: it starts no new work until the lock lifts.
            locks = app_context().budgets.locks_for_id(agent_id)
            return json_response({"commands": commands, "budget_locked": bool(locks), "budget_locks": locks})
        time.sleep(POLL_STEP_S)


def ack(command_id: str):
    """An agent's answer. The agent is named in the body (``agent_id``) and must be the command's agent;
    a kill is confirmed with the session it stopped (``session_id``)."""
    body = read_json_object()
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id:
        raise Refused.invalid("agent_id", "required")
    if len(agent_id) > 128:  # the longest agent id ingest takes (and the column holds)
        raise Refused.invalid("agent_id", "at most 128 characters")
    answer = AckAnswer(body.get("state"), body.get("message"), body.get("session_id"))
    command = app_context().control.ack(g.token.speaker, command_id, agent_id, answer, request.remote_addr)
    return json_response({"command": command})


def get_command(command_id: str):
    command = app_context().repo.get_command(command_id)
    if command is None:
        raise Refused(404, "unknown_command", f"no command {command_id}")
    return json_response({"command": command})


def cancel(command_id: str):
    """Cancel a command that is still pending (its agent has not fetched it)."""
    return json_response({"command": app_context().control.cancel(token_actor(), command_id)})
