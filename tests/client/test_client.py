"""The agent client against the real app over real HTTP, on both backends."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helicarrier.client import _retry_after, new_id
from helicarrier.data.models import Agent, IngestReceipt, LogEvent, Session, UsageEvent

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def count(ctx, model, *where) -> int:
    with ctx.repo.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def one(ctx, model, *where):
    with ctx.repo.engine.connect() as conn:
        return conn.execute(select(model.__table__).where(*where)).one()


def test_events_arrive_with_session_totals(live_server, ingest_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = client.agent("agent-7", name="Researcher", labels={"team": "billing"})
    assert agent.heartbeat(status="running", current_task="triage tickets", model="gpt-4.1")
    openai, anthropic = fixture("openai_chat__full"), fixture("anthropic_messages__full")
    with agent.session(model="gpt-4.1", provider="openai", task="triage", task_kind="triage") as s:
        s.log("info", "step 1", attrs={"tool": "search"})
        s.usage(provider="openai", response=openai["payload"])
        s.usage(provider="anthropic", response=anthropic["payload"])
        s.log("warning", "slow tool")
    assert client.flush(timeout=10)

    a = one(ctx, Agent, Agent.id == "agent-7")
    assert (a.name, a.labels, a.status, a.current_session_id) == (
        "Researcher",
        {"team": "billing"},
        "idle",
        None,
    )
    row = one(ctx, Session, Session.id == s.id)
    assert (row.status, row.task_kind, row.usage_events) == ("succeeded", "triage", 2)
    assert row.input_tokens == openai["expected"]["input_tokens"] + anthropic["expected"]["input_tokens"]
    assert row.cache_read_tokens == 1920 + 16399
    assert count(ctx, UsageEvent, UsageEvent.session_id == s.id) == 2
    logs = count(ctx, LogEvent, LogEvent.session_id == s.id)
    assert logs == 2
    stats = client.stats
    assert (stats.sent, stats.failed, stats.dropped, stats.queued) == (7, 0, 0, 0)


def test_events_are_sent_without_flush_within_the_interval(live_server, ingest_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token, flush_interval=0.2)
    client.agent("steady").heartbeat("running")
    deadline = time.monotonic() + 15
    while count(ctx, Agent) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(ctx, Agent) == 1


def test_many_events_go_in_few_batches(live_server, ingest_token, make_client):
    url, ctx = live_server
    # A long flush interval: only a full batch (or flush) sends, so 1,200 events make exactly 3 requests.
    client = make_client(url, ingest_token, max_batch=500, flush_interval=60)
    agent = client.agent("batcher")
    for i in range(1200):
        agent.log("info", f"line {i}")
    assert client.flush(timeout=30)
    assert count(ctx, LogEvent) == 1200
    assert count(ctx, IngestReceipt) == 3  # one Idempotency-Key per batch
    assert client.stats.requests == 3 and client.stats.sent == 1200


def test_the_same_batch_sent_twice_is_stored_once(live_server, ingest_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token, start=False)
    agent = client.agent("twice")
    with agent.session(model="gpt-4.1", provider="openai") as s:
        s.usage(provider="openai", response=fixture("openai_chat__full")["payload"])
        s.log("info", "hello")
    events = list(client._queue)
    client._queue.clear()
    client._send_batch(events, key="batch-1")
    client._send_batch(events, key="batch-1")  # what a retry after a lost answer sends
    assert count(ctx, IngestReceipt) == 1
    assert count(ctx, LogEvent) == 1 and count(ctx, UsageEvent) == 1
    assert one(ctx, Session, Session.id == s.id).usage_events == 1  # totals not doubled


def _lose_first_answer(app: Callable, *, before_app: bool) -> Callable:
    """WSGI wrapper for the first ingest request: 429 before the app sees it, or a 503 after the app
    stored it (the answer lost on the way back)."""
    left = [1]
    lock = threading.Lock()

    def wsgi(environ, start_response):
        with lock:
            fail = environ["PATH_INFO"] == "/api/v1/ingest" and left[0] > 0
            left[0] -= fail
        if not fail:
            return app(environ, start_response)
        if not before_app:
            b"".join(app(environ, lambda *a, **k: lambda data: None))
        status = "429 Too Many Requests" if before_app else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json"), ("Retry-After", "0")])
        return [b'{"error": {"code": "busy", "message": "try again"}}']

    return wsgi


@pytest.mark.parametrize("before_app", [True, False], ids=["429-before-storing", "503-after-storing"])
def test_retries_store_each_event_once(settings, serve_wsgi, make_client, before_app):
    from helicarrier.webapp import create_app

    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("flaky", "ingest")
    url = serve_wsgi(_lose_first_answer(app.server, before_app=before_app))
    client = make_client(url, token)
    agent = client.agent("retrier")
    for i in range(10):
        agent.log("info", f"line {i}")
    assert client.flush(timeout=20)
    assert client.stats.retries == 1 and client.stats.sent == 10 and client.stats.failed == 0
    assert count(ctx, LogEvent) == 10
    assert count(ctx, IngestReceipt) == 1
    ctx.repo.dispose()


def test_a_batch_over_the_server_limit_is_split(settings, serve_wsgi, make_client):
    from helicarrier.webapp import create_app

    app = create_app(replace(settings, max_batch_events=100))
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("small", "ingest")
    client = make_client(serve_wsgi(app.server), token, max_batch=500)
    agent = client.agent("big")
    for i in range(300):
        agent.log("info", f"line {i}")
    assert client.flush(timeout=20)
    assert (client.stats.sent, client.stats.failed) == (300, 0)  # 413 -> halves of 150 -> 75 each
    assert count(ctx, LogEvent) == 300
    ctx.repo.dispose()


def test_retry_after_accepts_seconds_and_http_dates():
    soon = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert _retry_after("2") == 2.0
    assert 25 < _retry_after(soon) <= 30
    assert _retry_after("soon") is None and _retry_after(None) is None


def test_refused_batch_is_dropped_not_retried(live_server, make_client, caplog):
    url, ctx = live_server
    client = make_client(url, "hc_not-a-token")
    client.agent("nobody").log("info", "hello")
    with caplog.at_level(logging.WARNING, logger="helicarrier.client"):
        assert client.flush(timeout=10)
    assert (client.stats.failed, client.stats.retries, client.stats.sent) == (1, 0, 0)
    assert "401" in caplog.text and "unknown or revoked" in caplog.text
    assert count(ctx, LogEvent) == 0


def test_partly_refused_batch_counts_and_logs_the_refusals(live_server, ingest_token, make_client, caplog):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    client.agent("a").log("info", "fine")
    client.emit("log", "a", {"level": "loud", "message": "not a level"})
    with caplog.at_level(logging.WARNING, logger="helicarrier.client"):
        assert client.flush(timeout=10)
    assert (client.stats.sent, client.stats.failed) == (1, 1)
    assert "level" in caplog.text
    assert count(ctx, LogEvent) == 1


def test_unreachable_server_never_blocks_or_raises(dead_url, make_client):
    client = make_client(dead_url, "hc_x", backoff_base=0.5, backoff_max=2)
    agent = client.agent("lonely", name="Lonely")
    for i in range(200):
        assert agent.heartbeat("running", current_task=f"task {i}")
        assert agent.log("info", f"line {i}")
    with agent.session(model="o3", provider="openai") as s:
        assert s.usage(provider="openai", usage={"prompt_tokens": 1, "completion_tokens": 1})
    assert client.flush(timeout=0.2) is False
    assert client.close(timeout=0.2) is False
    stats = client.stats
    assert stats.sent == 0 and stats.queued == 0
    assert stats.failed + stats.dropped == 403


def test_queue_is_bounded_and_drops_the_oldest(dead_url, make_client):
    client = make_client(dead_url, "hc_x", max_queue=1000, start=False)
    agent = client.agent("chatty")
    for i in range(20_000):
        agent.log("info", f"m{i}")
    stats = client.stats
    assert (stats.dropped, stats.queued) == (19_000, 1000)
    kept = [e["data"]["message"] for e in client._queue]
    assert kept[0] == "m19000" and kept[-1] == "m19999"
    client.close(timeout=0)
    assert client.stats.dropped == 20_000


def test_session_block_ends_failed_with_the_error_and_reraises(live_server, ingest_token, make_client):
    url, ctx = live_server
    client = make_client(url, ingest_token)
    agent = client.agent("clumsy")
    with pytest.raises(ValueError, match="boom"), agent.session(model="gpt-4.1", provider="openai") as failed:
        raise ValueError("boom")
    explicit = agent.session(model="gpt-4.1", provider="openai")
    explicit.end("timeout", "no progress for 15 min")
    explicit.end("succeeded")  # only the first end counts
    with agent.session() as fine:
        pass
    assert client.flush(timeout=10)
    got = {r.id: (r.status, r.error) for r in _sessions(ctx)}
    assert got == {
        failed.id: ("failed", "ValueError: boom"),
        explicit.id: ("timeout", "no progress for 15 min"),
        fine.id: ("succeeded", None),
    }


def _sessions(ctx) -> list:
    with ctx.repo.engine.connect() as conn:
        return conn.execute(select(Session.id, Session.status, Session.error)).all()


def test_sdk_objects_are_sent_as_their_dump(live_server, ingest_token, make_client):
    """Provider SDKs return pydantic models; the client sends ``model_dump(mode="json", by_alias=True)``."""
    from pydantic import BaseModel, ConfigDict

    class GeminiResponse(BaseModel):  # the google-genai SDK dumps usage_metadata as usageMetadata
        model_config = ConfigDict(populate_by_name=True)
        model_version: str = "gemini-2.5-flash"
        usage_metadata: dict

        def model_dump(self, **kwargs):
            data = super().model_dump(**kwargs)
            return {"modelVersion": data["model_version"], "usageMetadata": data["usage_metadata"]}

    url, ctx = live_server
    client = make_client(url, ingest_token)
    usage = {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120}
    client.agent("sdk").usage("gcp.gemini", response=GeminiResponse(usage_metadata=usage))
    assert client.flush(timeout=10)
    row = one(ctx, UsageEvent, UsageEvent.agent_id == "sdk")
    assert (row.model, row.input_tokens, row.output_tokens) == ("gemini-2.5-flash", 100, 20)


def test_ids_are_time_ordered_uuid7_and_reproducible():
    ids = [new_id(1_700_000_000_000 + i) for i in range(50)]
    assert ids == sorted(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert int(uuid.UUID(ids[0]).hex[:12], 16) == 1_700_000_000_000
    a, b = random.Random(3), random.Random(3)
    assert [new_id(5, a) for _ in range(3)] == [new_id(5, b) for _ in range(3)]
