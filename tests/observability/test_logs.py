"""Log lines carry the request id and the trace id: JSON lines for a log collector
(HELICARRIER_LOG_FORMAT=json), readable ones otherwise. Real requests through the app's test client; the
process set-up in a real process."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from helicarrier.observability import logs, tracing

ROOT = Path(__file__).resolve().parents[2]
CSP = "/csp-report"  # a route anyone may post to, which logs a warning
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.use_exporter(exporter)
    yield exporter
    tracing.shutdown()


class Captured:
    def __init__(self, fmt: str):
        self.stream = io.StringIO()
        self.handler = logs.handler(fmt, self.stream)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict]:
        return [orjson.loads(line) for line in self.lines()]


@pytest.fixture
def captured(request) -> Iterator[Captured]:
    """Our handler on the root logger, in the format the test is parametrized with (json by default)."""
    cap = Captured(getattr(request, "param", "json"))
    root = logging.getLogger()
    root.addHandler(cap.handler)
    yield cap
    root.removeHandler(cap.handler)


def _report(client, **headers):
    resp = client.post(CSP, data=b'{"csp-report": {"violated-directive": "script-src"}}', headers=headers)
    assert resp.status_code == 204
    return resp


def test_a_json_line_carries_the_request_id_and_the_span_of_its_request(client, spans, captured):
    resp = _report(client)

    (line,) = [x for x in captured.json() if x["logger"] == "helicarrier.csp"]
    (server,) = [s for s in spans.get_finished_spans() if s.name == f"POST {CSP}"]
    assert line["request_id"] == resp.headers["X-Request-Id"]
    assert line["trace_id"] == f"{server.context.trace_id:032x}"
    assert line["span_id"] == f"{server.context.span_id:016x}"
    assert line["level"] == "WARNING" and "script-src" in line["message"]
    assert line["ts"].endswith("+00:00")  # UTC, ISO 8601


def test_with_tracing_off_a_line_still_carries_the_callers_trace_id(client, captured):
    _report(client, traceparent=f"00-{CALLER_TRACE}-00f067aa0ba902b7-01")
    (line,) = [x for x in captured.json() if x["logger"] == "helicarrier.csp"]
    assert line["trace_id"] == CALLER_TRACE


@pytest.mark.parametrize("captured", ["text"], indirect=True)
def test_a_text_line_is_readable_and_names_its_request_and_trace(client, spans, captured):
    resp = _report(client, **{"X-Request-Id": "req-42.a_b"})
    assert resp.headers["X-Request-Id"] == "req-42.a_b"  # a sane id is the caller's to choose
    (server,) = [s for s in spans.get_finished_spans() if s.name == f"POST {CSP}"]
    (line,) = [x for x in captured.lines() if "helicarrier.csp" in x]
    assert f"WARNING helicarrier.csp [request req-42.a_b trace {server.context.trace_id:032x}]: " in line


@pytest.mark.parametrize("sent", ["x" * 129, "a b", "id;X-Injected=1", "<script>", "ünïcode"])
def test_an_unusable_request_id_is_replaced_by_a_fresh_one(client, sent):
    got = _report(client, **{"X-Request-Id": sent}).headers["X-Request-Id"]
    assert got != sent and len(got) == 32 and int(got, 16) >= 0


def test_each_request_has_its_own_id_and_a_line_outside_any_has_none(client, captured):
    first, second = _report(client), _report(client)
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    logging.getLogger("helicarrier.test").warning("between requests")
    assert captured.json()[-1]["request_id"] is None and captured.json()[-1]["trace_id"] is None


def test_an_exception_is_one_json_line(captured):
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("helicarrier.test").exception("it failed")
    (line,) = captured.json()
    assert line["message"] == "it failed" and "ValueError: bad" in line["exc"]
    assert len(captured.lines()) == 1


def test_the_json_format_is_set_up_at_start_on_stdout(tmp_path):
    """A real process: building the context with HELICARRIER_LOG_FORMAT=json logs its migration as JSON on
    standard output, nothing on standard error."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HELICARRIER_", "OTEL_"))},
        "HELICARRIER_DATA_DIR": str(tmp_path),
        "HELICARRIER_LOG_FORMAT": "json",
        "HELICARRIER_LOG_LEVEL": "INFO",
    }
    code = "from helicarrier.context import build_context; build_context().repo.dispose()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert any(x["message"].startswith("database migrated from empty") for x in lines), lines
    assert all(x["logger"] and x["level"] and "request_id" in x for x in lines)
