"""GenAI spans exported by the OpenTelemetry SDK's OTLP/HTTP exporter become usage in the Ledger, priced;
agent and tool spans become Pulse lines; a re-export stores nothing twice; the token's binding holds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import func, select

from helicarrier.data.models import LogEvent, UsageEvent

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns
CHAT = {  # the current GenAI semantic conventions (fixtures/providers/otel_genai__current_semconv.json)
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-6",
    "gen_ai.response.model": "claude-sonnet-4-6",
    "gen_ai.usage.input_tokens": 18500,
    "gen_ai.usage.output_tokens": 445,
    "gen_ai.usage.cache_read.input_tokens": 16399,
    "gen_ai.usage.cache_creation.input_tokens": 2089,
    "session.id": "otel-sess-1",
    "gen_ai.input.messages": "a prompt that must not be stored",
}
LEGACY = {  # older instrumentations: gen_ai.system and prompt/completion tokens
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.prompt_tokens": 2006,
    "gen_ai.usage.completion_tokens": 300,
    "session.id": "otel-sess-1",
}


def _expected_cost(provider: str, model: str, ts: datetime, **usage) -> Decimal:
    price = genai_prices.calc_price(
        genai_prices.Usage(**usage), model, provider_id=provider, genai_request_timestamp=ts
    )
    return Decimal(price.total_price)


def _chat_spans(tracer):
    with tracer.start_as_current_span("invoke_agent triage", start_time=T0) as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "triage")
        agent.set_attribute("session.id", "otel-sess-1")
        with tracer.start_as_current_span("chat claude-sonnet-4-6", start_time=T0 + 10**9) as span:
            span.set_attributes(CHAT)
            span.end(end_time=T0 + 2 * 10**9)
        with tracer.start_as_current_span("chat gpt-4o", start_time=T0 + 3 * 10**9) as span:
            span.set_attributes(LEGACY)
            span.end(end_time=T0 + 4 * 10**9)
        with tracer.start_as_current_span("execute_tool grep", start_time=T0 + 5 * 10**9) as tool:
            tool.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "grep"})
            tool.set_attribute("session.id", "otel-sess-1")
            tool.set_status(Status(StatusCode.ERROR, "exit status 2"))
            tool.end(end_time=T0 + 5 * 10**9 + 250_000_000)
        with tracer.start_as_current_span("GET /health", start_time=T0 + 6 * 10**9) as plain:
            plain.set_attribute("http.method", "GET")
        agent.end(end_time=T0 + 7 * 10**9)


def _usage_rows(otlp):
    with otlp.ctx.repo.engine.connect() as conn:
        return conn.execute(select(UsageEvent.__table__).order_by(UsageEvent.ts)).all()


def test_genai_spans_from_the_sdk_exporter_are_priced_usage_in_the_ledger(otlp):
    spans = otlp.spans(_chat_spans)
    assert otlp.span_exporter().export(spans) == SpanExportResult.SUCCESS

    sessions = otlp.get("/api/v1/sessions?agent=otel-agent-1&from=2025-12-01&to=2026-01-31")["sessions"]
    assert [s["id"] for s in sessions] == ["otel-sess-1"]
    ts = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    anthropic = _expected_cost(
        "anthropic",
        "claude-sonnet-4-6",
        ts,
        input_tokens=18500,
        output_tokens=445,
        cache_read_tokens=16399,
        cache_write_tokens=2089,
    )
    openai = _expected_cost(
        "openai",
        "gpt-4o-2024-08-06",
        datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC),
        input_tokens=2006,
        output_tokens=300,
    )
    assert Decimal(sessions[0]["cost_usd"]) == anthropic + openai
    assert sessions[0]["input_tokens"] == 18500 + 2006 and sessions[0]["output_tokens"] == 445 + 300

    rows = _usage_rows(otlp)
    assert [(r.provider, r.model, r.input_tokens, r.cache_read_tokens) for r in rows] == [
        ("anthropic", "claude-sonnet-4-6", 18500, 16399),
        ("openai", "gpt-4o-2024-08-06", 2006, 0),
    ]
    # The span's ids are kept with the usage; the prompt is not.
    chat = next(s for s in spans if s.name == "chat claude-sonnet-4-6")
    assert rows[0].raw["otel"]["trace_id"] == f"{chat.context.trace_id:032x}"
    assert "gen_ai.input.messages" not in rows[0].raw["attributes"]

    detail = otlp.get("/api/v1/sessions/otel-sess-1")
    messages = [(line["level"], line["message"]) for line in detail["logs"]]
    assert ("error", "tool grep failed in 250 ms: exit status 2") in messages
    assert ("info", "agent triage ran for 7000 ms") in messages
    # The plain HTTP span maps to nothing: counted, not stored.
    counts = {(u.signal, u.reason): u.count for u in otlp.ctx.otlp.unmapped.snapshot()}
    assert counts[("traces", "span without GenAI usage")] == 1


def test_a_re_export_stores_nothing_twice(otlp):
    spans = otlp.spans(_chat_spans)
    exporter = otlp.span_exporter()
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    before = otlp.get("/api/v1/sessions/otel-sess-1")
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    resp = otlp.post_spans(spans, "json")  # the same spans in the other encoding
    assert resp.status_code == 200 and resp.json() == {}
    after = otlp.get("/api/v1/sessions/otel-sess-1")
    assert after["session"]["cost_usd"] == before["session"]["cost_usd"]
    assert len(_usage_rows(otlp)) == 2
    with otlp.ctx.repo.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LogEvent)).scalar_one() == 2


def test_json_encoding_with_hex_ids_and_gzip(otlp):
    spans = otlp.spans(_chat_spans, agent="otel-agent-json")
    resp = otlp.post_spans(spans, "json")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    rows = _usage_rows(otlp)
    chat = next(s for s in spans if s.name == "chat claude-sonnet-4-6")
    assert rows[0].raw["otel"]["span_id"] == f"{chat.context.span_id:016x}"

    gz = otlp.spans(_chat_spans, agent="otel-agent-gzip")
    assert otlp.span_exporter(gzip_=True).export(gz) == SpanExportResult.SUCCESS
    assert {r.agent_id for r in _usage_rows(otlp)} == {"otel-agent-json", "otel-agent-gzip"}


def test_a_token_not_bound_to_the_agent_gets_its_spans_refused_and_nothing_stored(otlp):
    owner, _ = otlp.ctx.repo.create_token("owner-host", "ingest", "otel-agent-*")
    spans = otlp.spans(_chat_spans)
    assert otlp.span_exporter(token=owner).export(spans) == SpanExportResult.SUCCESS  # claims the agent
    assert len(_usage_rows(otlp)) == 2

    intruder = otlp.spans(_chat_spans, agent="otel-agent-1", **{"service.name": "intruder"})
    resp = otlp.post_spans(intruder)  # the fixture's token: another token owns otel-agent-1
    assert resp.status_code == 200
    answer = ExportTraceServiceResponse.FromString(resp.content)
    assert answer.partial_success.rejected_spans == 4  # 2 usage + 2 Pulse lines; the HTTP span was not mapped
    assert "agent_not_bound" in answer.partial_success.error_message
    assert "otel-agent-1" in answer.partial_success.error_message
    assert len(_usage_rows(otlp)) == 2  # nothing of the intruder's
    # audited as a posted batch's refusal is, with the address it came from (a mutant dropping it survived)
    refused = otlp.ctx.repo.audit_entries(outcome="refused")
    assert refused[["actor", "action", "target_id", "reason", "remote_addr"]].values.tolist() == [
        ["token:otel-host", "ingest", "otel-agent-1", "agent_not_bound", "127.0.0.1"]
    ]


def test_a_span_the_normalizer_refuses_is_counted_in_partial_success(otlp):
    def bad(tracer):
        with tracer.start_as_current_span("chat", start_time=T0) as span:
            span.set_attributes({"gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": -5})
            span.end(end_time=T0 + 10**9)
        with tracer.start_as_current_span("chat ok", start_time=T0) as span:
            span.set_attributes({**LEGACY, "session.id": "s-ok"})
            span.end(end_time=T0 + 10**9)

    resp = otlp.post_spans(otlp.spans(bad), "json")
    assert resp.status_code == 200
    answer = json_format.Parse(resp.text, ExportTraceServiceResponse())
    assert answer.partial_success.rejected_spans == 1
    assert "invalid_usage" in answer.partial_success.error_message
    assert len(_usage_rows(otlp)) == 1  # one bad span does not sink the good one


def test_the_exporter_reads_success_from_an_answer_it_can_parse(otlp):
    # The SDK exporter treats anything but 2xx as a failure; an unknown token must fail it (401).
    exporter = OTLPSpanExporter(endpoint=otlp.endpoint("traces"), headers={"Authorization": "Bearer nope"})
    assert exporter.export(otlp.spans(_chat_spans)) == SpanExportResult.FAILURE
    assert _usage_rows(otlp) == []


def test_claude_code_spans_are_counted_not_stored_its_events_carry_the_usage(otlp):
    spans = otlp.spans(_chat_spans, agent="cc-traces", **{"service.name": "claude-code"})
    resp = otlp.post_spans(spans)
    assert resp.status_code == 200 and not ExportTraceServiceResponse.FromString(resp.content).HasField(
        "partial_success"
    )
    assert _usage_rows(otlp) == []
    counts = {(u.signal, u.reason): u.count for u in otlp.ctx.otlp.unmapped.snapshot()}
    assert counts[("traces", "Claude Code span (its log events carry the same)")] == len(spans)


def test_the_session_attribute_is_configurable(settings):
    from dataclasses import replace

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from helicarrier.webapp import create_app
    from tests.otlp.conftest import Otlp

    app = create_app(replace(settings, otlp_session_attributes=("run.id",)))
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("otel-host", "ingest")

    def run(tracer):
        with tracer.start_as_current_span("chat", start_time=T0) as span:
            span.set_attributes({**LEGACY, "run.id": "run-42"})  # session.id is there too: not read now
            span.end(end_time=T0 + 10**9)

    body = encode_spans(Otlp("", ctx, token, "").spans(run)).SerializeToString()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    assert (
        app.server.test_client().post("/api/v1/otlp/v1/traces", data=body, headers=headers).status_code == 200
    )
    with ctx.repo.engine.connect() as conn:
        assert conn.execute(select(UsageEvent.session_id)).scalars().all() == ["run-42"]
    ctx.repo.dispose()


def test_an_export_larger_than_one_ingest_batch_is_stored_whole(settings):
    from dataclasses import replace

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from helicarrier.webapp import create_app
    from tests.otlp.conftest import Otlp

    app = create_app(replace(settings, max_batch_events=3))
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("otel-host", "ingest")

    def calls(tracer):
        for i in range(8):
            with tracer.start_as_current_span(f"chat {i}", start_time=T0) as span:
                span.set_attributes(LEGACY)
                span.end(end_time=T0 + i)

    body = encode_spans(Otlp("", ctx, token, "").spans(calls)).SerializeToString()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    resp = app.server.test_client().post("/api/v1/otlp/v1/traces", data=body, headers=headers)
    assert resp.status_code == 200 and resp.get_data() == b""  # accepted whole
    with ctx.repo.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one() == 8
    ctx.repo.dispose()
