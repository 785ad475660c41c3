"""The ingest contract: pydantic v2 models for both envelopes and every event type.

These models are the single source of the contract: requests are validated with them and the OpenAPI
document at ``/api/v1/openapi.json`` is generated from them.

- ``v1``: one event, its fields inline: ``{"version": "v1", "type": "log", "agent_id": ..., "ts": ...,
  "level": "info", "message": "..."}``.
- ``v2``: a batch: ``{"version": "v2", "source": {...}, "pricingVersion": ..., "events": [{"id": ...,
  "type": ..., "ts": ..., "agent_id": ..., "session_id": ..., "data": {...}}]}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=65536)]
Labels = dict[
    Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=256)]
]


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (e.g. 2026-11-26T10:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-12:00 has no UTC datetime
        raise ValueError("timestamp is out of range") from None


AwareDatetime = Annotated[datetime, AfterValidator(_aware_utc)]

AGENT_STATUSES = ("running", "idle", "stalled", "waiting")
MAX_WAIT_S = 7 * 86400  # a stated wait longer than a week is not a wait the sentinel should honour
SESSION_END_STATUSES = ("succeeded", "failed", "killed", "timeout")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ACK_STATES = ("accepted", "rejected", "completed", "failed")


class _Data(BaseModel):
    # Unknown extra fields are kept, not rejected: agents send what their SDK gives them.
    model_config = ConfigDict(extra="allow")


class HeartbeatData(_Data):
    status: Literal["running", "idle", "stalled", "waiting"] = "idle"
    current_task: LongText | None = None
    name: ShortText | None = None
    model: ShortText | None = None
    provider: ShortText | None = None
    labels: Labels | None = None
    # ``waiting``: on something outside the agent (a long build, a human, a rate limit). With an expected
    # duration the stuck-loop sentinel leaves the agent alone until it has passed (docs/api.md).
    expected_s: int | None = Field(
        None,
        ge=1,
        le=MAX_WAIT_S,
        description="With status waiting: how long the wait is expected to last, in seconds.",
    )
    waiting_for: ShortText | None = Field(None, description="With status waiting: what for.")


class SessionStartData(_Data):
    model: ShortText | None = None
    provider: ShortText | None = None
    task: LongText | None = None
    task_kind: ShortText | None = Field(None, description="The kind of task, for the model matrix.")
    labels: Labels | None = None


class SessionEndData(_Data):
    status: Literal["succeeded", "failed", "killed", "timeout"]
    error: LongText | None = None


class UsageData(_Data):
    """One model call. Send the provider's payload exactly as returned: ``response`` or ``usage``."""

    provider: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="OpenTelemetry provider name: openai, anthropic, gcp.gemini, aws.bedrock, mistral_ai, ..."
    )
    model: ShortText | None = Field(
        None, description="Required where the payload has none (Bedrock, Cohere)."
    )
    response: dict[str, Any] | list[Any] | None = Field(
        None, description="Whole response body, or the list of stream chunks/events."
    )
    usage: dict[str, Any] | None = Field(None, description="The provider's usage object alone.")
    cost: str | float | int | None = Field(None, description="A cost reported by the provider, in USD.")


class LogData(_Data):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    message: LongText
    attrs: dict[str, Any] | None = None


class CommandAckData(_Data):
    command_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    state: Literal["accepted", "rejected", "completed", "failed"]
    message: LongText | None = None


DATA_MODELS: dict[str, type[_Data]] = {
    "agent.heartbeat": HeartbeatData,
    "session.start": SessionStartData,
    "session.end": SessionEndData,
    "usage": UsageData,
    "log": LogData,
    "command.ack": CommandAckData,
}
EVENT_TYPES = tuple(DATA_MODELS)
# Event types that only make sense inside a session.
SESSION_REQUIRED = frozenset({"session.start", "session.end"})

EventType = Literal["agent.heartbeat", "session.start", "session.end", "usage", "log", "command.ack"]


class EventHeader(BaseModel):
    """What every event carries besides its data."""

    model_config = ConfigDict(extra="forbid")

    id: Id | None = None
    type: EventType
    ts: AwareDatetime
    agent_id: Id
    session_id: Id | None = None


class V2Event(EventHeader):
    id: Id = Field(description="Client-chosen, unique per source: a repeated id is a duplicate, stored once.")
    data: dict[str, Any] = Field(default_factory=dict)


def _typed_event(event_type: str, data_model: type[_Data]) -> type[V2Event]:
    return create_model(
        f"V2Event_{event_type.replace('.', '_')}",
        __base__=V2Event,
        data=(data_model, Field(default_factory=data_model)),
    )


# One model per event type, header and data together: one validation call per event on the hot path.
TYPED_V2_EVENTS: dict[str, type[V2Event]] = {t: _typed_event(t, m) for t, m in DATA_MODELS.items()}


class Source(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    provenance: ShortText | None = Field(None, description="What produced the events, e.g. sdk name+version.")


class V2Envelope(BaseModel):
    """A batch of events. The events are validated one by one, so one bad event does not sink the batch."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: Literal["v2"]
    source: Source
    pricing_version: ShortText | None = Field(None, alias="pricingVersion")
    # Any item: a non-object event is rejected on its own (by index), like any other invalid event.
    events: list[Any] = Field(min_length=1)


class V1Envelope(EventHeader):
    """One event with its data fields inline (``level``, ``message``, ...)."""

    model_config = ConfigDict(extra="allow")

    version: Literal["v1"]


# --- Responses (for the OpenAPI document) -------------------------------------------------------------


class EventResult(BaseModel):
    index: int
    id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    error: dict[str, Any] | None = None


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult] | None = None
    budget_locked: bool | None = Field(
        None, description="With a heartbeat: true when a locked budget holds the agent (start no new work)."
    )
    budget_locks: list[dict[str, Any]] | None = None


class NormalizeResponse(BaseModel):
    usage: dict[str, Any]
    cost: dict[str, Any]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody
