"""Claude Code's and Codex CLI's telemetry (log events and metrics, as documented: fixtures/otlp/) posted
to the running app, and the same events exported by the OpenTelemetry SDK's log and metric exporters."""

from __future__ import annotations

import json
from decimal import Decimal

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from sqlalchemy import select

from helicarrier.data.models import Session, UsageEvent
from tests.otlp.conftest import otlp_fixture


def _usage(otlp, agent: str):
    with otlp.ctx.repo.engine.connect() as conn:
        return conn.execute(select(UsageEvent.__table__).where(UsageEvent.agent_id == agent)).all()


def _unmapped(otlp) -> dict[tuple[str, str], int]:
    return {(u.signal, u.reason): u.count for u in otlp.ctx.otlp.unmapped.snapshot()}


def _post_fixture(otlp, name: str):
    fixture = otlp_fixture(name)
    resp = otlp.post("logs", json.dumps(fixture["payload"]).encode(), "application/json")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}  # accepted whole: no partial_success
    return fixture["expected"]


def test_claude_code_events_become_usage_with_the_reported_cost_beside_the_computed_one(otlp):
    expected = _post_fixture(otlp, "claude_code__logs")
    [row] = _usage(otlp, expected["agent_id"])
    usage = expected["usage"]
    assert (row.provider, row.model, row.session_id) == (
        usage["provider"],
        usage["model"],
        expected["session_id"],
    )
    assert (row.input_tokens, row.output_tokens) == (usage["input_tokens"], usage["output_tokens"])
    assert (row.cache_read_tokens, row.cache_write_tokens) == (
        usage["cache_read_tokens"],
        usage["cache_write_tokens"],
    )
    detail = otlp.get(f"/api/v1/sessions/{expected['session_id']}")
    [event] = detail["usage"]
    assert Decimal(event["reported_cost_usd"]) == Decimal(usage["reported_cost_usd"])
    assert event["cost_provenance"] != "reported" and Decimal(event["cost_usd"]) > 0  # computed, not copied
    assert [line["message"] for line in detail["logs"]] == expected["logs"]
    assert _unmapped(otlp)[("logs", expected["unmapped"][0])] == 1

    # Exporters retry: the same export again stores nothing new.
    _post_fixture(otlp, "claude_code__logs")
    assert len(_usage(otlp, expected["agent_id"])) == 1
    assert len(otlp.get(f"/api/v1/sessions/{expected['session_id']}")["logs"]) == len(expected["logs"])


def test_codex_events_become_a_session_with_its_usage_and_pulse_lines(otlp):
    expected = _post_fixture(otlp, "codex_cli__logs")
    [row] = _usage(otlp, expected["agent_id"])
    usage = expected["usage"]
    got = (
        row.provider,
        row.model,
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.reasoning_tokens,
    )
    want = ("provider", "model", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")
    assert got == tuple(usage[k] for k in want)
    assert row.reported_cost_nanos is None and row.cost_nanos > 0
    detail = otlp.get(f"/api/v1/sessions/{expected['session_id']}")
    session = detail["session"]
    assert (session["model"], session["provider"]) == (
        expected["session_start"]["model"],
        expected["session_start"]["provider"],
    )
    assert [line["message"] for line in detail["logs"]] == expected["logs"]
    assert _unmapped(otlp)[("logs", expected["unmapped"][0])] == 1


def test_claude_code_events_from_the_sdk_log_exporter_and_a_refusal_for_an_unbound_agent(otlp):
    owner, _ = otlp.ctx.repo.create_token("laptop-of-carol", "ingest", "carol-*")
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "claude-code", "helicarrier.agent.id": "carol-1"})
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(otlp.log_exporter(token=owner)))
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.1.222")
    attributes = {
        "event.name": "api_request",
        "session.id": "cc-sdk-1",
        "model": "claude-sonnet-4-6",
        "cost_usd": 0.0042,
        "input_tokens": 10,
        "output_tokens": 200,
        "cache_read_tokens": 3000,
        "cache_creation_tokens": 0,
        "duration_ms": 900,
    }
    logger.emit(body="claude_code.api_request", attributes=attributes)
    provider.force_flush()
    [row] = _usage(otlp, "carol-1")
    assert row.input_tokens == 3010 and row.reported_cost_nanos == 4_200_000

    # The fixture's token does not speak for carol-1: refused in partial_success, nothing stored.
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

    memory = InMemoryLogRecordExporter()
    other = LoggerProvider(resource=Resource.create({"helicarrier.agent.id": "carol-1"}))
    other.add_log_record_processor(SimpleLogRecordProcessor(memory))
    other.get_logger("x").emit(body="claude_code.api_request", attributes={**attributes, "event.sequence": 9})
    resp = otlp.post_logs(memory.get_finished_logs())
    answer = ExportLogsServiceResponse.FromString(resp.content)
    assert answer.partial_success.rejected_log_records == 1
    assert "agent_not_bound" in answer.partial_success.error_message
    assert len(_usage(otlp, "carol-1")) == 1
    assert otlp.log_exporter(token=owner).export(memory.get_finished_logs()) == LogRecordExportResult.SUCCESS
    assert len(_usage(otlp, "carol-1")) == 2  # its owner may send it


def test_claude_code_metrics_start_sessions_and_the_rest_is_counted(otlp):
    exporter = OTLPMetricExporter(endpoint=otlp.endpoint("metrics"), headers=otlp.headers(), timeout=10)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "claude-code", "helicarrier.agent.id": "dave-1"}),
    )
    meter = provider.get_meter("com.anthropic.claude_code", "2.1.222")
    meter.create_counter("claude_code.session.count").add(1, {"session.id": "cc-m-1", "start_type": "fresh"})
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    tokens.add(120, {"session.id": "cc-m-1", "type": "input", "model": "claude-sonnet-4-6"})
    tokens.add(80, {"session.id": "cc-m-1", "type": "output", "model": "claude-sonnet-4-6"})
    meter.create_counter("claude_code.commit.count").add(1, {"session.id": "cc-m-1"})
    assert reader.force_flush()
    assert reader.force_flush()  # the cumulative counter again: the session is not started twice

    detail = otlp.get("/api/v1/sessions/cc-m-1")
    assert detail["session"]["agent_id"] == "dave-1" and detail["session"]["labels"]["start_type"] == "fresh"
    with otlp.ctx.repo.engine.connect() as conn:
        assert conn.execute(select(Session.id).where(Session.agent_id == "dave-1")).scalars().all() == [
            "cc-m-1"
        ]
    assert _usage(otlp, "dave-1") == []  # token counters are not usage: the api_request events are
    counts = _unmapped(otlp)
    assert counts[("metrics", "claude_code.token.usage (claude_code.api_request events carry it)")] == 4
    assert counts[("metrics", "metric claude_code.commit.count (not stored)")] == 2
    provider.shutdown()


def test_a_cost_in_micros_is_exact_and_an_absurd_one_is_no_cost_not_a_500(otlp):
    owner, _ = otlp.ctx.repo.create_token("laptop-of-dana", "ingest", "dana-*")
    provider = LoggerProvider(resource=Resource.create({"helicarrier.agent.id": "dana-1"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(otlp.log_exporter(token=owner)))
    logger = provider.get_logger("com.anthropic.claude_code.events")
    base = {
        "event.name": "api_request",
        "session.id": "cc-micros",
        "model": "claude-sonnet-4-6",
        "input_tokens": 10,
        "output_tokens": 20,
    }
    logger.emit(body="claude_code.api_request", attributes={**base, "cost_usd_micros": "4200", "n": 1})
    logger.emit(body="claude_code.api_request", attributes={**base, "cost_usd_micros": "9" * 400, "n": 2})
    assert provider.force_flush()
    costs = sorted((r.reported_cost_nanos for r in _usage(otlp, "dana-1")), key=lambda c: c is None)
    assert costs == [4_200_000, None]  # $0.0042 to the nano; 400 digits are no int64 count
