"""Turning a request body into checked events: plain functions, no Flask, no database.

A v2 batch is validated event by event, so one bad event is reported by index and does not sink the rest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, FailFast, Tag, TypeAdapter, ValidationError

from helicarrier.errors import Refused
from helicarrier.ingest.drift import unknown_fields
from helicarrier.ingest.normalize import NormalizedUsage, UsageError, normalize_usage
from helicarrier.ingest.schemas import (
    DATA_MODELS,
    SESSION_REQUIRED,
    TYPED_V2_EVENTS,
    EventHeader,
    V1Envelope,
    V2Envelope,
    V2Event,
)
from helicarrier.jsonio import DEPTH_MESSAGE, NUL_MESSAGE, each_within, find_nul, parse_json, too_deep
from helicarrier.money import NANOS_PER_USD
from helicarrier.observability.metrics import note_envelope
from helicarrier.observability.tracing import span

_V1_HEADER_KEYS = frozenset({"version", "id", "type", "ts", "agent_id", "session_id"})


@dataclass(slots=True)
class Event:
    index: int
    id: str | None
    type: str
    ts: datetime
    agent_id: str
    session_id: str | None
    data: BaseModel
    raw: dict[str, Any]
    usage: NormalizedUsage | None = None
    # The same id earlier in the same batch: reported as a duplicate, stored once.
    duplicate: bool = False
    # A usage event's fields the normalizer does not know (helicarrier.ingest.drift), found when it is
    # normalized: outside the store's transaction, which on SQLite holds the one write lock.
    drift: list[tuple[str, str, str]] | tuple[()] = ()


@dataclass(slots=True)
class Rejection:
    index: int
    id: str | None
    code: str
    message: str
    field: str | None = None
    type: object = None  # the event's `type` as sent, when it had one (for the metrics' bounded label)

    def as_result(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "status": "rejected",
            "error": {"code": self.code, "message": self.message, "field": self.field},
        }


@dataclass(slots=True)
class Batch:
    version: str
    source: str
    provenance: str | None
    pricing_version: str | None
    events: list[Event]
    rejections: list[Rejection]

    @property
    def size(self) -> int:
        return len(self.events) + len(self.rejections)


# Bounds that keep one event's numbers (and a session's sums of them) inside BIGINT columns: no real model
# call reports a trillion tokens or costs a million dollars, and beyond 2**63 the database refuses the row.
MAX_TOKEN_COUNT = 10**12
MAX_REPORTED_COST_NANOS = 10**6 * NANOS_PER_USD
MAX_MODEL_CHARS = 200  # the usage_events columns
MAX_PROVIDER_CHARS = 64
_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def normalize_checked(data: dict[str, Any]) -> NormalizedUsage:
    """:func:`normalize_usage`, plus the bounds above (a UsageError naming the field past them)."""
    usage = normalize_usage(data)
    # The payload's own model or provider (a response body, OTel attributes) is bounded like the event's.
    if usage.model is not None and len(usage.model) > MAX_MODEL_CHARS:
        raise UsageError("model", f"model name is longer than {MAX_MODEL_CHARS} characters")
    if len(usage.provider) > MAX_PROVIDER_CHARS:
        raise UsageError("provider", f"provider name is longer than {MAX_PROVIDER_CHARS} characters")
    for name in _COUNT_FIELDS:
        value = getattr(usage, name)
        if value is not None and value > MAX_TOKEN_COUNT:
            where = next((k for k in ("response", "usage", "attributes") if data.get(k) is not None), "usage")
            raise UsageError(
                where, f"{name} {value} is more than the {MAX_TOKEN_COUNT} a model call can report"
            )
    cost = usage.reported_cost_usd
    if cost is not None and cost * NANOS_PER_USD > MAX_REPORTED_COST_NANOS:
        raise UsageError("cost", f"reported cost {cost} USD is more than one model call can cost")
    return usage


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "none", "bytes"})


def _is_union_tag(part: object) -> bool:
    """Pydantic puts the failed member of a union in the loc ("cost.str", "response.dict[str,any]")."""
    return isinstance(part, str) and (
        part in _UNION_TAGS or (part.endswith("]") and "[" in part and not part.startswith("["))
    )


def _loc(prefix: str, loc: tuple) -> str:
    path = prefix
    for part in loc:
        if _is_union_tag(part):
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One entry per field at fault, in order; a union's per-member messages are joined."""
    merged: dict[str, list[str]] = {}
    for e in exc.errors(include_url=False):
        msgs = merged.setdefault(_loc(prefix, e["loc"]), [])
        if e["msg"] not in msgs:
            msgs.append(e["msg"])
    return [{"field": f, "message": "; ".join(m)} for f, m in merged.items()]


def _first_error(exc: ValidationError, prefix: str) -> tuple[str, str]:
    err = field_errors(exc, prefix)[0]
    return err["field"], err["message"]


def _all_errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return field_errors(exc, prefix)


def _checked_data(
    index: int, header: EventHeader, data: dict[str, Any], data_prefix: str
) -> BaseModel | Rejection:
    """A v1 event's data in its type's model, or why not."""
    try:
        data_obj = DATA_MODELS[header.type].model_validate(data)
    except ValidationError as exc:
        field, msg = _first_error(exc, data_prefix)
        return Rejection(index, header.id, "schema_violation", f"{field}: {msg}", field, header.type)
    return _missing_session(index, header) or data_obj


def _missing_session(index: int, header: EventHeader) -> Rejection | None:
    if header.type in SESSION_REQUIRED and not header.session_id:
        return Rejection(
            index, header.id, "schema_violation", "session_id is required", "session_id", header.type
        )
    return None


def _event(index: int, header: EventHeader, data_obj: BaseModel, data: dict[str, Any]) -> Event:
    return Event(index, header.id, header.type, header.ts, header.agent_id, header.session_id, data_obj, data)


def _normalized(event: Event, data_prefix: str) -> Event | Rejection:
    """A checked event with its usage normalized, or refused when it cannot be."""
    if event.type == "usage":
        try:
            event.usage = normalize_checked(event.raw)
            event.drift = unknown_fields(event.usage.provider, event.raw)
        except UsageError as exc:
            field = f"{data_prefix}.{exc.field}" if data_prefix else exc.field
            return Rejection(
                event.index, event.id, "invalid_usage", f"{field}: {exc.message}", field, event.type
            )
    return event


def _nul_or_depth(
    value: Any, prefix: str, scan_nul: bool, check_depth: bool = True
) -> tuple[str | None, str]:
    """The first path nested past the limit, else the first with a NUL: depth first, since the NUL scan
    recurses (and a value deeper than the limit would parse, then fail to be stored; helicarrier.jsonio).
    ``check_depth`` False: the caller has checked the depth already."""
    hit = too_deep(value, prefix) if check_depth else None
    if hit is not None:
        return hit, DEPTH_MESSAGE
    return (find_nul(value, prefix), NUL_MESSAGE) if scan_nul else (None, "")


def _refuse_nul_or_depth(doc: dict[str, Any], scan_nul: bool) -> None:
    """A whole-request 422 for a NUL character or nesting past the limit outside a v2 batch's events."""
    hit, message = _nul_or_depth(doc, "", scan_nul)
    if hit is not None:
        raise Refused(422, "schema_violation", f"{hit}: {message}", {"field": hit})


def _type(raw: Any) -> object:
    return raw.get("type") if isinstance(raw, dict) else None


def parse_v2(doc: dict[str, Any], *, max_events: int, scan_nul: bool = False) -> Batch:
    """A v2 batch checked event by event (``ingest.validate``), then its usage normalized
    (``ingest.normalize``): one bad event is a rejection by index, the others go on."""
    with span("ingest.validate") as validating:
        envelope, checked, rejections = _validate_v2(doc, max_events, scan_nul)
        if validating is not None:
            validating.set_attribute("ingest.events", len(checked) + len(rejections))
    with span("ingest.normalize", ingest__events=len(checked)):
        events = _normalize_v2(checked, rejections)
    rejections.sort(key=lambda r: r.index)  # the two steps' rejections, in the batch's order
    return Batch(
        version="v2",
        source=envelope.source.name,
        provenance=envelope.source.provenance,
        pricing_version=envelope.pricing_version,
        events=events,
        rejections=rejections,
    )


def _validate_v2(
    doc: dict[str, Any], max_events: int, scan_nul: bool
) -> tuple[V2Envelope, list[Event], list[Rejection]]:
    """The envelope, the events of a valid shape (their usage not normalized yet), the others' rejections."""
    events_raw = doc.get("events")
    if isinstance(events_raw, list) and len(events_raw) > max_events:
        raise Refused(
            413,
            "batch_too_large",
            f"batch has {len(events_raw)} events; the limit is {max_events}",
            {"limit": max_events, "received": len(events_raw)},
        )
    try:
        envelope = V2Envelope.model_validate(doc)
    except ValidationError as exc:
        field, msg = _first_error(exc, "")
        raise Refused(422, "schema_violation", f"{field}: {msg}", _all_errors(exc, "")) from None
    head = {k: v for k, v in doc.items() if k != "events"}
    _refuse_nul_or_depth(head, scan_nul)
    checked: list[Event] = []
    rejections: list[Rejection] = []
    # One walk of all the events for their depth; only when one is too deep is each checked to name it.
    check_depth = not each_within(envelope.events)
    results = None if check_depth or scan_nul else validate_at_once(envelope.events)
    if results is None:
        results = validate_one_by_one(envelope.events, scan_nul, check_depth)
    for result in results:
        (rejections if isinstance(result, Rejection) else checked).append(result)
    return envelope, checked, rejections


def _tag(raw: Any) -> str | None:
    """The typed model an event is validated with at once; None (an error: the batch goes one by one) for
    what only the per-event path can name (not an object, a type that is not one of ours)."""
    kind = raw.get("type") if type(raw) is dict else None
    return kind if type(kind) is str and kind in TYPED_V2_EVENTS else None


# The same typed models as the per-event path, in one core validator: one call over the whole batch
# instead of one model_validate (and its Python around it) per event. FailFast: at the first bad event the
# batch goes one by one anyway, so the others' errors would be built for nothing.
_AT_ONCE = TypeAdapter(
    Annotated[
        list[
            Annotated[
                Union[tuple(Annotated[model, Tag(kind)] for kind, model in TYPED_V2_EVENTS.items())],  # noqa: UP007
                Discriminator(_tag),
            ]
        ],
        FailFast(),
    ]
)


def validate_at_once(events: list[Any]) -> list[Event | Rejection] | None:
    """The common case, every event of a valid shape: all of them validated in one call. None when any
    event fails, so that the batch goes through :func:`validate_one_by_one` and each bad event gets exactly
    its own error (and the good ones are stored). The caller has checked depth and NUL already."""
    try:
        models = _AT_ONCE.validate_python(events)
    except ValidationError:
        return None
    return [
        _missing_session(i, ev) or _event(i, ev, ev.data, raw.get("data") or {})
        for i, (ev, raw) in enumerate(zip(models, events, strict=True))
    ]


def validate_one_by_one(events: list[Any], scan_nul: bool, check_depth: bool) -> list[Event | Rejection]:
    """Each event on its own: a bad one is a rejection by index, the others go on."""
    return [_validate_v2_event(i, raw, scan_nul, check_depth) for i, raw in enumerate(events)]


def _raw_id(raw: Any) -> str | None:
    return raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None


def _validate_v2_event(i: int, raw: Any, scan_nul: bool, check_depth: bool = True) -> Event | Rejection:
    prefix = f"events[{i}]"
    if check_depth or scan_nul:
        hit, message = _nul_or_depth(raw, prefix, scan_nul, check_depth)
        if hit is not None:
            return Rejection(i, _raw_id(raw), "schema_violation", f"{hit}: {message}", hit, _type(raw))
    kind = raw.get("type") if isinstance(raw, dict) else None
    # Any JSON value may come as the type: a list or an object cannot even be looked up (a 500).
    model = TYPED_V2_EVENTS.get(kind) if isinstance(kind, str) else None
    try:
        if model is None:
            # Not an object, or an unknown type: the generic model names the problem.
            V2Event.model_validate(raw)
        ev = model.model_validate(raw)
    except ValidationError as exc:
        field, msg = _first_error(exc, prefix)
        return Rejection(i, _raw_id(raw), "schema_violation", f"{field}: {msg}", field, _type(raw))
    return _missing_session(i, ev) or _event(i, ev, ev.data, raw.get("data") or {})


def _normalize_v2(checked: list[Event], rejections: list[Rejection]) -> list[Event]:
    """Each valid event with its usage normalized; a repeated id within the batch is marked a duplicate."""
    events: list[Event] = []
    seen_ids: set[str] = set()
    for event in checked:
        result = _normalized(event, f"events[{event.index}].data") if event.type == "usage" else event
        if isinstance(result, Rejection):
            rejections.append(result)
        elif event.id in seen_ids:
            result.duplicate = True
            events.append(result)
        else:
            seen_ids.add(event.id)
            events.append(result)
    return events


def parse_v1(doc: dict[str, Any], *, source: str, scan_nul: bool = False) -> Batch:
    with span("ingest.validate", ingest__events=1):
        _refuse_nul_or_depth(doc, scan_nul)
        try:
            header = V1Envelope.model_validate(doc)
        except ValidationError as exc:
            field, msg = _first_error(exc, "")
            raise Refused(422, "schema_violation", f"{field}: {msg}", _all_errors(exc, "")) from None
        data = {k: v for k, v in doc.items() if k not in _V1_HEADER_KEYS}
        result = _checked_data(0, header, data, "")
    if not isinstance(result, Rejection):
        with span("ingest.normalize", ingest__events=1):
            result = _normalized(_event(0, header, result, data), "")
    if isinstance(result, Rejection):
        raise Refused(422, result.code, result.message, {"field": result.field})
    return Batch("v1", source, None, None, [result], [])


class EventRejected(Refused):
    """A v1 request's one event refused: the request's answer (the same status, code and message), and one
    rejected event of the type it said it was (for the metrics)."""

    def __init__(self, event_type: object, refused: Refused):
        super().__init__(refused.status, refused.code, refused.message, refused.details, refused.headers)
        self.event_type = event_type


def parse_body(body: bytes, *, default_source: str, max_events: int) -> Batch:
    with span("ingest.parse", http__request__body__size=len(body)):
        doc = parse_json(body)
    if not isinstance(doc, dict):
        raise Refused(422, "schema_violation", "the body must be a JSON object with a `version`")
    version = doc.get("version")
    note_envelope(version)
    # JSON can carry U+0000 only as the escape \u0000: look for the string only when that text is there.
    scan_nul = b"\\u0000" in body
    if version == "v2":
        return parse_v2(doc, max_events=max_events, scan_nul=scan_nul)
    if version == "v1":
        try:
            return parse_v1(doc, source=default_source, scan_nul=scan_nul)
        except Refused as refused:
            raise EventRejected(doc.get("type"), refused) from None
    raise Refused(
        422,
        "unknown_version",
        f"version: unknown envelope version {version!r}; supported: v1, v2",
        {"field": "version", "supported": ["v1", "v2"]},
    )


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
