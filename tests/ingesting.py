"""Sending events as agents do, for tests of what comes after ingest: the provider fixtures as usage events,
and v2 batches through ``IngestService.ingest``."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from helicarrier.auth.binding import Speaker
from helicarrier.context import AppContext

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


def provider_fixtures() -> dict[str, dict[str, Any]]:
    """{name: {"data": the usage event's data, "expected": the fixture's normalized counts}} for every
    single-response provider fixture (each provider's cache and reasoning cases)."""
    out = {}
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        expected = doc.get("expected")
        if not isinstance(expected, dict) or "input_tokens" not in expected:
            continue  # VERSIONS.json, and session logs (their own tests)
        data = usage_data(doc["payload"], expected)
        name = path.stem
        out[name] = {"data": data, "expected": expected}
    return out


def usage_data(payload: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """A provider fixture's payload as a usage event's ``data``, as an agent sends it."""
    if "attributes" in payload:  # OTel GenAI span attributes; the API wants the provider named as well
        return {"provider": expected["provider"], "attributes": payload["attributes"]}
    if "modelId" in payload:  # no model in the response (Bedrock, Cohere, Gemini Live): the agent sends it
        model = payload["modelId"]
        return {"provider": expected["provider"], "model": model, "response": payload["response"]}
    return {"provider": expected["provider"], "response": payload}


class Sender:
    """Builds v2 events and sends them through IngestService.ingest (the path agents' events take)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.n = 0

    def event(self, type_: str, ts: datetime, agent: str, session: str | None, data: dict) -> dict:
        self.n += 1
        ev = {"id": f"ev-{self.n:08d}", "type": type_, "ts": ts.isoformat(), "agent_id": agent, "data": data}
        if session is not None:
            ev["session_id"] = session
        return ev

    def send(self, events: list[dict], *, batch: int = 50, shuffle: random.Random | None = None) -> None:
        events = list(events)
        if shuffle is not None:
            shuffle.shuffle(events)
        for i in range(0, len(events), batch):
            body = orjson.dumps(
                {"version": "v2", "source": {"name": "tests"}, "events": events[i : i + batch]}
            )
            status, text = self.ctx.ingest.ingest(Speaker.internal("tests"), body, None, "/api/v1/ingest")
            assert status == 200, text
