"""Control routes (Flower-style: one small handler per action, authenticated, 404/409/422, audited).

Operators (scope ``control``)::

    POST /api/v1/agents/<id>/kill      {"reason": "runaway loop", "strength": "graceful"|"force"}
    POST /api/v1/agents/<id>/tasks     {"task": "summarize ticket 42", "mode": "steer"|"follow_up"|"queue"}
    POST /api/v1/agents/<id>/model     {"model": "gpt-4.1-mini", "provider": "openai", "reason": "..."}
    POST /api/v1/agents/<id>/commands  {"kind": "kill"|"inject"|"model", ...}
    POST /api/v1/commands/<cid>/cancel

Agents (scope ``ingest``)::

    GET  /api/v1/agents/<id>/commands?wait=20   long-poll: pending commands, now delivered
    POST /api/v1/commands/<cid>/ack             {"agent_id": ..., "state": "completed", "message": ...}

Anyone with ``read``: ``GET /api/v1/commands/<cid>``.

Every control request takes an ``Idempotency-Key``: a double click or a retry issues one command.
"""

from __future__ import annotations

import time

import orjson
from flask import Blueprint, Response, current_app, g, request

from helicarrier.api.auth import require_scope
from helicarrier.data.queries.commands import Actor, CommandRefused
from helicarrier.ingest.errors import ApiError
from helicarrier.ingest.routes import read_json_body

bp = Blueprint("control", __name__, url_prefix="/api/v1")
MAX_WAIT_S = 30
POLL_STEP_S = 0.25


def _ctx():
    return current_app.config["HELICARRIER"]


def _json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj, default=str), status=status, mimetype="application/json")


def _actor() -> Actor:
    return Actor(f"token:{g.token.name}", "token", None, request.remote_addr)


def _refused(exc: CommandRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, exc.details)


def _body() -> dict:
    raw = read_json_body(64 * 1024)
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ApiError(422, "schema_violation", "the body must be a JSON object")
    return doc


def _issue(agent_id: str, body: dict, action: str):
    ctx = _ctx()
    actor = _actor()
    key = request.headers.get("Idempotency-Key")
    if key is not None and len(key) > 255:
        raise ApiError(422, "invalid_idempotency_key", "Idempotency-Key is longer than 255 characters")
    try:
        command, created = ctx.control.issue(actor, agent_id, body, key)
    except CommandRefused as exc:
        ctx.control.refuse(actor, action, agent_id, exc)
        raise _refused(exc) from None
    return _json({"command": command, "created": created}, 201 if created else 200)


@bp.post("/agents/<agent_id>/kill")
@require_scope("control")
def kill(agent_id: str):
    """Tactical Override: stop the agent's current session.

    curl -X POST $URL/api/v1/agents/atlas-01/kill -H "Authorization: Bearer $T" \\
         -H "Content-Type: application/json" -H "Idempotency-Key: $(uuidgen)" -d '{"reason": "runaway loop"}'
    """
    return _issue(agent_id, {**_body(), "kind": "kill"}, "command.kill")


@bp.post("/agents/<agent_id>/tasks")
@require_scope("control")
def inject(agent_id: str):
    """Jarvis Terminal: hand the agent a task or an instruction."""
    return _issue(agent_id, {**_body(), "kind": "inject"}, "command.inject")


@bp.post("/agents/<agent_id>/model")
@require_scope("control")
def switch_model(agent_id: str):
    """Tell the agent to use another model from its next call (validated against the price table)."""
    return _issue(agent_id, {**_body(), "kind": "model"}, "command.model")


@bp.post("/agents/<agent_id>/commands")
@require_scope("control")
def issue(agent_id: str):
    """Any command kind, named in the body."""
    body = _body()
    return _issue(agent_id, body, f"command.{body.get('kind')}"[:64])


@bp.get("/agents/<agent_id>/commands")
@require_scope("ingest")
def poll(agent_id: str):
    """The agent's poll. ``?wait=N`` holds the request up to N seconds (max 30) until a command arrives."""
    try:
        wait = min(float(request.args.get("wait", 0)), MAX_WAIT_S)
    except ValueError:
        raise ApiError(
            422, "schema_violation", "wait: must be a number of seconds", {"field": "wait"}
        ) from None
    deadline = time.monotonic() + max(wait, 0)
    repo = _ctx().repo
    while True:
        commands = repo.deliver_commands(agent_id)
        if commands or time.monotonic() >= deadline:
            return _json({"commands": commands})
        time.sleep(POLL_STEP_S)


@bp.post("/commands/<command_id>/ack")
@require_scope("ingest")
def ack(command_id: str):
    """An agent's answer. The agent is named in the body (``agent_id``) and must be the command's agent."""
    body = _body()
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id:
        raise ApiError(422, "schema_violation", "agent_id: required", {"field": "agent_id"})
    try:
        command = _ctx().repo.ack_command(command_id, agent_id, body.get("state"), body.get("message"))
    except CommandRefused as exc:
        raise _refused(exc) from None
    return _json({"command": command})


@bp.get("/commands/<command_id>")
@require_scope("read")
def get_command(command_id: str):
    command = _ctx().repo.get_command(command_id)
    if command is None:
        raise ApiError(404, "unknown_command", f"no command {command_id}")
    return _json({"command": command})


@bp.post("/commands/<command_id>/cancel")
@require_scope("control")
def cancel(command_id: str):
    """Cancel a command that is still pending (an agent has not fetched it)."""
    ctx = _ctx()
    actor = _actor()
    try:
        command = ctx.repo.cancel_command(command_id, actor)
    except CommandRefused as exc:
        ctx.control.refuse(actor, "command.cancel", None, exc)
        raise _refused(exc) from None
    return _json({"command": command})
