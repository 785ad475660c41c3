"""OTLP attributes as plain values, and the few facts every signal reads from them: the agent, the session,
a timestamp. Plain functions over opentelemetry-proto messages."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

AGENT_KEYS = ("helicarrier.agent.id", "service.instance.id", "service.name")
SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "conversation.id")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TEXT = 4096  # one attribute value kept in an event; prompts and tool output never need more here


def text(value: str) -> str:
    """A string from the wire as it may be stored: no NUL, at most a few KiB."""
    # PostgreSQL text cannot hold NUL; OTLP strings may carry it.
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT]


def scalar(any_value) -> Any:
    """An AnyValue's string, int, finite double or bool; None for arrays, maps, bytes and non-finite
    doubles (nothing mapped here needs them, and they are never stored whole)."""
    kind = any_value.WhichOneof("value")
    if kind == "string_value":
        return text(any_value.string_value)
    if kind == "int_value":
        return any_value.int_value
    if kind == "double_value":
        v = any_value.double_value
        return v if math.isfinite(v) else None
    if kind == "bool_value":
        return any_value.bool_value
    return None


def flat(key_values) -> dict[str, Any]:
    """Repeated KeyValue -> {key: scalar}; keys with non-scalar values are left out."""
    out: dict[str, Any] = {}
    for kv in key_values:
        value = scalar(kv.value)
        if value is not None:
            out[text(kv.key)] = value
    return out


def first(keys: tuple[str, ...], *sources: dict[str, Any]) -> str | None:
    """The first non-empty value of ``keys``, looked up in each source in turn, as text."""
    for key in keys:
        for source in sources:
            value = source.get(key)
            if value is not None and value != "":
                return str(value)
    return None


def agent_of(resource: dict[str, Any], record: dict[str, Any] | None = None) -> str | None:
    """helicarrier.agent.id (on the record or the resource), else service.instance.id, else service.name."""
    if record is not None and record.get("helicarrier.agent.id"):
        return str(record["helicarrier.agent.id"])
    return first(AGENT_KEYS, resource)


def ts_of(nanos: int, fallback: datetime) -> datetime | None:
    """UTC time of an OTLP ``*_time_unix_nano``; ``fallback`` when unset (0); None when out of range."""
    if nanos <= 0:
        return fallback
    try:
        return _EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        return None


def digest(*parts: bytes | str) -> str:
    """A short stable id for something OTLP gives no id to (a log record, a data point)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()


def count(value: Any) -> int | None:
    """An integer attribute that may arrive as a number or as decimal text (OTLP/JSON int64, Codex)."""
    if value is None or type(value) is bool:
        return None
    if type(value) is int:
        return value
    if type(value) is float:
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    # At most int64's 19 digits: longer text is no count OTLP can send (and int() of 4,300+ digits raises).
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None
