"""What an exporter gets back when its export is not usable: a google.rpc.Status in its own encoding, with
the status the OTLP/HTTP spec gives (400, 413, 415, 401, 503 with Retry-After), and nothing stored."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import requests
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from sqlalchemy import func, select

from helicarrier.config import load_settings
from helicarrier.data.models import UsageEvent
from helicarrier.webapp import create_app
from tests.faults.conftest import private_postgres  # noqa: F401 - fixture
from tests.otlp.test_traces import T0, _chat_spans


def _nothing_stored(otlp) -> bool:
    with otlp.ctx.repo.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one() == 0


def test_an_undecodable_body_is_a_400_status_in_the_request_encoding(otlp):
    resp = otlp.post("traces", b"\xff\xfe not protobuf", "application/x-protobuf")
    assert resp.status_code == 400 and resp.headers["Content-Type"] == "application/x-protobuf"
    status = Status.FromString(resp.content)
    assert status.code == 3 and status.message.startswith("undecodable_body: ")

    resp = otlp.post("logs", b'{"resourceLogs": [{"scopeLogs": 7}]}', "application/json")
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 3 and body["error"]["code"] == "undecodable_body"
    assert "ExportLogsServiceRequest" in body["error"]["message"]

    resp = otlp.post("metrics", b"\x1f\x8b corrupt gzip", "application/x-protobuf", gzip_=False)
    assert resp.status_code == 400
    corrupt = requests.post(
        otlp.endpoint("traces"),
        data=b"\x1f\x8b\x08\x00 not really gzip",
        headers={**otlp.headers(), "Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert corrupt.status_code == 400 and "corrupt" in corrupt.json()["error"]["message"]
    assert _nothing_stored(otlp)


def test_a_zip_bomb_is_a_413_before_it_is_inflated(otlp):
    limit = otlp.ctx.settings.max_body_bytes
    bomb = gzip.compress(b"\x00" * (limit * 4), 9)  # 20 MiB of zeros in ~20 KiB
    assert len(bomb) < limit
    resp = requests.post(
        otlp.endpoint("traces"),
        data=bomb,
        headers={**otlp.headers(), "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert resp.status_code == 413
    assert "inflates past the limit" in Status.FromString(resp.content).message
    # Over the limit before any inflation, too.
    resp = otlp.post("traces", b"\x00" * (limit + 1), "application/x-protobuf")
    assert resp.status_code == 413
    assert _nothing_stored(otlp)


def test_other_content_types_encodings_and_tokens_are_refused(otlp):
    body = encode_spans(otlp.spans(_chat_spans)).SerializeToString()
    assert otlp.post("traces", body, "text/plain").status_code == 415
    resp = requests.post(
        otlp.endpoint("traces"),
        data=body,
        headers={**otlp.headers(), "Content-Type": "application/x-protobuf", "Content-Encoding": "br"},
        timeout=10,
    )
    assert resp.status_code == 415
    resp = requests.post(
        otlp.endpoint("traces"), data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthenticated"
    read_only = otlp.post("traces", body, "application/x-protobuf", token=otlp.read_token)
    assert read_only.status_code == 403
    assert Status.FromString(read_only.content).message.startswith("insufficient_scope")
    assert _nothing_stored(otlp)


def test_a_database_outage_is_a_503_with_retry_after_and_the_retry_stores_once(
    private_postgres,  # noqa: F811 - the imported fixture
    tmp_path: Path,
):
    from tests.otlp.conftest import Otlp

    settings = load_settings(database_url=private_postgres.url, data_dir=tmp_path, secret_key="k")
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("host", "ingest")
    client = app.server.test_client()
    otlp = Otlp("", ctx, token, "")
    body = encode_spans(otlp.spans(_chat_spans)).SerializeToString()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}

    private_postgres.stop()
    resp = client.post("/api/v1/otlp/v1/traces", data=body, headers=headers)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert Status.FromString(resp.get_data()).message.startswith("database_unavailable")

    private_postgres.start()
    for _ in range(2):  # the exporter's retry, then a duplicate of it
        assert client.post("/api/v1/otlp/v1/traces", data=body, headers=headers).status_code == 200
    with ctx.repo.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one() == 2
    ctx.repo.dispose()


def _span(attrs: dict, span_id: int, end: int = T0 + 10**9) -> dict:
    return {
        "traceId": "ab" * 16,
        "spanId": f"{span_id:016x}",
        "name": "chat",
        "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(end),
        "attributes": [{"key": k, "value": v} for k, v in attrs.items()],
    }


def test_hostile_exports_are_answered_never_a_500(otlp):
    leaf = '{"stringValue": "leaf"}'
    nested = '{"kvlistValue": {"values": [{"key": "k", "value": ' * 3000 + leaf + "}]}}" * 3000
    deep = '{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "attributes": [{"key": "a", "value": '
    resp = otlp.post("traces", (deep + nested + "}]}]}]}]}").encode(), "application/json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "undecodable_body"

    overflow = {
        "resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "startTimeUnixNano": "1" * 30}]}]}]
    }
    assert otlp.post("traces", json.dumps(overflow).encode(), "application/json").status_code == 400

    usage = {
        "gen_ai.provider.name": {"stringValue": "openai"},
        "gen_ai.request.model": {"stringValue": "gpt-4o"},
    }
    spans = [
        _span({**usage, "gen_ai.usage.input_tokens": {"intValue": str(2**62)}}, 1),  # past the token bound
        _span({**usage, "gen_ai.usage.output_tokens": {"intValue": "5"}}, 2, end=2**64 - 1),  # year 2554
        _span({**usage, "gen_ai.usage.input_tokens": {"doubleValue": "Infinity"}, "x": {}}, 3),
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "hostile"}}]}
    export = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    resp = otlp.post("traces", json.dumps(export).encode(), "application/json")
    assert resp.status_code == 200, resp.text
    partial = resp.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "invalid_usage" in partial["errorMessage"]
    rows = _stored_usage(otlp)
    assert [(r.input_tokens, r.output_tokens) for r in rows] == [(0, 5)]  # a far-future end is kept
    # A non-finite count is no count: that span carries no usage, and is counted as such.
    counts = {(u.signal, u.reason): u.count for u in otlp.ctx.otlp.unmapped.snapshot()}
    assert counts[("traces", "span without GenAI usage")] == 1


def _stored_usage(otlp):
    with otlp.ctx.repo.engine.connect() as conn:
        return conn.execute(select(UsageEvent.__table__).order_by(UsageEvent.event_id)).all()


def test_nul_characters_anywhere_are_stored_replaced_never_a_database_error(otlp):
    usage = {
        "gen_ai.provider.name": {"stringValue": "openai"},
        "gen_ai.request.model": {"stringValue": "gpt-4o\u0000"},
        "gen_ai.usage.input_tokens": {"intValue": "7"},
        "gen_ai.usage.note\u0000": {"stringValue": "x\u0000y"},
        "session.id": {"stringValue": "s\u0000nul"},
    }
    span = {**_span(usage, 1), "name": "chat\u0000"}
    tool = {**_span({"gen_ai.operation.name": {"stringValue": "execute_tool"}}, 2), "name": "t\u0000",
            "status": {"code": 2, "message": "bad\u0000"}}  # fmt: skip
    scope = {"scope": {"name": "lib\u0000", "version": "1\u0000"}, "spans": [span, tool]}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "nul-agent\u0000"}}]}
    export = {"resourceSpans": [{"resource": resource, "scopeSpans": [scope]}]}
    resp = otlp.post("traces", json.dumps(export).encode(), "application/json")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    [row] = _stored_usage(otlp)
    assert row.agent_id == "nul-agent\ufffd" and row.model == "gpt-4o\ufffd" and row.input_tokens == 7


def test_a_model_or_provider_name_past_its_column_is_refused_not_a_500(otlp, api):
    long_model = {
        "gen_ai.provider.name": {"stringValue": "openai"},
        "gen_ai.request.model": {"stringValue": "m" * 1000},
        "gen_ai.usage.input_tokens": {"intValue": "7"},
    }
    long_provider = {
        **long_model,
        "gen_ai.provider.name": {"stringValue": "p" * 100},
        "gen_ai.request.model": {},
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "long-names"}}]}
    spans = [_span(long_model, 1), _span(long_provider, 2)]
    export = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    resp = otlp.post("traces", json.dumps(export).encode(), "application/json")
    assert resp.status_code == 200, resp.text
    assert resp.json()["partialSuccess"]["rejectedSpans"] == "2"
    assert "longer than 200" in resp.json()["partialSuccess"]["errorMessage"]
    # The native API shares the rule (it answered a 500 on PostgreSQL before).
    native = api.post(
        {
            "version": "v1",
            "type": "usage",
            "agent_id": "a",
            "ts": "2026-01-01T00:00:00Z",
            "provider": "openai",
            "response": {"model": "m" * 1000, "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        }
    )
    assert native.status_code == 422 and native.get_json()["error"]["code"] == "invalid_usage"
    assert _stored_usage(otlp) == []
