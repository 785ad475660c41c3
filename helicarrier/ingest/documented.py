"""The v2 envelope as the OpenAPI document shows it, with each event's ``data`` typed by its ``type``. The
server checks events one by one (``helicarrier.ingest.validate``), so one bad event does not sink a batch;
these models only describe. They carry the names the document's readers see."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from helicarrier.ingest import schemas as s


class V2Event(s.V2Event):
    """One event of a v2 batch; ``data`` follows the model of its ``type``."""

    data: (
        s.HeartbeatData | s.SessionStartData | s.SessionEndData | s.UsageData | s.LogData | s.CommandAckData
    ) = Field(description="agent.heartbeat: HeartbeatData, session.start: SessionStartData, ... by `type`.")


class V2Envelope(s.V2Envelope):
    model_config = ConfigDict(title="V2Envelope", populate_by_name=True, extra="forbid")

    events: list[V2Event] = Field(min_length=1)
