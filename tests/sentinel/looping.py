"""Agents that go round in circles, reported through the real HTTP API, and the sentinel's cycles driven with
an explicit ``now``: shared by the sentinel's tests.

Every agent's events are stamped from ``api.base`` (half an hour ago), so cycles at base + a few minutes see
them in their windows; the app's offline threshold is an hour so the agents count as online for the cycles and
for the control service (which checks a kill's deliverability against the real clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helicarrier.data.models import Command
from helicarrier.sentinel.schemas import FindingsResponse
from helicarrier.sentinel.thresholds import parse_overrides
from tests.conftest import Api

LABELS = parse_overrides(
    '{"team=research": {"policy": "observe"}, "team=support": {"policy": "steer"}, '
    '"team=build": {"repeat_window_s": 600}}'
)


def looping_api(make_api, make_token) -> Api:
    api = make_api(
        offline_after_s=3600,
        sentinel_policy="kill",
        sentinel_grace_s=60,
        sentinel_cooldown_s=3600,
        sentinel_labels=LABELS,
    )
    api.control_token = make_token("operator", "control,read")
    api.base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    return api


def at(api: Api, minutes: float) -> datetime:
    return api.base + timedelta(minutes=minutes)


def report(api: Api, agent: str, *, start: float = 0, lines: int = 15, every_s: int = 4, team="ops",
           heartbeat: dict | None = None, session: str | None = None, message="retry {i}: GET /api/items/"
           "4411 failed (HTTP 502) after {ms} ms") -> str:  # fmt: skip
    """An agent starts a session at BASE + ``start`` min and logs ``lines`` lines, one every ``every_s``."""
    session = session or f"{agent}-s{int(start)}"
    t0 = at(api, start)
    hb = {"status": "running", "labels": {"team": team}, **(heartbeat or {})}
    events = [
        {
            "id": f"{session}-hb",
            "type": "agent.heartbeat",
            "ts": t0.isoformat(),
            "agent_id": agent,
            "data": hb,
        },
        {
            "id": f"{session}-st",
            "type": "session.start",
            "ts": t0.isoformat(),
            "agent_id": agent,
            "session_id": session,
            "data": {"model": "gpt-4.1", "provider": "openai", "task": "fix the flaky test"},
        },
    ]
    if hb["status"] != "running":  # the session's start says running; the heartbeat after it says what is so
        events.append({**events[0], "id": f"{session}-hb2", "ts": (t0 + timedelta(seconds=1)).isoformat()})
    for i in range(lines):
        ts = t0 + timedelta(seconds=2 + i * every_s)
        events.append(
            {
                "id": f"{session}-l{i}",
                "type": "log",
                "ts": ts.isoformat(),
                "agent_id": agent,
                "session_id": session,
                "data": {"level": "warning", "message": message.format(i=i, ms=100 + 37 * i)},
            }
        )
    resp = api.post({"version": "v2", "source": {"name": "loopers"}, "events": events})
    assert resp.status_code == 200, resp.get_json()
    return session


def cycle(api: Api, minutes: float):
    return api.ctx.sentinel.run_cycle(at(api, minutes))


def findings(api: Api, **query) -> list[dict]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    resp = api.client.get(f"/api/v1/sentinel/findings?{q}", headers=api.headers(api.control_token))
    assert resp.status_code == 200, resp.get_json()
    FindingsResponse.model_validate(resp.get_json())  # the documented shape
    return resp.get_json()["findings"]


def sentinel_commands(api: Api, agent: str, kind: str | None = None) -> list:
    rows = api.rows(Command, Command.agent_id == agent, Command.issued_by == "sentinel")
    return [r for r in rows if kind is None or r.kind == kind]


def audit(api: Api, action: str) -> list[dict]:
    df = api.repo.audit_entries(actor="sentinel", action=action)
    return df.to_dict("records")
