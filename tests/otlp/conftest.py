"""The OTLP receiver under test: the whole app served over real HTTP (as tests/client does), the
OpenTelemetry Python SDK's own OTLP/HTTP exporters posting to it, and the database read back."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from helicarrier.context import AppContext
from tests.client.conftest import live_server, serve_wsgi  # noqa: F401 - fixtures used here

ROOT = Path(__file__).resolve().parents[2]
ID_KEYS = ("traceId", "spanId", "parentSpanId")


def otlp_fixture(name: str) -> dict:
    return json.loads((ROOT / "fixtures" / "otlp" / f"{name}.json").read_text())


def hex_ids(node):
    """protobuf's JSON mapping writes ids as base64; OTLP/JSON wants hex (what real JSON exporters send)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_KEYS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids(item)
    return node


class Otlp:
    """The live app, an ingest token bound by first use, and ways to export to it."""

    def __init__(self, url: str, ctx: AppContext, token: str, read_token: str):
        self.url = url
        self.ctx = ctx
        self.token = token
        self.read_token = read_token

    def endpoint(self, signal: str) -> str:
        return f"{self.url}/api/v1/otlp/v1/{signal}"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    # -- the SDK ------------------------------------------------------------------------------------

    def spans(self, make: Callable, agent: str = "otel-agent-1", **resource) -> list:
        """The finished spans ``make(tracer)`` creates, under a resource naming the agent."""
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"helicarrier.agent.id": agent, **resource}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        make(provider.get_tracer("tests.otlp", "1.0"))
        provider.shutdown()
        return list(memory.get_finished_spans())

    def span_exporter(self, token: str | None = None, gzip_: bool = False) -> OTLPSpanExporter:
        return OTLPSpanExporter(
            endpoint=self.endpoint("traces"),
            headers=self.headers(token),
            compression=Compression.Gzip if gzip_ else Compression.NoCompression,
            timeout=10,
        )

    def log_exporter(self, token: str | None = None) -> OTLPLogExporter:
        return OTLPLogExporter(endpoint=self.endpoint("logs"), headers=self.headers(token), timeout=10)

    # -- by hand (to read the answer: the SDK exporters only log partial_success) -----------------------

    def post(
        self, signal: str, body: bytes, content_type: str, token: str | None = None, gzip_: bool = False
    ) -> requests.Response:
        headers = {**self.headers(token), "Content-Type": content_type}
        if gzip_:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return requests.post(self.endpoint(signal), data=body, headers=headers, timeout=10)

    def post_spans(self, spans, encoding: str = "protobuf", token: str | None = None) -> requests.Response:
        message = encode_spans(spans)
        if encoding == "protobuf":
            return self.post("traces", message.SerializeToString(), "application/x-protobuf", token)
        doc = hex_ids(json_format.MessageToDict(message))
        return self.post("traces", json.dumps(doc).encode(), "application/json", token)

    def post_logs(self, logs, token: str | None = None) -> requests.Response:
        return self.post("logs", encode_logs(logs).SerializeToString(), "application/x-protobuf", token)

    def get(self, path: str) -> dict:
        resp = requests.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.read_token}"}, timeout=10
        )
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture
def otlp(live_server) -> Otlp:  # noqa: F811 - the imported fixture
    url, ctx = live_server
    token, _ = ctx.repo.create_token("otel-host", "ingest")
    read_token, _ = ctx.repo.create_token("analyst", "read")
    return Otlp(url, ctx, token, read_token)
