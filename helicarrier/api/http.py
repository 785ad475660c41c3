"""The small HTTP toolkit every API view uses: the app's context, JSON answers, JSON request bodies with their
size and type checks, and the actor a token stands for. Views stay a few lines each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from flask import Response, current_app, g, request

from helicarrier.actors import Actor
from helicarrier.errors import Refused
from helicarrier.jsonio import NUL_MESSAGE, find_nul, parse_json, refuse_deep

if TYPE_CHECKING:
    from helicarrier.context import AppContext

JSON = "application/json"
# Control, alert and rule requests are small; only ingest takes large bodies (its own setting).
SMALL_BODY = 64 * 1024


def app_context() -> AppContext:
    """What the running app holds (settings, repository, services)."""
    return current_app.config["HELICARRIER"]


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``obj`` as JSON. Datetimes come out as ISO 8601 with their offset, Decimals as strings."""
    body = obj if isinstance(obj, bytes | str) else orjson.dumps(obj, default=str)
    return Response(body, status=status, mimetype=JSON, headers=headers)


def read_json_body(max_bytes: int) -> bytes:
    """The raw body after the checks every JSON route shares: content type (415) and size (413)."""
    mimetype = request.mimetype or ""
    if mimetype != JSON and not mimetype.endswith("+json"):
        raise Refused(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, not {request.content_type or 'missing'!r}",
        )
    return read_body(max_bytes)


def read_body(max_bytes: int) -> bytes:
    """The raw body, refused with a 413 past ``max_bytes`` (declared or actual), never read further."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise Refused(
            413,
            "body_too_large",
            f"body is {request.content_length} bytes; the limit is {max_bytes}",
            {"limit": max_bytes},
        )
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise Refused(
            413, "body_too_large", f"body exceeds the limit of {max_bytes} bytes", {"limit": max_bytes}
        )
    return body


def read_json_object(max_bytes: int = SMALL_BODY) -> dict[str, Any]:
    """A JSON object body (an empty body is ``{}``): 400 when it is not JSON, 422 when it is not an object."""
    raw = read_json_body(max_bytes)
    doc = parse_json(raw) if raw.strip() else {}
    if not isinstance(doc, dict):
        raise Refused(422, "schema_violation", "the body must be a JSON object")
    refuse_deep(doc)
    hit = find_nul(doc, "")
    if hit is not None:  # PostgreSQL cannot hold it: the same 422 on both backends
        raise Refused(422, "schema_violation", f"{hit}: {NUL_MESSAGE}", {"field": hit})
    return doc


def refuse_nul_parameters(path_params: dict[str, Any]) -> None:
    """A 422 naming the path or query parameter that carries U+0000 (PostgreSQL refuses it: a 500)."""
    where = [(name, value) for name, value in path_params.items() if isinstance(value, str)]
    where += list(request.args.items(multi=True))
    for name, value in where:
        if "\x00" in value or "\x00" in name:
            field = name.replace("\x00", "\\u0000")
            raise Refused(422, "invalid_parameter", f"{field}: {NUL_MESSAGE}", {"field": field})


def token_actor() -> Actor:
    """The actor the request's API token stands for (set by the scope check)."""
    return Actor(f"token:{g.token.name}", "token", None, request.remote_addr)


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and "\x00" in key:
        raise Refused(
            422, "invalid_idempotency_key", f"Idempotency-Key: {NUL_MESSAGE}", {"field": "Idempotency-Key"}
        )
    if key is not None and len(key) > 255:
        raise Refused(
            422,
            "invalid_idempotency_key",
            "Idempotency-Key is longer than 255 characters",
            {"field": "Idempotency-Key", "limit": 255},
        )
    return key
