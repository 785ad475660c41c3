"""OTLP/HTTP on the wire: request bodies in, Export*ServiceResponse and google.rpc.Status out.

Both encodings the spec defines (``application/x-protobuf`` and ``application/json``), gzip or not. The
messages are opentelemetry-proto's; JSON goes through protobuf's own ``json_format`` after one fix: OTLP/JSON
writes trace and span ids as hex (https://github.com/open-telemetry/opentelemetry-proto/blob/main/docs/
specification.md#json-protobuf-encoding), where the generic proto3 JSON mapping expects base64.

Plain functions: no Flask, no database. A body that cannot be decoded is a ``Refused`` (400, 413, 415).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from helicarrier.errors import Refused

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass(frozen=True)
class Signal:
    """One of the three OTLP signals: its request and response messages and what its items are called."""

    name: str  # traces | logs | metrics
    request: type[Message]
    response: type[Message]
    partial: type[Message]
    rejected_field: str  # the partial_success counter


TRACES = Signal(
    "traces",
    trace_service_pb2.ExportTraceServiceRequest,
    trace_service_pb2.ExportTraceServiceResponse,
    trace_service_pb2.ExportTracePartialSuccess,
    "rejected_spans",
)
LOGS = Signal(
    "logs",
    logs_service_pb2.ExportLogsServiceRequest,
    logs_service_pb2.ExportLogsServiceResponse,
    logs_service_pb2.ExportLogsPartialSuccess,
    "rejected_log_records",
)
METRICS = Signal(
    "metrics",
    metrics_service_pb2.ExportMetricsServiceRequest,
    metrics_service_pb2.ExportMetricsServiceResponse,
    metrics_service_pb2.ExportMetricsPartialSuccess,
    "rejected_data_points",
)
SIGNALS = {s.name: s for s in (TRACES, LOGS, METRICS)}

# google.rpc.Code values for the Status bodies the spec asks for.
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 422: 3, 429: 8, 500: 13, 503: 14}
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_ID_HEX_LENGTHS = frozenset({32, 16})  # trace ids are 16 bytes, span ids 8


def encoding_of(mimetype: str | None) -> str | None:
    """``PROTOBUF``, ``JSON`` or None for a request's Content-Type (without parameters)."""
    kind = (mimetype or "").strip().lower()
    if kind == PROTOBUF:
        return PROTOBUF
    if kind == JSON or kind.endswith("+json"):
        return JSON
    return None


def inflate_bounded(body: bytes, limit: int) -> bytes:
    """The decompressed body, never holding more than ``limit`` + a chunk in memory: a zip bomb is a 413
    before it is inflated, a corrupt stream a 400."""
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib (deflate) headers
    out = bytearray()
    chunk = 64 * 1024
    data = body
    try:
        while True:
            piece = inflater.decompress(data, chunk)
            out += piece
            if len(out) > limit:
                raise Refused(
                    413,
                    "body_too_large",
                    f"compressed body inflates past the limit of {limit} bytes",
                    {"limit": limit},
                )
            data = inflater.unconsumed_tail
            if not data and not piece:
                break
        if not inflater.eof:
            raise Refused(400, "undecodable_body", "compressed body is truncated")
    except zlib.error as exc:
        raise Refused(400, "undecodable_body", f"compressed body is corrupt: {exc}") from None
    return bytes(out)


def _hex_ids_to_base64(node: Any) -> Any:
    """Rewrite OTLP/JSON's hex trace/span ids into the base64 the proto3 JSON mapping reads. A value that
    is not hex of an id's length is left alone (some exporters send proto3 JSON's base64)."""
    if type(node) is dict:
        for key, value in node.items():
            if key in _ID_KEYS and type(value) is str:
                if len(value) in _ID_HEX_LENGTHS:
                    with contextlib.suppress(binascii.Error, ValueError):
                        node[key] = base64.b64encode(binascii.unhexlify(value)).decode()
            elif type(value) in (dict, list):
                _hex_ids_to_base64(value)
    elif type(node) is list:
        for item in node:
            if type(item) in (dict, list):
                _hex_ids_to_base64(item)
    return node


def decode_request(signal: Signal, body: bytes, encoding: str) -> Message:
    """The Export*ServiceRequest in ``body``; 400 ``undecodable_body`` when it is not one."""
    message = signal.request()
    try:
        if encoding == PROTOBUF:
            message.ParseFromString(body)
        else:
            doc = orjson.loads(body) if body.strip() else {}
            if not isinstance(doc, dict):
                raise ValueError("the body must be a JSON object")
            json_format.ParseDict(_hex_ids_to_base64(doc), message, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, orjson.JSONDecodeError, ValueError, RecursionError) as exc:
        kind = "protobuf" if encoding == PROTOBUF else "JSON"
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise Refused(
            400,
            "undecodable_body",
            f"the body is not an OTLP {kind} {signal.request.DESCRIPTOR.name}: {detail}",
        ) from None
    return message


def encode_response(signal: Signal, rejected: int, message: str, encoding: str) -> bytes:
    """The Export*ServiceResponse: ``partial_success`` only when something was rejected (the spec leaves it
    unset for a request accepted whole)."""
    response = signal.response()
    if rejected:
        partial = response.partial_success
        setattr(partial, signal.rejected_field, rejected)
        partial.error_message = message
    if encoding == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(refused: Refused, encoding: str) -> bytes:
    """A refusal as the google.rpc.Status body OTLP/HTTP asks for. In JSON the project's usual ``error``
    object rides along (Status readers ignore it; Helicarrier's clients read it)."""
    status = status_pb2.Status(
        code=_RPC_CODES.get(refused.status, 2), message=f"{refused.code}: {refused.message}"
    )
    if encoding == PROTOBUF:
        return status.SerializeToString()
    doc = json_format.MessageToDict(status)
    doc.update(refused.body())
    return orjson.dumps(doc, default=str)
