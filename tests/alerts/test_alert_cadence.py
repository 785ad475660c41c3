"""Per-rule evaluation cadence and the error streak (issue 15), on a real database (SQLite and PostgreSQL):
the scheduler's cycle evaluates only the rules that are due; a rule failing three times in a row is in
``error`` with its message while the other rules of the cycle still fire."""

from __future__ import annotations

import pytest
from alerting_helpers import ADMIN, add_agents, make_rule, now_utc, offline_rule, secs
from sqlalchemy import select, update

from helicarrier.alerts import engine
from helicarrier.alerts.service import AlertService
from helicarrier.data.models import Alert, AlertRule
from helicarrier.errors import Refused


def last_evals(repo) -> dict[str, object]:
    return {r["name"]: r["last_eval_at"] for r in repo.list_alert_rules()}


def test_a_cycle_evaluates_only_the_rules_that_are_due(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0)
    make_rule(repo, name="slow", metric="agents_offline", group_by="agent", interval_s=60)
    make_rule(repo, name="fast", metric="agents_offline", group_by="agent", interval_s=5)
    assert engine.run_cycle(repo, t0, due_only=True).rules == 2  # never evaluated: both due
    report = engine.run_cycle(repo, t0 + secs(10), due_only=True)
    assert report.rules == 1
    assert last_evals(repo) == {"fast": t0 + secs(10), "slow": t0}
    engine.run_cycle(repo, t0 + secs(60), due_only=True)
    assert last_evals(repo) == {"fast": t0 + secs(60), "slow": t0 + secs(60)}


def test_an_interval_below_the_minimum_is_refused(ctx):
    service = AlertService(ctx.repo, min_interval_s=5)
    body = {"name": "too fast", "metric": "agents_offline", "threshold": "0", "interval_s": 4}
    with pytest.raises(Refused) as refused:
        service.create_rule(body, ADMIN)
    assert (refused.value.status, refused.value.details["field"]) == (422, "interval_s")
    rule = service.create_rule({**body, "interval_s": 5}, ADMIN)
    assert rule["interval_s"] == 5
    default = {k: v for k, v in body.items() if k != "interval_s"}
    assert service.create_rule({**default, "name": "default"}, ADMIN)["interval_s"] == 15


def _set_params(repo, rule_id: int, params: dict) -> None:
    # Written past validation: a stored rule the metric cannot compute (a real failure in the metric).
    with repo.engine.begin() as conn:
        conn.execute(update(AlertRule).where(AlertRule.id == rule_id).values(params=params))


def test_three_failures_in_a_row_put_a_rule_in_error_and_the_others_still_fire(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 2, seen=t0 - secs(600))
    fine = offline_rule(repo)
    broken = make_rule(repo, name="budget", metric="budget_share", params={"budget_usd": "100"})
    _set_params(repo, broken["id"], {"budget_usd": "not a number"})
    for i in range(engine.ERROR_STREAK):
        engine.run_cycle(repo, t0 + secs(15 * i), due_only=True)
        rule = repo.get_alert_rule(broken["id"])
        assert rule["error_streak"] == i + 1 and rule["last_error"].startswith("InvalidOperation")
        if i + 1 < engine.ERROR_STREAK:
            assert rule["health"] is None  # a blip: not (yet) a broken rule
    assert rule["health"] == "error"
    with repo.engine.connect() as conn:
        states = dict(conn.execute(select(Alert.rule_id, Alert.state)).all())
    assert states[broken["id"]] == "error"
    assert repo.get_alert_rule(fine["id"])["health"] == "ok"
    assert [a["state"] for a in repo.list_alerts(rule_id=fine["id"])] == ["firing", "firing"]
    _set_params(repo, broken["id"], {"budget_usd": "100"})
    engine.run_cycle(repo, t0 + secs(60), due_only=True)
    rule = repo.get_alert_rule(broken["id"])
    assert (rule["health"], rule["error_streak"], rule["last_error"]) in {
        ("ok", 0, None),
        ("nodata", 0, None),
    }
