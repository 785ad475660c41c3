"""Agents report: ``POST /api/v1/ingest`` and the normalizer's preview."""

from __future__ import annotations

import orjson
from flask import g, request

from helicarrier.api.http import app_context, idempotency_key, json_response, read_json_body
from helicarrier.data.types import utcnow
from helicarrier.jsonio import parse_json, refuse_deep


def ingest():
    """Report events: a v1 single event or a v2 batch.

    curl -X POST http://127.0.0.1:8050/api/v1/ingest -H "Authorization: Bearer $TOKEN" \\
         -H "Content-Type: application/json" -d @batch.json
    """
    ctx = app_context()
    body = read_json_body(ctx.settings.max_body_bytes)
    status, text = ctx.ingest.ingest(
        g.token.speaker, body, idempotency_key(), request.path, request.remote_addr
    )
    if status < 300 and b"agent.heartbeat" in body:
        text = _with_budget_locks(ctx, body, text)
    return json_response(text, status)


def _with_budget_locks(ctx, body: bytes, text) -> bytes:
    """A heartbeat's answer tells the agent whether a locked budget holds it (``budget_locked``), so that a
    well-behaved client starts no new work; its telemetry was taken all the same."""
    try:
        doc = parse_json(body)
        events = doc.get("events") if doc.get("version") == "v2" else [doc]
        agents = {
            e.get("agent_id") for e in events if isinstance(e, dict) and e.get("type") == "agent.heartbeat"
        }
    except (ValueError, AttributeError, TypeError):
        return text
    locks = [
        lock for a in sorted(a for a in agents if isinstance(a, str)) for lock in ctx.budgets.locks_for_id(a)
    ]
    answer = orjson.loads(text)
    answer["budget_locked"] = bool(locks)
    answer["budget_locks"] = list({lock["id"]: lock for lock in locks}.values())
    return orjson.dumps(answer)


def normalize():
    """What a usage event's ``data`` normalizes to and costs, without storing anything."""
    ctx = app_context()
    data = parse_json(read_json_body(ctx.settings.max_body_bytes))
    refuse_deep(data)
    return json_response(ctx.ingest.normalize_preview(data, utcnow()))
