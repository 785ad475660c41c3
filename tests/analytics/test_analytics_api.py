"""The analytics API through the real app: auth, parameters, shapes (validated against the documented
response models), pagination, and the figures the repository gives."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from helicarrier.analytics import schemas
from helicarrier.analytics.matrix import model_matrix
from tests.ingesting import provider_fixtures

FIXTURES = provider_fixtures()
T0 = datetime(2026, 3, 7, 22, tzinfo=UTC)
ROUTES = ["/api/v1/sessions", "/api/v1/sessions/s-001", "/api/v1/usage", "/api/v1/models/matrix"]


@pytest.fixture
def world(ctx, sender):
    rng = random.Random(1)
    events = []
    names = sorted(FIXTURES)
    for k in range(25):
        sid, agent = f"s-{k:03d}", f"agent-{k % 3}"
        start = T0 + timedelta(hours=k)
        model = ["gpt-4.1", "claude-sonnet-4-6"][k % 2]
        data = {
            "model": model,
            "task": f"task {k}",
            "task_kind": ["coding", "triage"][k % 2],
            "labels": {"team": "ab"[k % 2]},
        }
        events.append(sender.event("session.start", start, agent, sid, data))
        events.append(
            sender.event(
                "usage", start + timedelta(minutes=1), agent, sid, FIXTURES[names[k % len(names)]]["data"]
            )
        )
        if k % 4:
            status = "succeeded" if k % 3 else "failed"
            end = {"status": status, "error": None if status == "succeeded" else "ToolError: boom"}
            events.append(sender.event("session.end", start + timedelta(minutes=5), agent, sid, end))
    sender.send(events, batch=20, shuffle=rng)


def _get(client, url, headers):
    resp = client.get(url, headers=headers)
    assert resp.mimetype == "application/json"
    return resp


@pytest.mark.parametrize("url", ROUTES)
def test_auth_401_and_403(ctx, client, url):
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer hc_nope"}).status_code == 401
    token, _ = ctx.repo.create_token("agent-host", "ingest")
    resp = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "insufficient_scope"


def test_sessions_cursor_pagination_visits_every_session_once(world, client, read_headers):
    seen, cursor = [], None
    while True:
        url = "/api/v1/sessions?limit=4&sort=cost_nanos&order=asc" + (f"&cursor={cursor}" if cursor else "")
        body = _get(client, url, read_headers).get_json()
        schemas.SessionsResponse.model_validate(body)
        seen += [s["id"] for s in body["sessions"]]
        if not (cursor := body["next_cursor"]):
            break
    assert sorted(seen) == [f"s-{k:03d}" for k in range(25)] and len(seen) == len(set(seen))
    # Money is a decimal string next to its exact nanos.
    first = _get(client, "/api/v1/sessions?limit=1", read_headers).get_json()["sessions"][0]
    assert Decimal(first["cost_usd"]) * 10**9 == first["cost_nanos"]


def test_sessions_filters(world, client, read_headers):
    def ids(query):
        body = _get(client, f"/api/v1/sessions?limit=500&{query}", read_headers).get_json()
        return sorted(s["id"] for s in body["sessions"])

    assert ids("agent=agent-0&agent=agent-1") == ids("agent=agent-0,agent-1")
    assert ids("agent=agent-0") == [f"s-{k:03d}" for k in range(0, 25, 3)]
    assert ids("label=team%3Da") == [f"s-{k:03d}" for k in range(0, 25, 2)]
    assert ids("status=running") == [f"s-{k:03d}" for k in range(0, 25, 4)]
    assert ids("q=TASK%2012") == ["s-012"]
    assert ids("from=2026-03-08T00:00:00Z&to=2026-03-08T03:00:00%2B00:00") == ["s-002", "s-003", "s-004"]
    # A date in a zone: the whole local day, `to` included.
    assert ids("from=2026-03-08&to=2026-03-08&tz=Asia/Kolkata") == [f"s-{k:03d}" for k in range(0, 21)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=exploded", "status"),
        ("label=novalue", "label"),
        ("sort=password", "sort"),
        ("order=up", "order"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("cursor=garbage", "cursor"),
        ("from=yesterday", "from"),
        ("to=2026-03-08T10:00:00", "to"),
        ("tz=Mars/Olympus", "tz"),
    ],
)
def test_sessions_invalid_parameters_are_422_naming_the_parameter(client, read_headers, query, field):
    resp = _get(client, f"/api/v1/sessions?{query}", read_headers)
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "invalid_parameter" and err["details"] == {"field": field}
    assert err["message"].startswith(f"{field}:")


def _crafted_cursor(sort: str, values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, 0, "v", values]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        ("cost_nanos", ["abc", "s-001"]),
        ("cost_nanos", [2**70, "s-001"]),
        ("agent_id", ["a\u0000b", "2026-03-01T00:00:00+00:00", "s-001"]),
        ("agent_id", [{"a": 1}, "2026-03-01T00:00:00+00:00", "s-001"]),
        ("agent_id", ["x" * 500, "2026-03-01T00:00:00+00:00", "s-001"]),
        ("total_tokens", [1.5, "s-001"]),
    ],
)
def test_a_crafted_cursor_is_a_422_never_a_500(world, client, read_headers, sort, values):
    cursor = _crafted_cursor(sort, values)
    resp = _get(client, f"/api/v1/sessions?sort={sort}&order=asc&cursor={cursor}", read_headers)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["details"] == {"field": "cursor"}


def test_session_detail_and_404(world, client, read_headers):
    body = _get(client, "/api/v1/sessions/s-001", read_headers).get_json()
    schemas.SessionDetailResponse.model_validate(body)
    assert body["session"]["id"] == "s-001" and len(body["usage"]) == 1
    prov = body["breakdown"]["cost_by_provenance"]
    assert prov["computed_nanos"] == body["session"]["cost_nanos"]
    assert Decimal(prov["computed_usd"]) * 10**9 == prov["computed_nanos"]
    resp = _get(client, "/api/v1/sessions/nope", read_headers)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "unknown_session"


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata", "UTC"])
@pytest.mark.parametrize("group_by", ["day", "model", "provider", "agent"])
def test_usage(world, ctx, client, read_headers, tz, group_by):
    body = _get(
        client, f"/api/v1/usage?from=2026-03-08&to=2026-03-08&tz={tz}&group_by={group_by}", read_headers
    )
    assert body.status_code == 200, body.get_json()
    body = body.get_json()
    schemas.UsageResponse.model_validate(body)
    z = ZoneInfo(tz)
    start = datetime(2026, 3, 8, tzinfo=z)
    end = datetime(2026, 3, 9, tzinfo=z)
    assert body["from"] == start.astimezone(UTC).isoformat() and body["to"] == end.astimezone(UTC).isoformat()
    totals = ctx.repo.usage_totals(start, end)
    assert (
        body["totals"]["cost_nanos"] == totals["cost_nanos"] and body["totals"]["events"] == totals["events"]
    )
    assert Decimal(body["totals"]["cost_usd"]) * 10**9 == totals["cost_nanos"]
    # One local day: exact in every zone (its ends come from raw events), +05:30 included.
    assert sum(p["cost_nanos"] for p in body["series"]) == totals["cost_nanos"]
    assert {p["bucket"] for p in body["series"]} == {start.isoformat()}
    if group_by == "day":
        assert {p["group"] for p in body["series"]} == {"all"}


@pytest.mark.parametrize("group_by", ["day", "agent"])
def test_usage_series_over_days_across_a_clock_change(world, ctx, client, read_headers, group_by):
    """Three local days around New York's change to summer time: each point carries its own day's midnight
    (two offsets), in the order and with the figures of the repository's series."""
    tz = "America/New_York"
    url = f"/api/v1/usage?from=2026-03-07&to=2026-03-09&tz={tz}&group_by={group_by}"
    body = _get(client, url, read_headers).get_json()
    z = ZoneInfo(tz)
    days = [datetime(2026, 3, d, tzinfo=z) for d in (7, 8, 9)]
    assert [d.isoformat()[-6:] for d in days] == ["-05:00", "-05:00", "-04:00"]
    assert sorted({p["bucket"] for p in body["series"]}) == [d.isoformat() for d in days]
    rows = ctx.repo.usage_series_rows(
        days[0], datetime(2026, 3, 10, tzinfo=z), group_by=group_by if group_by == "agent" else None, tz=tz
    )
    want = [(r["bucket"].isoformat(), r["group"], r["cost_nanos"], r["events"]) for r in rows]
    assert [(p["bucket"], p["group"], p["cost_nanos"], p["events"]) for p in body["series"]] == want
    assert sum(p["events"] for p in body["series"]) == body["totals"]["events"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tz=Not/AZone", "tz"),
        ("from=2026-13-01", "from"),
        ("to=soon", "to"),
        ("from=2026-03-09&to=2026-03-01", "to"),
        ("group_by=label", "group_by"),
        ("granularity=minute", "granularity"),
        ("granularity=hour&from=2026-01-01&to=2026-03-01", "granularity"),
    ],
)
def test_usage_invalid_parameters(client, read_headers, query, field):
    resp = _get(client, f"/api/v1/usage?{query}", read_headers)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == {"field": field}


def test_usage_defaults_to_the_last_30_days(client, read_headers):
    body = _get(client, "/api/v1/usage", read_headers).get_json()
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    assert end - start == timedelta(days=30)
    assert end.date() == date.today() + timedelta(days=1) or end.date() == datetime.now(
        UTC
    ).date() + timedelta(days=1)


def test_model_matrix(world, ctx, client, read_headers):
    resp = _get(client, "/api/v1/models/matrix?from=2026-03-07&to=2026-03-09&min_samples=3", read_headers)
    body = resp.get_json()
    schemas.ModelMatrixResponse.model_validate(body)
    frame = model_matrix(ctx.repo, datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    assert len(body["cells"]) == len(frame)
    assert sum(c["total"] for c in body["cells"]) == int(frame["total"].sum()) > 0
    failing = [c for c in body["cells"] if c["failures"]]
    assert failing and failing[0]["top_failure_reasons"][0]["reason"] == "ToolError"
    assert {m["key"] for m in body["models"]} == {"gpt-4.1", "claude-sonnet-4-6"}
    assert all(c["insufficient"] == (c["total"] < 3) for c in body["cells"])
    bad = _get(client, "/api/v1/models/matrix?from=nope", read_headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["details"] == {"field": "from"}


def test_openapi_documents_the_analytics_routes(client):
    from openapi_spec_validator import validate

    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc)
    for path in (
        "/api/v1/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/usage",
        "/api/v1/models/matrix",
    ):
        op = doc["paths"][path]["get"]
        assert op["security"] == [{"bearer": []}] and "read" in op["description"]
        assert "200" in op["responses"] and "401" in op["responses"] and "403" in op["responses"]
    params = {p["name"] for p in doc["paths"]["/api/v1/usage"]["get"]["parameters"]}
    assert params == {"from", "to", "tz", "group_by", "granularity"}
