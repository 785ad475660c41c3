"""The alert metrics on both backends, fed through the real ingest path where there is one: windows exact
to the second from hourly rollups plus the ragged first hour, group-bys, min sample counts, one query per
question per cycle."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from alerting_helpers import add_agents, ingest, make_rule, now_utc, secs, usage
from sqlalchemy import delete, insert

from helicarrier.alerts import engine
from helicarrier.data.models import Command, UsageEvent
from helicarrier.data.queries.alert_metrics import MetricCache
from helicarrier.data.queries.ingest_stats import record_ingest_stats


def evening():
    """A time 20 minutes past an hour, a few hours ago (ingest takes past events; rollups are hourly)."""
    t = now_utc()
    return t.replace(minute=20, second=0) - timedelta(hours=3)


def values(samples) -> dict:
    return {tuple(sorted(s.labels.items())): s.value for s in samples}


def test_spend_and_tokens_over_windows_are_exact_and_read_rollups(ctx):
    repo, e = ctx.repo, evening()
    ingest(
        ctx,
        [
            usage("u1", e - timedelta(hours=2, minutes=10)),  # 10:10 when e is 12:20
            usage("u2", e - timedelta(hours=1, minutes=5), agent="agent-001"),  # 11:15
            usage("u3", e - timedelta(minutes=30)),  # 11:50
            usage("u4", e - timedelta(minutes=15), agent="agent-001"),  # 12:05
        ],
    )
    spend = {w: repo.alert_metric("spend_usd", "fleet", w * 3600, {}, e)[0].value for w in (1, 2, 3)}
    assert spend == {1: Decimal("5"), 2: Decimal("7.5"), 3: Decimal("10")}
    assert values(repo.alert_metric("tokens", "agent", 3600, {}, e)) == {
        (("agent", "agent-000"),): Decimal(1_000_000),
        (("agent", "agent-001"),): Decimal(1_000_000),
    }
    assert values(repo.alert_metric("spend_usd", "model", 7200, {}, e)) == {
        (("model", "gpt-4o"),): Decimal("7.5")
    }
    share = repo.alert_metric("budget_share", "provider", 7200, {"budget_usd": "20"}, e)
    assert values(share) == {(("provider", "openai"),): Decimal("0.375")}
    # Whole hours come from the rollups: with the raw events gone, the 2 h window (10:20-12:20: hours 11
    # and 12 whole, nothing in the ragged 10:20-11:00) is unchanged; the 1 h window loses its ragged part.
    with repo.engine.begin() as conn:
        conn.execute(delete(UsageEvent))
    assert repo.alert_metric("spend_usd", "fleet", 7200, {}, e)[0].value == Decimal("7.5")
    assert repo.alert_metric("spend_usd", "fleet", 3600, {}, e)[0].value == Decimal("2.5")


def test_spend_by_agent_label_and_no_usage_is_no_data(ctx):
    repo, e = ctx.repo, evening()
    assert repo.alert_metric("spend_usd", "fleet", 3600, {}, e) == []  # nothing at all: no data, not $0
    hb = [
        {
            "id": f"h{i}",
            "type": "agent.heartbeat",
            "ts": (e - secs(60)).isoformat(),
            "agent_id": a,
            "data": {"status": "running", "labels": {"team": team}},
        }
        for i, (a, team) in enumerate([("agent-000", "core"), ("agent-001", "ml"), ("agent-002", "core")])
    ]
    ingest(ctx, hb + [usage(f"u{i}", e - secs(60), agent=f"agent-00{i}") for i in range(3)])
    assert values(repo.alert_metric("spend_usd", "label:team", 3600, {}, e)) == {
        (("team", "core"),): Decimal("5"),
        (("team", "ml"),): Decimal("2.5"),
    }


def test_failure_rate_counts_sessions_ended_in_the_window_with_a_minimum_sample(ctx):
    repo, e = ctx.repo, evening()
    events = []

    def session(agent, status, ended):
        sid = f"s-{uuid.uuid4().hex[:8]}"
        events.append(
            {
                "id": f"{sid}-a",
                "type": "session.start",
                "ts": (ended - secs(60)).isoformat(),
                "agent_id": agent,
                "session_id": sid,
                "data": {"model": "gpt-4o"},
            }
        )
        events.append(
            {
                "id": f"{sid}-b",
                "type": "session.end",
                "ts": ended.isoformat(),
                "agent_id": agent,
                "session_id": sid,
                "data": {"status": status},
            }
        )

    for status in ("failed", "failed", "succeeded", "timeout", "succeeded"):
        session("agent-000", status, e - secs(600))
    session("agent-000", "failed", e - secs(7200))  # ended before the window
    session("agent-001", "failed", e - secs(300))  # one session: too few to judge
    ingest(ctx, events)
    rate = values(repo.alert_metric("failure_rate", "agent", 3600, {"min_samples": 3}, e))
    assert rate == {(("agent", "agent-000"),): Decimal("0.6")}
    only_failed = repo.alert_metric(
        "failure_rate", "fleet", 3600, {"min_samples": 3, "statuses": ["failed"]}, e
    )
    assert only_failed[0].value == Decimal("0.5")  # 3 of 6 in the window
    assert repo.alert_metric("failure_rate", "fleet", 3600, {"min_samples": 50}, e) == []


def test_session_runtime_offline_agents_and_kills(ctx):
    repo, now = ctx.repo, now_utc()
    ingest(
        ctx,
        [
            {
                "id": "s1",
                "type": "session.start",
                "ts": (now - secs(600)).isoformat(),
                "agent_id": "a-1",
                "session_id": "run-1",
                "data": {"model": "gpt-4o"},
            }
        ],
    )
    assert values(repo.alert_metric("session_runtime_s", "session", 0, {}, now)) == {
        (("session", "run-1"),): 600
    }
    assert repo.alert_metric("session_runtime_s", "session", 0, {}, now)[0].context == {"agent": "a-1"}
    assert repo.alert_metric("session_runtime_s", "model", 0, {}, now)[0].value == 600

    add_agents(repo, 3, seen=now - secs(120), prefix="k")
    add_agents(repo, 1, seen=now - secs(120), prefix="dead", control_state="killed")  # killed: not "offline"
    offline = values(repo.alert_metric("agents_offline", "fleet", 0, {"offline_after_s": 60}, now))
    assert offline == {(): Decimal(4)}  # k-000..002, and a-1 whose last sign of life is 10 minutes old

    def kill(agent, state, expires, verification=None):
        with repo.engine.begin() as conn:
            conn.execute(
                insert(Command).values(
                    id=str(uuid.uuid4()),
                    agent_id=agent,
                    kind="kill",
                    state=state,
                    issued_by="omar",
                    created_at=expires - secs(300),
                    expires_at=expires,
                    updated_at=now,
                    verification=verification,
                )
            )

    kill("k-000", "delivered", now - secs(30))  # never confirmed: TTL ran out
    kill("k-000", "expired", now - secs(60))  # never fetched
    kill("k-001", "completed", now - secs(30))  # confirmed: fine
    kill("k-002", "completed", now - secs(30), "ineffective")  # confirmed, but spend went on
    kill("k-001", "delivered", now + secs(60))  # TTL not over yet
    assert values(repo.alert_metric("kills_unconfirmed", "agent", 3600, {}, now)) == {
        (("agent", "k-000"),): 2
    }
    assert values(repo.alert_metric("kills_ineffective", "fleet", 3600, {}, now)) == {(): 1}


def test_ingest_rejection_rate_from_ingest_stats(ctx):
    repo, now = ctx.repo, now_utc()
    assert repo.alert_metric("ingest_rejection_rate", "fleet", 600, {}, now) == []
    with repo.engine.begin() as conn:
        record_ingest_stats(conn, 80, 5, 15, now - secs(120))
        record_ingest_stats(conn, 0, 0, 0, now)  # nothing: no row
        record_ingest_stats(conn, 100, 0, 0, now - secs(7200))  # outside the window
    repo.record_ingest_stats(0, 0, 20, now - secs(60))  # a request refused whole, in its own transaction
    (rate,) = repo.alert_metric("ingest_rejection_rate", "fleet", 600, {"min_samples": 100}, now)
    assert rate.value == Decimal("0.291667")  # 35 of 120
    assert repo.alert_metric("ingest_rejection_rate", "fleet", 600, {"min_samples": 1000}, now) == []


def test_rules_asking_the_same_question_share_one_query(ctx):
    repo, e = ctx.repo, evening()
    ingest(ctx, [usage("u1", e - secs(60))])
    for i in range(20):
        make_rule(repo, name=f"spend {i}", metric="spend_usd", group_by="agent", threshold=str(i))
        make_rule(
            repo,
            name=f"budget {i}",
            metric="budget_share",
            group_by="agent",
            threshold="0.5",
            params={"budget_usd": str(i + 1)},
        )
    report = engine.run_cycle(repo, e)
    assert (report.rules, report.queries) == (40, 2)  # one usage query, one agent-context lookup
    cache = MetricCache()
    repo.alert_metric("spend_usd", "agent", 3600, {}, e, cache)
    repo.alert_metric("tokens", "agent", 3600, {}, e, cache)
    repo.alert_metric("spend_usd", "agent", 7200, {}, e, cache)
    assert cache.queries == 2
