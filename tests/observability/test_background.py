"""The metrics of what runs besides ingest: alert cycles and their lag, webhook deliveries, scheduler jobs and
the HUD's callbacks, each read back through a real scrape of the app."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helicarrier.alerts import engine
from helicarrier.scheduler.runner import Job, Scheduler
from tests.alerts.alerting_helpers import Hook, add_agents, make_receiver, now_utc, offline_rule
from tests.observability.scraping import moved, parse, value
from tests.waiting import wait_for
from tests.web.test_operations import PASSWORD, create_token_request, signed_in


def _scrape(api) -> dict:
    resp = api.client.get("/metrics", headers=api.headers(api.reader))
    assert resp.status_code == 200
    return parse(resp.get_data(as_text=True))


def _reader(api, make_token):
    api.reader = make_token("prometheus", "read")
    return api


def test_an_alert_cycle_is_timed_and_its_lag_read_from_the_database(api, make_token):
    api = _reader(api, make_token)
    before = _scrape(api)
    assert ("helicarrier_alert_evaluation_lag_seconds", frozenset()) not in before  # never evaluated
    engine.run_cycle(api.repo, now_utc() - timedelta(seconds=40))
    after = _scrape(api)
    assert moved(before, after, "helicarrier_alert_evaluation_duration_seconds_count") == 1
    assert 40 <= value(after, "helicarrier_alert_evaluation_lag_seconds") < 100


def test_webhook_deliveries_are_counted_sent_and_failed(api, make_token):
    api = _reader(api, make_token)
    repo, t0 = api.repo, now_utc()
    hook = Hook()
    try:
        add_agents(repo, 2, seen=t0 - timedelta(seconds=600))
        offline_rule(repo)
        make_receiver(repo, hook.url, group_wait_s=0)
        hook.statuses = [500]
        before = _scrape(api)
        engine.run_cycle(repo, t0)
        engine.dispatch(repo, t0, base_url="http://hud.test", backoff_s=10, allow_local=True)
        engine.dispatch(repo, t0 + timedelta(seconds=11), base_url="http://hud.test", allow_local=True)
        assert len(hook.posts) == 2  # refused once, then taken
        after = _scrape(api)
    finally:
        hook.close()
    assert moved(before, after, "helicarrier_webhook_deliveries_total", outcome="failed") == 1
    assert moved(before, after, "helicarrier_webhook_deliveries_total", outcome="sent") == 1


def test_scheduler_jobs_count_their_runs_and_failures(api, make_token):
    api = _reader(api, make_token)

    def boom(_ctx):
        raise RuntimeError("this job always fails")

    before = _scrape(api)
    scheduler = Scheduler(api.ctx, [Job("metrics-ok", 1, lambda _ctx: None), Job("metrics-boom", 1, boom)])
    scheduler.start()
    try:
        after = wait_for(
            lambda: (
                (s := _scrape(api))
                and moved(before, s, "helicarrier_scheduler_job_failures_total", job="metrics-boom") >= 1
                and moved(before, s, "helicarrier_scheduler_job_runs_total", job="metrics-ok") >= 1
                and s
            ),
            timeout=30,
            what="both jobs to run",
        )
    finally:
        scheduler.shutdown()
    assert moved(before, after, "helicarrier_scheduler_job_failures_total", job="metrics-ok") == 0
    assert moved(before, after, "helicarrier_scheduler_job_duration_seconds_count", job="metrics-ok") >= 1


def test_a_hud_callback_is_timed_by_page_and_name(api, make_token):
    api = _reader(api, make_token)
    api.repo.create_user("ada", PASSWORD, "admin")
    before = _scrape(api)
    admin = signed_in(api.app, "ada")
    assert admin.post("/_dash-update-component", json=create_token_request("ci-host")).status_code == 200
    after = _scrape(api)
    timed = "helicarrier_dash_callback_duration_seconds_count"
    assert moved(before, after, timed, callback="operations.create_token") == 1


def test_a_failing_rule_and_a_failing_cycle_are_counted_apart(api, make_token, monkeypatch):
    api = _reader(api, make_token)
    offline_rule(api.repo)
    before = _scrape(api)

    def unreadable(*_args, **_kwargs):
        raise RuntimeError("the metric's query failed")

    monkeypatch.setattr(api.repo, "alert_metric", unreadable)
    report = engine.run_cycle(api.repo)
    assert report.failed == 1  # the rule failed; the cycle ran to its end
    monkeypatch.setattr(api.repo, "list_alert_rules", unreadable)
    with pytest.raises(RuntimeError):
        engine.run_cycle(api.repo)
    after = _scrape(api)
    errors = "helicarrier_alert_evaluation_errors_total"
    assert moved(before, after, errors, scope="rule") == 1
    assert moved(before, after, errors, scope="cycle") == 1
    assert moved(before, after, "helicarrier_alert_evaluation_duration_seconds_count") == 2
