"""The OTLP receiver, without Flask: a decoded export in, the count of refused items and why out.

Mapped events go through the one ingest path (``IngestService.ingest_document``), so idempotency (event ids
from span ids and record digests), the agent binding (per event: a token that does not speak for an agent
gets its items refused, audited), normalization, pricing and rollups are those of every other event.
Items that cannot be mapped are counted (``UnmappedCounts``), not refused: an exporter would only log them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from helicarrier.auth.binding import Speaker
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.ingest.service import IngestService
from helicarrier.otlp.attributes import SESSION_KEYS
from helicarrier.otlp.logs import map_logs
from helicarrier.otlp.mapped import Mapped
from helicarrier.otlp.metrics import map_metrics
from helicarrier.otlp.traces import map_traces
from helicarrier.otlp.unmapped import UnmappedCounts

SOURCE = "otlp"  # trace ids are random 128-bit: one source keeps every span's id unique across tokens
MAPPERS = {"traces": map_traces, "logs": map_logs, "metrics": map_metrics}
_MESSAGES_SHOWN = 5


class OtlpReceiver:
    def __init__(self, ingest: IngestService, session_keys: tuple[str, ...] = SESSION_KEYS) -> None:
        self.ingest = ingest
        self.session_keys = session_keys  # HELICARRIER_OTLP_SESSION_ATTRIBUTES
        self.unmapped = UnmappedCounts()

    def receive(
        self, signal: str, speaker: Speaker, request, remote_addr: str | None = None
    ) -> tuple[int, str]:
        """-> (items refused, a message naming why): what ``partial_success`` reports."""
        now = utcnow()
        mapped: Mapped = MAPPERS[signal](request, now, self.session_keys)
        self.unmapped.add(signal, mapped.unmapped, now)
        refused = list(mapped.refused)
        # An export may map to more events than one ingest batch takes (its body is bounded, not its item
        # count): in batches, each one transaction. A retry after a failure midway stores each event once.
        step = self.ingest.max_batch_events
        for start in range(0, len(mapped.events), step):
            refused += self._ingest(signal, speaker, mapped.events[start : start + step], remote_addr)
        if not refused:
            return 0, ""
        shown = "; ".join(dict.fromkeys(refused[:_MESSAGES_SHOWN]))
        more = f" (and {len(refused) - _MESSAGES_SHOWN} more)" if len(refused) > _MESSAGES_SHOWN else ""
        return len(refused), f"{len(refused)} refused: {shown}{more}"

    def _ingest(self, signal: str, speaker: Speaker, events: list[dict[str, Any]], remote_addr) -> list[str]:
        doc = {"version": "v2", "source": {"name": SOURCE, "provenance": f"otlp/{signal}"}, "events": events}
        try:
            status, body = self.ingest.ingest_document(speaker, doc, remote_addr)
        except Refused as refused:
            if refused.code != "all_events_rejected":
                raise
            return [_message(r) for r in refused.details]
        if status == 200:
            return []
        answer = orjson.loads(body)
        results = answer.get("results") or (answer.get("error") or {}).get("details") or []
        return [_message(r) for r in results if r.get("status") == "rejected"]


_EVENT_PATH = re.compile(r"^events\[\d+\]\.(?:data\.)?")


def _message(result: dict[str, Any]) -> str:
    """A refused event's error, without the path into the batch built here (the sender never saw it)."""
    error = result.get("error") or {}
    return f"{error.get('code')}: {_EVENT_PATH.sub('', str(error.get('message')))}"
