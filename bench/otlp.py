"""OTLP receiver throughput against the native ingest API, in the same run on the same server.

For each backend (a fresh SQLite file; a throwaway schema on the test PostgreSQL):
1. start ``gunicorn app:server`` (sync workers, one per core) on a migrated, empty database;
2. native baseline: post v2 batches of 500 events (``bench/ingest.py``'s mix: half OpenAI usage events,
   half log lines) from several client processes; events/s from the first request to the last 2xx;
3. OTLP: post ``ExportTraceServiceRequest`` protobuf batches of 500 GenAI chat spans (current semantic
   conventions, Anthropic usage with cache tokens; each span one priced usage event) the same way; spans/s;
4. count what was stored (log and usage rows) and print the ratio. Target: OTLP within 2x of native.

    .venv/bin/python bench/otlp.py [--events 100000] [--clients 4] [--workers 2]
                                   [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ingest as native  # noqa: E402 - bench/ingest.py, the native baseline

BATCH = 500
AGENTS = 50
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def _kv(key: str, value):
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_otlp_batches(client: int, n_batches: int) -> list[bytes]:
    """Protobuf ExportTraceServiceRequests of BATCH spans: 10 resources (agents) of 50 chat spans each."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    bodies = []
    for b in range(n_batches):
        request = ExportTraceServiceRequest()
        for r in range(10):
            rs = request.resource_spans.add()
            agent = f"otlp-agent-{(client * 7 + b * 10 + r) % AGENTS}"
            rs.resource.attributes.extend(
                [
                    _kv("service.name", "bench"),
                    _kv("helicarrier.agent.id", agent),
                    _kv("telemetry.sdk.language", "python"),
                ]
            )
            ss = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = "bench.genai", "1.0"
            for i in range(BATCH // 10):
                n = (b * 10 + r) * (BATCH // 10) + i
                span = ss.spans.add()
                span.trace_id = client.to_bytes(2, "big") + n.to_bytes(14, "big")
                span.span_id = n.to_bytes(8, "big")
                span.name = "chat claude-sonnet-4-6"
                span.kind = 3
                span.start_time_unix_nano = T0 + n * 1000
                span.end_time_unix_nano = T0 + n * 1000 + 1_500_000_000
                span.attributes.extend(
                    [
                        _kv("gen_ai.operation.name", "chat"),
                        _kv("gen_ai.provider.name", "anthropic"),
                        _kv("gen_ai.request.model", "claude-sonnet-4-6"),
                        _kv("gen_ai.response.model", "claude-sonnet-4-6"),
                        _kv("gen_ai.response.id", f"msg_{client}_{n}"),
                        _kv("gen_ai.usage.input_tokens", 18500),
                        _kv("gen_ai.usage.output_tokens", 445),
                        _kv("gen_ai.usage.cache_read.input_tokens", 16399),
                        _kv("gen_ai.usage.cache_creation.input_tokens", 2089),
                        _kv("session.id", f"otlp-s-{client}-{b}-{r}"),
                        _kv("server.address", "api.anthropic.com"),
                    ]
                )
        bodies.append(request.SerializeToString())
    return bodies


def otlp_client(port: int, token: str, bodies: list[bytes], start_evt, out_q) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    start_evt.wait()
    done = errors = 0
    for body in bodies:
        conn.request("POST", "/api/v1/otlp/v1/traces", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        rejected = (
            ExportTraceServiceResponse.FromString(data).partial_success.rejected_spans
            if resp.status == 200
            else 0
        )
        if resp.status == 200:
            done += BATCH - rejected
        if resp.status != 200 or rejected:
            errors += 1
            if errors < 3:
                print(f"  client error {resp.status}: {data[:300]!r}", file=sys.stderr)
    out_q.put((done, errors, time.perf_counter()))


def _stored(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from helicarrier.data.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            "native_usage": conn.execute(
                text("SELECT count(*) FROM usage_events WHERE source LIKE 'bench-%'")
            ).scalar_one(),
            "native_logs": conn.execute(
                text("SELECT count(*) FROM log_events WHERE source LIKE 'bench-%'")
            ).scalar_one(),
            "otlp_usage": conn.execute(
                text("SELECT count(*) FROM usage_events WHERE source = 'otlp'")
            ).scalar_one(),
        }
    engine.dispose()
    return out


def run(url: str, args, data_dir: Path) -> dict:
    token = native.prepare_database(url, data_dir)
    port = native._free_port()
    env = {
        **os.environ,
        "HELICARRIER_DATABASE_URL": url,
        "HELICARRIER_DATA_DIR": str(data_dir),
        "HELICARRIER_LOG_LEVEL": "WARNING",
        "HELICARRIER_AUTO_MIGRATE": "0",
        "HELICARRIER_SCHEDULER": "off",
    }
    # --threads 1: sync workers for real (with gunicorn.conf.py's threads they become gthread and keep each
    # client's connection on one worker; bench/ingest.py's post_all says more).
    cmd = [sys.executable, "-m", "gunicorn", "app:server", "--bind", f"127.0.0.1:{port}", "--workers",
           str(args.workers), "--worker-class", "sync", "--threads", "1", "--keep-alive", "30",
           "--log-level", "warning", "--timeout", "120"]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        native._wait_healthy(port, server)
        per_client = args.events // BATCH // args.clients
        nat = native.run_clients(
            native.client_proc, port, token, [native.make_batches(c, per_client) for c in range(args.clients)]
        )
        otlp = native.run_clients(
            otlp_client, port, token, [make_otlp_batches(c, per_client) for c in range(args.clients)]
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return {"native": nat, "otlp": otlp, "stored": _stored(url)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000, help="events (and spans) per phase")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"per phase: {args.events} in batches of {BATCH}, {args.clients} clients, {args.workers} workers")
    for backend in args.backends.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"hc-bench-otlp-{backend}-"))
        admin, schema = None, None
        try:
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'otlp.db'}"
            else:
                from sqlalchemy import create_engine, text
                from sqlalchemy.engine import make_url

                admin = create_engine(make_url(native.PG_URL), isolation_level="AUTOCOMMIT")
                schema = f"hc_bench_{uuid.uuid4().hex[:10]}"
                with admin.connect() as c:
                    c.execute(text(f'CREATE SCHEMA "{schema}"'))
                url = (
                    make_url(native.PG_URL)
                    .update_query_dict({"options": f"-csearch_path={schema}"})
                    .render_as_string(hide_password=False)
                )
            r = run(url, args, tmp)
            n, o, s = r["native"], r["otlp"], r["stored"]
            print(f"\n[{backend}]  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"  native ingest : {n['items']:>8} events in {n['seconds']:.2f} s = "
                  f"{n['per_s']:>9,.0f} events/s  ({n['errors']} failed requests)")  # fmt: skip
            print(f"  OTLP traces   : {o['items']:>8} spans  in {o['seconds']:.2f} s = "
                  f"{o['per_s']:>9,.0f} spans/s  ({o['errors']} failed or partial requests)")  # fmt: skip
            print(f"  stored        : {json.dumps(s)}")
            print(f"  ratio         : OTLP at {o['per_s'] / n['per_s']:.0%} of native (target: >= 50%)")
        finally:
            if admin is not None:
                from sqlalchemy import text

                with admin.connect() as c:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
