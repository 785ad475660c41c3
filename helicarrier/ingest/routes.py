"""The ingest routes: POST /api/v1/ingest, POST /api/v1/usage/normalize, GET /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from helicarrier.api.auth import require_scope
from helicarrier.data.types import utcnow
from helicarrier.ingest.errors import ApiError
from helicarrier.ingest.service import Caller
from helicarrier.ingest.validate import parse_json

bp = Blueprint("ingest", __name__, url_prefix="/api/v1")


def _json(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="application/json")


def read_json_body(max_bytes: int) -> bytes:
    """The raw body, after the checks every JSON route shares: content type (415) and size (413)."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, not {request.content_type or 'missing'!r}",
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(
            413,
            "body_too_large",
            f"body is {request.content_length} bytes; the limit is {max_bytes}",
            {"limit": max_bytes},
        )
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(
            413, "body_too_large", f"body exceeds the limit of {max_bytes} bytes", {"limit": max_bytes}
        )
    return body


@bp.post("/ingest")
@require_scope("ingest")
def ingest():
    """Report events: a v1 single event or a v2 batch.

    curl -X POST http://127.0.0.1:8050/api/v1/ingest -H "Authorization: Bearer $TOKEN" \\
         -H "Content-Type: application/json" -d @batch.json
    """
    ctx = current_app.config["HELICARRIER"]
    body = read_json_body(ctx.settings.max_body_bytes)
    status, text = ctx.ingest.ingest(
        Caller(g.token.id, g.token.name), body, request.headers.get("Idempotency-Key"), request.path
    )
    return _json(text, status)


@bp.post("/usage/normalize")
@require_scope("ingest")
def normalize():
    """What a usage event's ``data`` normalizes to and costs, without storing anything."""
    ctx = current_app.config["HELICARRIER"]
    data = parse_json(read_json_body(ctx.settings.max_body_bytes))
    import orjson

    return _json(orjson.dumps(ctx.ingest.normalize_preview(data, utcnow())))


@bp.get("/openapi.json")
def openapi():
    import orjson

    from helicarrier.api.openapi import openapi_document

    return _json(orjson.dumps(openapi_document()))


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(unknown: str):
    # Without this, Dash's catch-all page route would answer unknown API paths with HTML.
    allowed = sorted(
        {
            m
            for rule in current_app.url_map.iter_rules()
            if rule.rule == request.path and rule.endpoint != request.endpoint
            for m in (rule.methods or ()) - {"HEAD", "OPTIONS"}
        }
    )
    if allowed:  # a real route, asked with the wrong method
        raise ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
            {"allowed": allowed},
        )
    raise ApiError(404, "not_found", f"no API route /api/v1/{unknown}")
