"""Helpers for the alert engine tests: agents, usage through the real ingest path, rules, receivers, and a
local webhook receiver on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import insert, update

from helicarrier.actors import Actor
from helicarrier.alerts.rules import validate_rule
from helicarrier.alerts.validation import validate_receiver
from helicarrier.auth.binding import Speaker
from helicarrier.context import AppContext
from helicarrier.data.models import Agent

ADMIN = Actor("ada", "user", "admin")
OPERATOR = Actor("omar", "user", "operator")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def add_agents(repo, n: int, *, seen: datetime, prefix: str = "agent", **fields: Any) -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(n)]
    rows = [
        {
            "id": i,
            "name": i,
            "status": "idle",
            "first_seen_at": seen,
            "last_heartbeat_at": seen,
            "updated_at": seen,
            **fields,
        }
        for i in ids
    ]
    with repo.engine.begin() as conn:
        conn.execute(insert(Agent), rows)
    return ids


def heartbeat(repo, agent_ids: list[str], seen: datetime) -> None:
    with repo.engine.begin() as conn:
        conn.execute(update(Agent).where(Agent.id.in_(agent_ids)).values(last_heartbeat_at=seen))


def ingest(ctx: AppContext, events: list[dict]) -> dict:
    body = orjson.dumps({"version": "v2", "source": {"name": "alerts-test"}, "events": events})
    status, text = ctx.ingest.ingest(Speaker.internal("alerts-test"), body, None, "/api/v1/ingest")
    assert status in (200, 207), text
    return orjson.loads(text)


def usage(eid: str, ts: datetime, agent: str = "agent-000", prompt: int = 1_000_000, **kw) -> dict:
    """gpt-4o: 1,000,000 prompt tokens cost exactly $2.50."""
    return {
        "id": eid,
        "type": "usage",
        "ts": ts.isoformat(),
        "agent_id": agent,
        "session_id": kw.get("session"),
        "data": {
            "provider": "openai",
            "response": {"model": "gpt-4o", "usage": {"prompt_tokens": prompt, "completion_tokens": 0}},
        },
    }


def make_rule(repo, **body) -> dict:
    defaults = {"name": f"rule-{body.get('metric', 'x')}-{id(body)}", "threshold": "0"}
    return repo.create_alert_rule(validate_rule({**defaults, **body}), ADMIN)


def make_receiver(repo, url: str, **body) -> dict:
    values = validate_receiver({"name": f"hook-{id(body)}", "url": url, **body}, allow_local=True)
    return repo.create_receiver(values, ADMIN)


def offline_rule(repo, **body) -> dict:
    return make_rule(
        repo,
        **{
            "name": "agent offline",
            "metric": "agents_offline",
            "group_by": "agent",
            "threshold": "0",
            "params": {"offline_after_s": 60},
            **body,
        },
    )


class Hook:
    """A webhook receiver on 127.0.0.1 (port 0): records every POST; answers with ``statuses`` in turn."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.statuses: list[int] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.posts.append(orjson.loads(body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def secs(n: float) -> timedelta:
    return timedelta(seconds=n)
