"""Every snippet of docs/connectors.md works: its environment lines configure the OpenTelemetry SDK's own
exporters (which read the same OTEL_* variables as Claude Code and any instrumented agent), its Codex config
is parsed and used, and what they send is stored by the running app."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from sqlalchemy import select

from helicarrier.api.routes import ROUTES
from helicarrier.data.models import UsageEvent
from tests.otlp.conftest import otlp_fixture
from tests.otlp.test_traces import CHAT

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
DOC_URL = "http://127.0.0.1:8050"
DOC_TOKEN = "hc_your_ingest_token"


def snippet(name: str) -> str:
    match = re.search(rf"<!-- snippet: {name} -->\n```\w+\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/connectors.md has no snippet {name!r}"
    return match.group(1)


def env_lines(name: str, otlp) -> dict[str, str]:
    """The snippet's `export NAME=value` lines, pointed at the test server and its token."""
    env = {}
    for line in snippet(name).splitlines():
        m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        assert m, f"not an export line in {name}: {line!r}"
        env[m.group(1)] = m.group(2).strip('"').replace(DOC_URL, otlp.url).replace(DOC_TOKEN, otlp.token)
    return env


def _usage(otlp, agent: str):
    with otlp.ctx.repo.engine.connect() as conn:
        return conn.execute(select(UsageEvent.__table__).where(UsageEvent.agent_id == agent)).all()


def _api_routes() -> set[tuple[str, str]]:
    return {(r.method, r.path) for r in ROUTES}


def test_the_endpoint_serves_every_signal_the_exporters_append():
    for signal in ("traces", "logs", "metrics"):
        assert ("POST", f"/api/v1/otlp/v1/{signal}") in _api_routes()


def test_the_instrumented_agent_snippets(otlp, monkeypatch):
    env = env_lines("otel-agent-env", otlp)
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] in ("http/protobuf", "http/json")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict = {}
    exec(snippet("otel-agent-python"), namespace)  # the doc's own code
    provider = namespace["provider"]
    with provider.get_tracer("doc").start_as_current_span("chat claude-sonnet-4-6") as span:
        span.set_attributes(CHAT)
    provider.force_flush()
    [row] = _usage(otlp, "researcher-7")
    assert row.model == "claude-sonnet-4-6" and row.cost_nanos > 0
    provider.shutdown()


def test_the_claude_code_snippet(otlp, monkeypatch):
    env = env_lines("claude-code-env", otlp)
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_LOGS_EXPORTER"] == env["OTEL_METRICS_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] in ("http/protobuf", "http/json")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # What Claude Code does with these variables, done by the SDK's exporters (they read the same ones).
    resource = Resource.create({"service.name": "claude-code"})  # adds OTEL_RESOURCE_ATTRIBUTES
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    api_request = next(
        r
        for r in otlp_fixture("claude_code__logs")["payload"]["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        if r["body"]["stringValue"] == "claude_code.api_request"
    )
    attributes = {a["key"]: next(iter(a["value"].values())) for a in api_request["attributes"]}
    attributes = {k: int(v) if k.endswith("_tokens") else v for k, v in attributes.items()}
    logs.get_logger("com.anthropic.claude_code.events").emit(
        body="claude_code.api_request", attributes=attributes
    )
    logs.force_flush()
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
    meters = MeterProvider(metric_readers=[reader], resource=resource)
    meters.get_meter("com.anthropic.claude_code").create_counter("claude_code.session.count").add(
        1, {"session.id": attributes["session.id"]}
    )
    assert reader.force_flush()
    [row] = _usage(otlp, "alice-laptop")
    assert row.input_tokens == 18500 and row.reported_cost_nanos == 19_819_200
    detail = otlp.get(f"/api/v1/sessions/{attributes['session.id']}")
    assert detail["session"]["agent_id"] == "alice-laptop" and detail["session"]["provider"] == "anthropic"
    logs.shutdown()
    meters.shutdown()


def test_the_codex_config(otlp):
    config = tomllib.loads(snippet("codex-config"))
    http = config["otel"]["exporter"]["otlp-http"]
    endpoint = urlparse(http["endpoint"])
    assert ("POST", endpoint.path) in _api_routes()  # Codex uses the endpoint as given
    assert http["protocol"] == "binary"
    headers = {k: v.replace(DOC_TOKEN, otlp.token) for k, v in http["headers"].items()}
    fixture = otlp_fixture("codex_cli__logs")
    body = json_format.ParseDict(fixture["payload"], ExportLogsServiceRequest()).SerializeToString()
    resp = requests.post(
        f"{otlp.url}{endpoint.path}",
        data=body,
        headers={**headers, "Content-Type": "application/x-protobuf"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    [row] = _usage(otlp, fixture["expected"]["agent_id"])
    assert json.loads(json.dumps(row.raw))["usage"]["input_tokens"] == "2006"  # as Codex sent it
    assert row.input_tokens == 2006 and row.cache_read_tokens == 1920
