"""What a mapper makes of one OTLP export: native ingest events (v2 event dicts), the items refused before
ingest (with why), and the items it could not map, counted by reason (never kept)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Mapped:
    events: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one message per refused item
    unmapped: Counter = field(default_factory=Counter)  # reason -> items

    def event(
        self, event_id: str, type_: str, ts, agent_id: str, session_id: str | None, data: dict[str, Any]
    ) -> None:
        self.events.append(
            {
                "id": event_id,
                "type": type_,
                "ts": ts,
                "agent_id": agent_id,
                "session_id": session_id,
                "data": data,
            }
        )
