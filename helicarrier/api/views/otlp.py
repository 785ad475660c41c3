"""OpenTelemetry exporters report: ``POST /api/v1/otlp/v1/{traces,logs,metrics}`` (OTLP/HTTP).

With ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8050/api/v1/otlp`` and
``OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer $TOKEN"`` every signal lands here. Answers follow the
OTLP/HTTP spec: 200 with the Export*ServiceResponse in the request's encoding (``partial_success`` names what
was refused), and a google.rpc.Status body for errors (``status_response``).
"""

from __future__ import annotations

from flask import Response, g, request

from helicarrier.api.http import app_context, read_body
from helicarrier.errors import Refused
from helicarrier.otlp.wire import (
    JSON,
    LOGS,
    METRICS,
    TRACES,
    Signal,
    decode_request,
    encode_response,
    encode_status,
    encoding_of,
    inflate_bounded,
)

PREFIX = "/api/v1/otlp/"


def traces():
    """curl -X POST http://127.0.0.1:8050/api/v1/otlp/v1/traces -H "Authorization: Bearer $TOKEN" \\
         -H "Content-Type: application/x-protobuf" --data-binary @spans.pb"""
    return _export(TRACES)


def logs():
    """Log records: Claude Code's and Codex CLI's telemetry events."""
    return _export(LOGS)


def metrics():
    """Metric data points: Claude Code's ``claude_code.*`` metrics."""
    return _export(METRICS)


def _body(limit: int) -> bytes:
    body = read_body(limit)
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("gzip", "deflate"):
        return inflate_bounded(body, limit)
    if coding not in ("", "identity"):
        raise Refused(
            415, "unsupported_media_type", f"Content-Encoding {coding!r}: only gzip and deflate are accepted"
        )
    return body


def _export(signal: Signal):
    ctx = app_context()
    encoding = encoding_of(request.mimetype)
    if encoding is None:
        raise Refused(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/x-protobuf or application/json, not "
            f"{request.content_type or 'missing'!r}",
        )
    message = decode_request(signal, _body(ctx.settings.max_body_bytes), encoding)
    rejected, text = ctx.otlp.receive(signal.name, g.token.speaker, message, request.remote_addr)
    return Response(encode_response(signal, rejected, text, encoding), 200, mimetype=encoding)


def is_otlp_request() -> bool:
    return request.path.startswith(PREFIX)


def status_response(refused: Refused, headers: dict[str, str] | None = None) -> Response:
    """A refusal on an OTLP route: a google.rpc.Status in the request's encoding (JSON when it has none)."""
    encoding = encoding_of(request.mimetype) or JSON
    body = encode_status(refused, encoding)
    return Response(body, refused.status, mimetype=encoding, headers=headers or refused.headers)
