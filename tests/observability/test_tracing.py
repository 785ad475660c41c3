"""Traces of Helicarrier's own work, exported to the SDK's in-memory exporter: a real request through the
app's test client (both backends) gives a SERVER span named by its route with the steps under it, and a
caller's W3C ``traceparent`` is continued. Tracing is off unless the OTEL_* variables ask for an exporter."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from helicarrier.alerts import engine
from helicarrier.auth.binding import Speaker
from helicarrier.observability import tracing
from helicarrier.pricing.book import DEFAULT_PRICING_VERSION
from tests.alerts.alerting_helpers import add_agents, make_rule, now_utc, offline_rule, secs
from tests.web.test_operations import PASSWORD, create_token_request, signed_in

ROOT = Path(__file__).resolve().parents[2]
INGEST = "/api/v1/ingest"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
INGEST_STEPS = ["ingest.parse", "ingest.validate", "ingest.normalize", "ingest.price", "ingest.store"]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.use_exporter(exporter)
    yield exporter
    tracing.shutdown()


def _batch() -> dict:
    now = datetime.now(UTC).isoformat()
    usage = {"provider": "openai", "model": "gpt-4.1", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    return {
        "version": "v2",
        "source": {"name": "trace-test"},
        "events": [
            {"id": "st", "type": "session.start", "ts": now, "agent_id": "a1", "session_id": "s", "data": {}},
            {"id": "u1", "type": "usage", "ts": now, "agent_id": "a1", "session_id": "s", "data": usage},
        ],
    }


def _one(finished, name: str):
    found = [s for s in finished if s.name == name]
    assert len(found) == 1, f"{name}: {[s.name for s in finished]}"
    return found[0]


def _children(finished, parent) -> list[str]:
    return [s.name for s in finished if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_an_ingest_request_is_a_server_span_with_its_steps_under_it(api, spans):
    resp = api.post(_batch())
    assert resp.status_code == 200, resp.get_json()

    finished = spans.get_finished_spans()
    server = _one(finished, "POST /api/v1/ingest")
    assert server.kind == SpanKind.SERVER and server.parent is None
    assert server.attributes["http.route"] == INGEST
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["request.id"] == resp.headers["X-Request-Id"]
    # The steps in the order they ran, each a child of the request's span.
    assert [n for n in _children(finished, server) if n.startswith("ingest.")] == INGEST_STEPS
    store = _one(finished, "ingest.store")
    assert store.attributes["ingest.stored"] == 2
    # The database work is under the step that did it, by the repository method's name.
    assert "tx.store_batch" in _children(finished, store)
    assert {s.context.trace_id for s in finished} == {server.context.trace_id}


def test_the_steps_say_which_price_table_priced_the_batch_and_what_became_of_its_events(api, spans):
    assert api.post(_batch()).status_code == 200
    spans.clear()
    now = datetime.now(UTC).isoformat()
    again = _batch()["events"][0]  # session.start "st": stored by the first post, a duplicate now
    ghost = {"command_id": "ghost", "state": "accepted"}  # an answer to no command: refused by the database
    answer = {"id": "ack", "type": "command.ack", "ts": now, "agent_id": "a1", "data": ghost}
    log = {
        "id": "l1",
        "type": "log",
        "ts": now,
        "agent_id": "a1",
        "session_id": "s",
        "data": {"message": "hi"},
    }
    invalid = {"id": "bad", "type": "log", "ts": "yesterday", "agent_id": "a1", "data": {}}
    resp = api.post({**_batch(), "events": [again, answer, log, invalid]})
    assert resp.status_code == 207, resp.get_json()

    finished = spans.get_finished_spans()
    assert _one(finished, "ingest.price").attributes["pricing.version"] == DEFAULT_PRICING_VERSION
    store = _one(finished, "ingest.store").attributes
    # The valid events the step was given, and what became of each (the invalid one never reached it).
    counts = [store[f"ingest.{name}"] for name in ("events", "stored", "duplicates", "refused")]
    assert counts == [3, 1, 1, 1]


def test_an_incoming_traceparent_is_continued(api, spans):
    headers = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    resp = api.client.post(INGEST, json=_batch(), headers=api.headers(**headers))
    assert resp.status_code == 200, resp.get_json()

    finished = spans.get_finished_spans()
    server = _one(finished, "POST /api/v1/ingest")
    assert server.parent is not None and server.parent.is_remote
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN
    assert {f"{s.context.trace_id:032x}" for s in finished} == {CALLER_TRACE}


def test_a_refused_request_is_not_a_server_error_and_a_route_names_its_span_by_rule(api, spans, make_token):
    resp = api.post({"version": "v9"})
    assert resp.status_code == 422
    server = _one(spans.get_finished_spans(), "POST /api/v1/ingest")
    assert server.status.status_code != StatusCode.ERROR  # the client's mistake (OTel HTTP conventions)
    assert _one(spans.get_finished_spans(), "ingest.parse").attributes["http.request.body.size"] > 0

    spans.clear()
    reader = make_token("reader", "read")
    assert api.client.get("/api/v1/sessions/no-such", headers=api.headers(reader)).status_code == 404
    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert server.name == "GET /api/v1/sessions/<session_id>"  # the rule, not the path: bounded names
    assert "repo.session_detail" in _children(spans.get_finished_spans(), server)


def test_a_kill_issued_polled_and_acked_gives_control_spans(ctl, spans):
    spans.clear()  # the fixture's own ingest
    issued = ctl.post({"reason": "runaway"}, path="/api/v1/agents/atlas-01/kill", token=ctl.control_token)
    assert issued.status_code == 201
    command_id = issued.get_json()["command"]["id"]
    polled = ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers())
    assert [c["id"] for c in polled.get_json()["commands"]] == [command_id]
    body = {"agent_id": "atlas-01", "state": "completed", "session_id": "s1"}
    assert ctl.post(body, path=f"/api/v1/commands/{command_id}/ack").status_code == 200

    finished = spans.get_finished_spans()
    issue = _one(finished, "control.issue")
    assert issue.attributes["command.kind"] == "kill" and issue.attributes["command.id"] == command_id
    assert _one(finished, "POST /api/v1/agents/<agent_id>/kill").context.span_id == issue.parent.span_id
    assert _one(finished, "control.deliver").attributes["agent.id"] == "atlas-01"
    ack = _one(finished, "control.ack")
    assert _one(finished, "POST /api/v1/commands/<command_id>/ack").context.span_id == ack.parent.span_id
    transition = _one(finished, "control.apply_ack")
    assert transition.parent.span_id == ack.context.span_id
    assert (transition.attributes["command.state.before"], transition.attributes["command.state"]) == (
        "delivered",
        "completed",
    )


def test_a_hud_callback_is_a_span_under_its_request_with_its_queries_under_it(api, spans):
    api.repo.create_user("ada", PASSWORD, "admin")
    admin = signed_in(api.app, "ada")
    spans.clear()  # the sign-in's own
    assert admin.post("/_dash-update-component", json=create_token_request("ci-host")).status_code == 200

    finished = spans.get_finished_spans()
    server = _one(finished, "POST /_dash-update-component")
    callback = _one(finished, "callback operations.create_token")
    assert callback.parent.span_id == server.context.span_id
    assert "repo.create_token" in _children(finished, callback)


def test_an_alert_cycle_is_a_span_with_one_child_per_rule(ctx, spans):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 2, seen=t0 - secs(300))
    offline = offline_rule(repo)
    tokens = make_rule(repo, metric="tokens", threshold="1000")

    engine.run_cycle(repo, t0)

    finished = spans.get_finished_spans()
    cycle = _one(finished, "alerts.cycle")
    assert cycle.parent is None and cycle.attributes["alerts.rules"] == 2
    rules = [s for s in finished if s.name == "alerts.rule"]
    assert all(r.parent.span_id == cycle.context.span_id for r in rules)
    by_rule = {r.attributes["alert.rule.id"]: r for r in rules}
    assert set(by_rule) == {offline["id"], tokens["id"]}
    assert by_rule[offline["id"]].attributes["alert.groups"] == 2  # one alert per offline agent
    assert "repo.alert_metric" in _children(finished, by_rule[tokens["id"]])


def test_spans_are_recorded_only_when_asked_for(api, spans):
    tracing.shutdown()  # as a process without the OTEL_* variables runs
    assert api.post(_batch()).status_code == 200
    assert spans.get_finished_spans() == ()


def test_ingest_outside_any_trace_makes_no_traces_of_its_steps(ctx, spans):
    """An import on the command line ingests in-process: its steps and queries, under no request, would each
    be a trace of its own per batch."""
    status, _body = ctx.ingest.ingest(Speaker.internal("cli"), orjson.dumps(_batch()), None, INGEST)
    assert status == 200
    assert spans.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, ["console", "otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, []),
    ],
)
def test_the_exporters_come_from_the_standard_variables(environ, names):
    assert tracing.exporter_names(environ) == names


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "jaeger"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    ],
)
def test_an_exporter_this_build_cannot_run_is_refused_naming_the_variable(environ):
    with pytest.raises(
        tracing.TracingConfigError, match="OTEL_TRACES_EXPORTER=|OTEL_EXPORTER_OTLP_PROTOCOL="
    ):
        tracing.exporter_names(environ)


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP collector's one route: the bodies POSTed to /v1/traces, decoded."""

    received: list[tuple[str, ExportTraceServiceRequest]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.received.append((self.path, ExportTraceServiceRequest.FromString(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *_args):
        pass


def test_with_an_otlp_endpoint_set_a_process_exports_its_spans_there(tmp_path):
    """A real process with OTEL_EXPORTER_OTLP_ENDPOINT: its alert cycle reaches the collector over OTLP/HTTP,
    as service helicarrier, when the process flushes on its way out (as a gunicorn worker does)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HELICARRIER_", "OTEL_"))},
        "HELICARRIER_DATA_DIR": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
    }
    code = (
        "from helicarrier.context import build_context; from helicarrier.alerts import engine;"
        "from helicarrier.observability import tracing;"
        "ctx = build_context(); engine.run_cycle(ctx.repo); tracing.shutdown(); ctx.repo.dispose()"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert [path for path, _ in _Collector.received] == ["/v1/traces"]
    (resource_spans,) = _Collector.received[0][1].resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    names = {s.name for scope in resource_spans.scope_spans for s in scope.spans}
    assert service == "helicarrier" and "alerts.cycle" in names


def test_a_protocol_this_build_cannot_send_refuses_to_start_with_one_line(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HELICARRIER_", "OTEL_"))},
        "HELICARRIER_DATA_DIR": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    done = subprocess.run(
        [sys.executable, "-m", "helicarrier", "scheduler"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    refusal = "helicarrier: refusing to start: OTEL_EXPORTER_OTLP_PROTOCOL='grpc' is not supported"
    assert done.stderr.strip().splitlines() == [f"{refusal}; use http/protobuf"], done.stderr
