"""A receiver's rate cap, on both backends, against a real webhook on 127.0.0.1: a storm of many groups
past ``max_per_hour`` becomes one summary with counts, at most once per group interval, and the held-back
groups go out as themselves once the hour has room (delayed, not lost)."""

from __future__ import annotations

from alerting_helpers import add_agents, make_receiver, now_utc, offline_rule, secs

from helicarrier.alerts import engine


def dispatch(repo, at):
    return engine.dispatch(repo, at, base_url="http://hud.test", allow_local=True)


def test_a_storm_past_the_cap_is_one_summary_per_group_interval_and_nothing_is_lost(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    offline_rule(repo)
    make_receiver(repo, hook.url, group_by=["agent"], group_wait_s=0, group_interval_s=300, max_per_hour=10)
    add_agents(repo, 100, seen=t0 - secs(300))
    engine.run_cycle(repo, t0)

    dispatch(repo, t0)
    assert len(hook.posts) == 11  # 10 groups as themselves, then one summary of the other 90
    *groups, summary = hook.posts
    assert {len(p["alerts"]) for p in groups} == {1}
    assert (summary["reason"], summary["rate_capped"], summary["firing"]) == (
        "rate_cap",
        {"groups": 90, "alerts": 90},
        90,
    )
    assert summary["message"].startswith(
        "90 alert groups (90 alerts) suppressed by the rate cap: agent=agent-"
    )
    assert summary["message"].endswith("; and 70 more")

    for s in range(15, 300, 15):  # the cap is reached, the summary was just sent: silence
        dispatch(repo, t0 + secs(s))
    assert len(hook.posts) == 11
    dispatch(repo, t0 + secs(300))  # a group interval later: one more summary, still 90 held back
    assert len(hook.posts) == 12 and hook.posts[-1]["rate_capped"] == {"groups": 90, "alerts": 90}

    # The first 11 sends left the hour; the summary at 300 s still counts: room for 9, then a summary.
    dispatch(repo, t0 + secs(3601))
    announced = {p["group_labels"]["agent"] for p in hook.posts if p["reason"] != "rate_cap"}
    assert len(hook.posts) == 22
    assert len(announced) == 19 and hook.posts[-1]["rate_capped"] == {"groups": 81, "alerts": 81}


def test_no_cap_sends_every_group(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    offline_rule(repo)
    make_receiver(repo, hook.url, group_by=["agent"], group_wait_s=0, max_per_hour=0)
    add_agents(repo, 70, seen=t0 - secs(300))
    engine.run_cycle(repo, t0)
    dispatch(repo, t0)
    assert len(hook.posts) == 70 and all(p["reason"] == "new" for p in hook.posts)
