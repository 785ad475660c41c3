"""Notifications end to end, on both backends, against real webhook receivers on 127.0.0.1: grouping a
storm, silences, acknowledgement and repeat interval, inhibition, retries with backoff, disabling a
failing receiver (with an alert of its own)."""

from __future__ import annotations

from alerting_helpers import (
    ADMIN,
    OPERATOR,
    add_agents,
    heartbeat,
    make_receiver,
    make_rule,
    now_utc,
    offline_rule,
    secs,
)

from helicarrier.alerts import engine
from helicarrier.alerts.service import AlertService


def cycle_and_dispatch(repo, at, **kw):
    engine.run_cycle(repo, at)
    return engine.dispatch(repo, at, base_url="http://hud.test", backoff_s=10, allow_local=True, **kw)


def test_five_hundred_agents_going_offline_are_one_notification(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 500, seen=t0 - secs(30))
    offline_rule(repo)
    make_receiver(repo, hook.url)
    assert cycle_and_dispatch(repo, t0).notifications == 0  # all online
    storm = t0 + secs(60)  # every heartbeat is now 90 s old
    cycle_and_dispatch(repo, storm)
    assert hook.posts == []  # group wait: collect the rest of the storm
    for s in (15, 30):
        cycle_and_dispatch(repo, storm + secs(s))
    assert len(hook.posts) == 1
    (note,) = hook.posts
    assert (note["status"], note["firing"], len(note["alerts"])) == ("firing", 500, 500)
    assert note["group_labels"] == {"alertname": "agent offline"}
    first = note["alerts"][0]
    assert (
        first["dedup_key"] == first["fingerprint"]
        and first["url"] == f"http://hud.test/alerts?alert={first['id']}"
    )
    assert first["labels"]["alertname"] == "agent offline" and first["labels"]["agent"].startswith("agent-")
    for s in range(45, 600, 15):  # still firing, nothing new: no more notifications within the interval
        cycle_and_dispatch(repo, storm + secs(s))
    assert len(hook.posts) == 1
    heartbeat(repo, [f"agent-{i:03d}" for i in range(500)], storm + secs(600))
    for s in (615, 630):
        cycle_and_dispatch(repo, storm + secs(s))
    assert len(hook.posts) == 2
    assert (hook.posts[1]["status"], hook.posts[1]["resolved"]) == ("resolved", 500)
    (log,) = [d for d in repo.list_deliveries() if d["reason"] == "new"]
    assert (log["status"], log["attempts"], len(log["alerts"])) == ("sent", 1, 500)


def test_pending_silenced_inhibited_and_acknowledged_alerts_are_not_notified(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300), prefix="quiet", provider="anthropic")
    add_agents(repo, 1, seen=t0 - secs(300), prefix="acked", provider="anthropic")
    add_agents(repo, 3, seen=t0 - secs(300), prefix="oa", provider="openai")
    offline_rule(repo)
    make_rule(repo, name="slow burner", metric="agents_offline", threshold="0", for_s=3600)  # stays pending
    make_rule(
        repo,
        name="provider outage",
        metric="agents_offline",
        group_by="provider",
        threshold="2",
        inhibits={"matchers": ['alertname="agent offline"'], "equal": ["provider"]},
    )
    make_receiver(repo, hook.url, group_by=["alertname"], group_wait_s=0)
    repo.create_silence(
        [{"name": "agent", "op": "=", "value": "quiet-000"}], t0, t0 + secs(3600), "known", OPERATOR
    )
    engine.run_cycle(repo, t0)
    acked = next(a for a in repo.list_alerts(states=["firing"]) if a["labels"].get("agent") == "acked-000")
    AlertService(repo).ack(acked["id"], OPERATOR, "on it", t0)
    engine.dispatch(repo, t0, allow_local=True)
    notified = {
        (p["group_labels"]["alertname"], a["labels"].get("agent") or a["labels"].get("provider"))
        for p in hook.posts
        for a in p["alerts"]
    }
    assert notified == {("provider outage", "openai")}


def test_acknowledged_alert_is_notified_again_after_the_repeat_interval(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    offline_rule(repo)
    make_receiver(repo, hook.url, group_wait_s=0, group_interval_s=60, repeat_interval_s=600)
    cycle_and_dispatch(repo, t0)
    assert len(hook.posts) == 1
    (alert,) = repo.list_alerts(states=["firing"])
    AlertService(repo).ack(alert["id"], OPERATOR, "restarting it", t0 + secs(10))
    for s in range(15, 600, 15):
        cycle_and_dispatch(repo, t0 + secs(s))
    assert len(hook.posts) == 1  # paused
    cycle_and_dispatch(repo, t0 + secs(615))
    assert len(hook.posts) == 2 and hook.posts[1]["reason"] == "repeat"


def test_silence_that_expires_lets_notifications_through(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    offline_rule(repo)
    make_receiver(repo, hook.url, group_wait_s=0)
    repo.create_silence(
        [{"name": "alertname", "op": "=", "value": "agent offline"}], t0, t0 + secs(60), "deploy", OPERATOR
    )
    for s in (0, 15, 30, 45):
        cycle_and_dispatch(repo, t0 + secs(s))
    assert hook.posts == []
    cycle_and_dispatch(repo, t0 + secs(60))
    assert len(hook.posts) == 1


def test_webhook_is_retried_with_backoff_until_it_answers(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    offline_rule(repo)
    make_receiver(repo, hook.url, group_wait_s=0)
    hook.statuses = [500, 503]
    engine.run_cycle(repo, t0)
    report = engine.dispatch(repo, t0, backoff_s=10, allow_local=True)
    assert (report.attempts, report.failed) == (1, 1)
    (d,) = repo.list_deliveries()
    assert (d["status"], d["attempts"], d["next_attempt_at"]) == ("retrying", 1, t0 + secs(10))
    assert "HTTP 500" in d["error"]
    assert engine.dispatch(repo, t0 + secs(5), backoff_s=10, allow_local=True).attempts == 0  # not yet
    engine.dispatch(repo, t0 + secs(10), backoff_s=10, allow_local=True)  # second failure: next in 20 s
    (d,) = repo.list_deliveries()
    assert (d["attempts"], d["next_attempt_at"]) == (2, t0 + secs(30))
    report = engine.dispatch(repo, t0 + secs(30), backoff_s=10, allow_local=True)
    assert (report.sent, len(hook.posts)) == (1, 3)
    (d,) = repo.list_deliveries()
    assert (d["status"], d["attempts"], d["sent_at"], d["error"]) == ("sent", 3, t0 + secs(30), None)
    assert hook.posts[0] == hook.posts[2]  # the same notification, retried
    assert repo.list_receivers()[0]["consecutive_failures"] == 0


def test_failing_receiver_is_disabled_and_raises_an_alert_of_its_own(ctx, hook, hook2):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    offline_rule(repo)
    broken = make_receiver(repo, hook.url, name="pager", group_wait_s=0)
    hook.statuses = [500] * 10
    cycle_and_dispatch(repo, t0)
    t = t0
    for backoff in (10, 20, 40, 80):
        t += secs(backoff)
        engine.dispatch(repo, t, backoff_s=10, allow_local=True)
    assert len(hook.posts) == 5
    receiver = repo.get_receiver(broken["id"])
    assert (receiver["enabled"], receiver["consecutive_failures"]) == (False, 5)
    assert "5 consecutive failures" in receiver["disabled_reason"]
    assert [d["status"] for d in repo.list_deliveries()] == ["failed"]
    assert list(repo.audit_entries(action="alert_receiver.disable")["outcome"]) == ["error"]
    # The next cycle turns it into an alert, notified to the receivers that still work.
    make_receiver(repo, hook2.url, name="chat", group_wait_s=0)
    cycle_and_dispatch(repo, t + secs(15))
    (own,) = [
        a for a in repo.list_alerts(states=["firing"]) if a["rule_name"] == "Notification receiver disabled"
    ]
    assert (own["labels"], own["severity"]) == ({"receiver": "pager"}, "critical")
    assert {p["group_labels"]["alertname"] for p in hook2.posts} == {
        "agent offline",
        "Notification receiver disabled",
    }
    assert len(hook.posts) == 5  # the disabled one hears nothing more
    # Enabled again by an admin: the failure count starts over and its alert resolves.
    repo.update_receiver(broken["id"], {"enabled": True}, ADMIN)
    engine.run_cycle(repo, t + secs(30))
    assert repo.get_alert(own["id"])["state"] == "resolved"
    assert repo.get_receiver(broken["id"])["consecutive_failures"] == 0


def test_unreachable_receiver_counts_as_a_failure(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    offline_rule(repo)
    make_receiver(repo, "http://127.0.0.1:9/nothing-listens-here", group_wait_s=0)
    engine.run_cycle(repo, t0)
    assert engine.dispatch(repo, t0, allow_local=True).failed == 1
    (d,) = repo.list_deliveries()
    assert d["status"] == "retrying" and d["error"]
