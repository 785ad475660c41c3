"""The v2 envelope as the OpenAPI document shows it, with each event's ``data`` typed by its ``type``. The
server checks events one by one (``helicarrier.ingest.validate``), so one bad event does not sink a batch;
these models only describe. They carry the names the document's readers see."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, create_model

from helicarrier.ingest import schemas as s


class V2Event(s.V2Event):
    """One event of a v2 batch; ``data`` follows the model of its ``type``."""

    data: (
        s.HeartbeatData | s.SessionStartData | s.SessionEndData | s.UsageData | s.LogData | s.CommandAckData
    ) = Field(description="agent.heartbeat: HeartbeatData, session.start: SessionStartData, ... by `type`.")


class V2Envelope(s.V2Envelope):
    model_config = ConfigDict(title="V2Envelope", populate_by_name=True, extra="forbid")

    events: list[V2Event] = Field(min_length=1)


def _v1_event(event_type: str, data_model: type[s._Data]) -> type[s.V1Envelope]:
    """A v1 body of one type: the header and that type's data fields side by side (``message`` of a log is
    required, a heartbeat's ``status`` is one of its three, ...)."""
    name = "V1_" + "".join(part.title() for part in event_type.replace(".", "_").split("_"))
    fields = {k: (f.annotation, f) for k, f in data_model.model_fields.items()}
    return create_model(
        name,
        __base__=s.V1Envelope,
        type=(Literal[event_type], Field(description=f"`{event_type}`")),  # type: ignore[valid-type]
        **fields,
    )


V1_EVENTS: tuple[type[s.V1Envelope], ...] = tuple(_v1_event(t, m) for t, m in s.DATA_MODELS.items())


class NormalizeRequest(s.UsageData):
    """A usage event's ``data``: ``response`` or ``usage`` (or OTel span ``attributes``) is needed."""

    model_config = ConfigDict(
        title="NormalizeRequest",
        json_schema_extra={
            "anyOf": [{"required": ["response"]}, {"required": ["usage"]}, {"required": ["attributes"]}]
        },
    )
