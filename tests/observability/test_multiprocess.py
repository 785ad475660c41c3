"""Under gunicorn with PROMETHEUS_MULTIPROC_DIR, a scrape answered by any one worker counts every worker's
requests: two workers serve the ingest, each keeps its own file, and /metrics adds them up."""

from __future__ import annotations

import http.client
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
from prometheus_client import multiprocess

from helicarrier.data.repository import Repository
from tests.deploy.test_two_instances import Instance
from tests.observability.scraping import parse, value
from tests.waiting import wait_for

REQUESTS = "helicarrier_ingest_requests_total"
LABELS = {"route": "/api/v1/ingest", "status": "200", "version": "v2"}


def _per_worker(directory: Path) -> dict[int, float]:
    """Each worker's own count of answered ingest requests, read from its file alone."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in multiprocess.MultiProcessCollector.merge([str(path)], accumulate=True):
            for s in metric.samples:
                if s.name == REQUESTS and s.labels == LABELS:
                    counts[pid] = s.value
    return counts


def _post(port: int, token: str, n: int) -> int:
    event = {"id": f"mp-{n}", "type": "agent.heartbeat", "ts": datetime.now(UTC).isoformat(),
             "agent_id": "atlas-01", "data": {"status": "running"}}  # fmt: skip
    body = orjson.dumps({"version": "v2", "source": {"name": "mp"}, "events": [event]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection: any worker
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_scrape_adds_up_every_workers_counts(db_url, tmp_path):
    repo = Repository.from_url(db_url)
    agent, _ = repo.create_token("fleet-host", "ingest")
    reader, _ = repo.create_token("prometheus", "read")
    repo.dispose()
    metrics_dir = tmp_path / "prometheus"
    (metrics_dir).mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"")  # a previous run's leftover: wiped at start
    server = Instance(db_url, tmp_path / "data", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    statuses: list[int] = []
    lock = threading.Lock()

    def burst() -> dict[int, float]:
        def one(i: int) -> None:
            status = _post(server.port, agent, i)
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=one, args=(len(statuses) + i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts = _per_worker(metrics_dir)
        return counts if len([pid for pid, n in counts.items() if n > 0]) >= 2 else {}

    try:
        wait_for(server.ready, 60, "gunicorn to answer /healthz")
        counts = wait_for(burst, 60, "both workers to have answered ingest requests")
        assert set(counts) <= server.worker_pids()
        assert set(statuses) == {200}

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {reader}"})
        resp = conn.getresponse()
        assert resp.status == 200
        scraped = parse(resp.read().decode())
    finally:
        server.stop()
    # One worker answered the scrape; it reported both workers' requests, all of them.
    assert value(scraped, REQUESTS, **LABELS) == len(statuses) == sum(counts.values())
    assert not (metrics_dir / "counter_1.db").exists()
