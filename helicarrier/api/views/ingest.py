"""Agents report: ``POST /api/v1/ingest`` and the normalizer's preview."""

from __future__ import annotations

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
    return json_response(text, status)


def normalize():
    """What a usage event's ``data`` normalizes to and costs, without storing anything."""
    ctx = app_context()
    data = parse_json(read_json_body(ctx.settings.max_body_bytes))
    refuse_deep(data)
    return json_response(ctx.ingest.normalize_preview(data, utcnow()))
