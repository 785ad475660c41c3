"""Budget locks end to end through the real API, on both backends, the evaluation driven with an explicit
``now``: a budget crossing raises the soft alert, then locks, pauses the running agent, refuses an injection
with the reason, tells the agent ``budget_locked`` on its poll and heartbeat, keeps taking its telemetry, and
unlocks and resumes it at the reset; an admin's override and a raised limit lift the lock, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helicarrier.alerts import engine
from helicarrier.budgets import periods
from helicarrier.data.models import Agent, Command, UsageEvent
from tests.control.test_control_api import act, poll

USAGE = {
    "provider": "openai",
    "model": "gpt-4.1",
    "usage": {"prompt_tokens": 200_000, "completion_tokens": 20_000},
}


def _zone(now: datetime) -> str:
    """An organisation zone in which ``now`` is mid-day (so three hours earlier is the same local day);
    Kolkata (+05:30) first: its midnight is not on a UTC hour, so the quarter-hour rollups are read too."""
    for name in ("Asia/Kolkata", "UTC", "Asia/Tokyo", "America/New_York"):
        if 6 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise AssertionError("no zone fits")


@pytest.fixture
def lk(make_api, make_token):
    """An app whose organisation zone puts now at mid-day; agent atlas-01 running session s1; tokens."""
    now = datetime.now(UTC).replace(microsecond=0)
    api = make_api(budget_tz=_zone(now))
    api.now = now
    api.control_token = make_token("operator-bot", "control,read")
    api.admin_token = make_token("admin-bot", "admin,read")
    beat = {"status": "running", "provider": "openai", "model": "gpt-4.1", "labels": {"team": "infra"}}
    resp = api.post(
        {
            "version": "v2",
            "source": {"name": "t"},
            "events": [
                {
                    "id": "hb",
                    "type": "agent.heartbeat",
                    "ts": now.isoformat(),
                    "agent_id": "atlas-01",
                    "data": beat,
                },
                {
                    "id": "st",
                    "type": "session.start",
                    "ts": (now - timedelta(hours=3)).isoformat(),
                    "agent_id": "atlas-01",
                    "session_id": "s1",
                    "data": {"model": "gpt-4.1", "provider": "openai", "task": "refactor"},
                },
            ],
        }
    )
    assert resp.status_code == 200, resp.get_json()
    cost = api.post(USAGE, path="/api/v1/usage/normalize").get_json()["cost"]["total_nanos"]
    assert cost > 0
    api.call_nanos = cost
    return api


def _spend(api, n: int, ts: datetime, first: int = 0) -> None:
    events = [
        {
            "id": f"u{first + i}",
            "type": "usage",
            "ts": ts.isoformat(),
            "agent_id": "atlas-01",
            "session_id": "s1",
            "data": USAGE,
        }
        for i in range(n)
    ]
    resp = api.post({"version": "v2", "source": {"name": "t"}, "events": events})
    assert resp.status_code == 200, resp.get_json()


def _usd(nanos: int) -> str:
    return f"{nanos // 10**9}.{nanos % 10**9:09d}"


def _create(api, **body):
    resp = api.post(body, path="/api/v1/budgets", token=api.admin_token)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["budget"]


def _budget(api, budget_id: int) -> dict:
    resp = api.client.get(f"/api/v1/budgets/{budget_id}", headers=api.headers(api.control_token))
    assert resp.status_code == 200
    return resp.get_json()["budget"]


def _heartbeat(api) -> dict:
    beat = {
        "version": "v1",
        "type": "agent.heartbeat",
        "agent_id": "atlas-01",
        "ts": api.now.isoformat(),
        "status": "running",
    }
    resp = api.post(beat)
    assert resp.status_code == 200
    return resp.get_json()


def _locked_budget(api, policy: str = "pause") -> dict:
    """A fleet budget of ten calls a day, eleven calls spent three hours ago, evaluated now: locked."""
    budget = _create(
        api, name="daily", scope="fleet", period="day", limit_usd=_usd(10 * api.call_nanos), policy=policy
    )
    _spend(api, 11, api.now - timedelta(hours=3))
    api.ctx.budgets.evaluate(api.now)
    return _budget(api, budget["id"])


def test_soft_alert_then_lock_pause_refusal_telemetry_and_reset(lk):
    budget = _create(lk, name="daily", scope="fleet", period="day", limit_usd=_usd(10 * lk.call_nanos))
    assert budget["state"] == "ok" and budget["soft_percent"] == 80 and budget["policy"] == "pause"

    # 8 of 10 calls: the soft line. The built-in rule raises the alert on the next cycle.
    _spend(lk, 8, lk.now - timedelta(hours=3))
    lk.ctx.budgets.evaluate(lk.now)
    soft = _budget(lk, budget["id"])
    assert soft["state"] == "soft" and soft["spent_usd"] == _usd(8 * lk.call_nanos).rstrip("0").rstrip(".")
    engine.run_cycle(lk.repo, lk.now)
    alerts = lk.client.get("/api/v1/alerts", headers=lk.headers(lk.control_token)).get_json()["alerts"]
    assert [(a["labels"]["budget"], a["state"]) for a in alerts if a["rule_name"] == "Budget threshold"] == [
        ("daily", "firing")
    ]
    assert lk.one(Agent, Agent.id == "atlas-01").control_state is None  # soft: nothing is stopped

    # 11 of 10: locked; the running agent is paused by the budget, through the command lifecycle.
    _spend(lk, 3, lk.now - timedelta(hours=3), first=8)
    lk.ctx.budgets.evaluate(lk.now)
    locked = _budget(lk, budget["id"])
    assert locked["state"] == "locked" and "spent this day" in locked["lock_reason"]
    assert lk.one(Agent, Agent.id == "atlas-01").control_state == "paused"
    pause = lk.one(Command, Command.kind == "pause")
    assert pause.issued_by == "budget" and "daily" in pause.reason
    lk.ctx.budgets.evaluate(lk.now + timedelta(seconds=30))  # the next cycle: no second pause
    assert lk.count(Command) == 1

    answer = poll(lk).get_json()
    assert answer["budget_locked"] is True and answer["budget_locks"][0]["name"] == "daily"
    assert [c["kind"] for c in answer["commands"]] == ["pause"]
    beat = _heartbeat(lk)
    assert beat["budget_locked"] is True and beat["budget_locks"][0]["name"] == "daily"

    refused = act(lk, "/api/v1/agents/atlas-01/tasks", {"task": "one more thing", "mode": "queue"})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "budget_locked" and error["details"]["budget"]["name"] == "daily"
    assert "daily" in error["message"]

    stored = lk.count(UsageEvent)
    _spend(lk, 2, lk.now - timedelta(minutes=1), first=100)  # telemetry during the lock: nothing lost
    assert lk.count(UsageEvent) == stored + 2

    # The period's reset: unlocked, and the agent the lock paused resumed.
    _start, end = periods.bounds("day", lk.ctx.budgets.zone, lk.now)
    lk.ctx.budgets.evaluate(end + timedelta(seconds=30))
    after = _budget(lk, budget["id"])
    assert after["state"] == "ok" and after["spent_usd"] == "0" and after["lock_reason"] is None
    assert lk.one(Agent, Agent.id == "atlas-01").control_state is None
    resume = lk.one(Command, Command.kind == "resume")
    assert resume.issued_by == "budget" and "reset" in resume.reason
    answer = poll(lk).get_json()
    assert answer["budget_locked"] is False and [c["kind"] for c in answer["commands"]] == ["resume"]
    assert _heartbeat(lk)["budget_locked"] is False
    assert act(lk, "/api/v1/agents/atlas-01/tasks", {"task": "go on"}).status_code == 201
    actions = set(lk.repo.audit_entries(actor="budget")["action"])
    assert {"budget.soft", "budget.lock", "budget.reset", "command.pause", "command.resume"} <= actions


def test_an_admin_override_lifts_the_lock_with_a_reason_audited(lk):
    budget = _locked_budget(lk)
    assert budget["state"] == "locked"
    path = f"/api/v1/budgets/{budget['id']}/override"
    no_reason = lk.post({}, path=path, token=lk.admin_token)
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["details"]["field"] == "reason"
    operator = lk.post({"reason": "x"}, path=path, token=lk.control_token)
    assert operator.status_code == 403  # admins only
    resp = lk.post({"reason": "release day: approved by finance"}, path=path, token=lk.admin_token)
    assert resp.status_code == 200 and resp.get_json()["budget"]["state"] == "overridden"
    assert lk.one(Agent, Agent.id == "atlas-01").control_state is None  # resumed
    entries = lk.repo.audit_entries(action="budget.override")
    assert list(entries["actor"]) == ["token:admin-bot"] and list(entries["reason"]) == [
        "release day: approved by finance"
    ]
    lk.ctx.budgets.evaluate(lk.now)  # still over the limit: an override holds until the reset
    assert _budget(lk, budget["id"])["state"] == "overridden"
    assert act(lk, "/api/v1/agents/atlas-01/tasks", {"task": "go on"}).status_code == 201
    again = lk.post({"reason": "twice"}, path=path, token=lk.admin_token)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_locked"


def test_an_operator_resume_under_a_lock_is_paused_again_at_the_next_evaluation(lk):
    _locked_budget(lk)
    assert act(lk, "/api/v1/agents/atlas-01/resume", {"reason": "let me"}).status_code == 201
    assert lk.one(Agent, Agent.id == "atlas-01").control_state is None
    lk.ctx.budgets.evaluate(lk.now + timedelta(seconds=30))  # the next cycle, still locked: paused again
    assert lk.one(Agent, Agent.id == "atlas-01").control_state == "paused"
    assert [c.kind for c in lk.rows(Command, order_by=[Command.created_at])].count("pause") == 2


def test_raising_the_limit_unlocks_and_resumes(lk):
    budget = _locked_budget(lk)
    resp = lk.client.patch(
        f"/api/v1/budgets/{budget['id']}",
        json={"limit_usd": _usd(100 * lk.call_nanos)},
        headers=lk.headers(lk.admin_token),
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["budget"]["state"] == "ok"
    assert lk.one(Agent, Agent.id == "atlas-01").control_state is None
    assert "budget.raise" in set(lk.repo.audit_entries(actor="token:admin-bot")["action"])


def test_kill_and_finish_policies(lk):
    killed = _locked_budget(lk, policy="kill")
    assert killed["state"] == "locked"
    kill = lk.one(Command, Command.kind == "kill")
    assert kill.issued_by == "budget" and lk.one(Agent, Agent.id == "atlas-01").control_state == "killing"


def test_finish_policy_lets_running_agents_finish_but_refuses_new_work(lk):
    budget = _locked_budget(lk, policy="finish")
    assert budget["state"] == "locked" and lk.count(Command) == 0
    assert lk.one(Agent, Agent.id == "atlas-01").control_state is None
    refused = act(lk, "/api/v1/agents/atlas-01/tasks", {"task": "more"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "budget_locked"


def test_scopes_a_budget_on_another_label_or_model_does_not_hold_the_agent(lk):
    _spend(lk, 11, lk.now - timedelta(hours=3))
    other = _create(lk, name="web team", scope="label", scope_value="team=web", limit_usd=_usd(lk.call_nanos))
    mine = _create(lk, name="infra", scope="label", scope_value="team=infra", limit_usd=_usd(lk.call_nanos))
    model = _create(
        lk, name="gpt-4.1", scope="model", scope_value="gpt-4.1", limit_usd=_usd(100 * lk.call_nanos)
    )
    lk.ctx.budgets.evaluate(lk.now)
    assert _budget(lk, other["id"])["state"] == "ok" and _budget(lk, other["id"])["spent_usd"] == "0"
    assert _budget(lk, mine["id"])["state"] == "locked"
    assert _budget(lk, model["id"])["spent_usd"] == _budget(lk, mine["id"])["spent_usd"]


def test_burn_rate_projects_exhaustion_and_fires_the_soft_alert_early(lk):
    budget = _create(lk, name="daily", scope="fleet", period="day", limit_usd=_usd(1000 * lk.call_nanos))
    _spend(lk, 4, lk.now - timedelta(minutes=20))  # 4 calls in the last hour: 0.4% spent, burning fast
    lk.ctx.budgets.evaluate(lk.now)
    got = _budget(lk, budget["id"])
    assert got["burn_rate_usd_per_h"] != "0" and got["projected_exhaustion_at"] is not None
    start, end = periods.bounds("day", lk.ctx.budgets.zone, lk.now)
    projected = datetime.fromisoformat(got["projected_exhaustion_at"])
    # Only the last hour's 4 calls count toward the rate, so the projection is far off: still ok.
    assert projected > end and got["state"] == "ok"
    _spend(lk, 400, lk.now - timedelta(minutes=5), first=10)  # a runaway: 40% in minutes
    lk.ctx.budgets.evaluate(lk.now)
    got = _budget(lk, budget["id"])
    assert datetime.fromisoformat(got["projected_exhaustion_at"]) < end
    assert got["state"] == "soft"  # well under 80%, but on course to run out today


def test_a_huge_limit_at_a_small_rate_projects_nothing(lk):
    _spend(lk, 1, lk.now - timedelta(minutes=5))
    huge = _create(lk, name="huge", scope="fleet", limit_usd="1000000000")  # a billion at cents an hour
    assert huge["projected_exhaustion_at"] is None and huge["burn_rate_usd_per_h"] != "0"


def test_budget_crud_refusals(lk):
    post = lambda body, token=None: lk.post(body, path="/api/v1/budgets", token=token or lk.admin_token)  # noqa: E731
    assert post({"name": "x", "scope": "fleet", "limit_usd": "1"}, lk.control_token).status_code == 403
    bad = post({"name": "x", "scope": "fleet", "limit_usd": 1.5})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "limit_usd"
    label = post({"name": "x", "scope": "label", "scope_value": "team", "limit_usd": "1"})
    assert label.status_code == 422 and label.get_json()["error"]["details"]["field"] == "scope_value"
    assert post({"name": "x", "scope": "fleet", "limit_usd": "1"}).status_code == 201
    dup = post({"name": "x", "scope": "fleet", "limit_usd": "1"})
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "name_taken"
    y = post({"name": "y", "scope": "fleet", "limit_usd": "1"}).get_json()["budget"]
    renamed = lk.client.patch(
        f"/api/v1/budgets/{y['id']}", json={"name": "x"}, headers=lk.headers(lk.admin_token)
    )
    assert renamed.status_code == 409 and renamed.get_json()["error"]["code"] == "name_taken"
    assert (
        lk.client.delete(f"/api/v1/budgets/{y['id']}", headers=lk.headers(lk.admin_token)).status_code == 200
    )
    listed = lk.client.get("/api/v1/budgets", headers=lk.headers(lk.control_token)).get_json()["budgets"]
    assert [b["name"] for b in listed] == ["x"] and listed[0]["limit_usd"] == "1"
    missing = lk.client.get("/api/v1/budgets/999", headers=lk.headers(lk.control_token))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_budget"
    gone = lk.client.delete(f"/api/v1/budgets/{listed[0]['id']}", headers=lk.headers(lk.admin_token))
    assert gone.status_code == 200 and gone.get_json() == {"deleted": listed[0]["id"]}


def test_a_locked_fleet_budget_holds_the_autoscaler(lk):
    assert lk.ctx.autoscale.signals(lk.now).locked is False
    _locked_budget(lk)
    assert lk.ctx.autoscale.signals(lk.now).locked is True
