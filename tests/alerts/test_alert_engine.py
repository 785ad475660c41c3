"""The evaluation cycle on a real database (SQLite and PostgreSQL): dedup, ``for`` across a restart, double
runs, no-data and error settings, silences, acknowledgement, inhibition, rule changes."""

from __future__ import annotations

from alerting_helpers import ADMIN, OPERATOR, add_agents, heartbeat, make_rule, now_utc, offline_rule, secs
from sqlalchemy import func, select

from helicarrier.alerts import engine
from helicarrier.alerts.lifecycle import fingerprint
from helicarrier.alerts.service import AlertService
from helicarrier.data.models import Alert, AlertEvalCycle, AlertEvent


def alerts(repo) -> list:
    with repo.engine.connect() as conn:
        return conn.execute(select(Alert).order_by(Alert.id)).all()


def events(repo, alert_id=None) -> list[tuple[str, str]]:
    stmt = select(AlertEvent.from_state, AlertEvent.to_state).order_by(AlertEvent.id)
    if alert_id is not None:
        stmt = stmt.where(AlertEvent.alert_id == alert_id)
    with repo.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt).all()]


def test_re_evaluation_updates_one_row(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    rule = offline_rule(repo)
    for i in range(4):
        engine.run_cycle(repo, t0 + secs(15 * i))
    (row,) = alerts(repo)
    assert (row.state, row.eval_count, row.last_seen_at, row.episode) == ("firing", 4, t0 + secs(45), 1)
    assert row.fingerprint == fingerprint(rule["id"], {"agent": "agent-000"})
    assert not row.context  # the agent has no provider or model to add
    assert events(repo) == [("inactive", "firing")]


def test_for_duration_survives_a_restart_in_the_middle(ctx, make_ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(120))
    offline_rule(repo, for_s=120)
    engine.run_cycle(repo, t0)
    assert [a.state for a in alerts(repo)] == ["pending"]
    repo.dispose()  # the process goes away mid-"for"

    restarted = make_ctx().repo  # a new engine and context on the same database
    engine.run_cycle(restarted, t0 + secs(60))
    assert [a.state for a in alerts(restarted)] == ["pending"]
    engine.run_cycle(restarted, t0 + secs(120))
    (row,) = alerts(restarted)
    assert (row.state, row.active_since, row.fired_at) == ("firing", t0, t0 + secs(120))
    assert events(restarted) == [("inactive", "pending"), ("pending", "firing")]
    # and another restart does not fire it again
    again = make_ctx().repo
    engine.run_cycle(again, t0 + secs(135))
    assert events(again) == [("inactive", "pending"), ("pending", "firing")]


def test_a_double_run_creates_nothing_twice(ctx, make_ctx):
    """Two evaluators that both read the state before either wrote (what the leader lock prevents, and
    the guarded writes survive)."""
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 3, seen=t0 - secs(300))
    offline_rule(repo)
    other = make_ctx().repo
    read = other.alert_states_for_eval
    stale = read(t0, 300)
    other.alert_states_for_eval = lambda now, s: stale  # the twin read before the first one wrote
    engine.run_cycle(repo, t0)
    engine.run_cycle(other, t0)
    assert len(alerts(repo)) == 3
    assert events(repo) == [("inactive", "firing")] * 3
    # The same for a change from an open state: both read "firing", both decide "resolved"; the guarded
    # write lets one through.
    heartbeat(repo, ["agent-000"], t0 + secs(20))
    stale = read(t0 + secs(30), 300)  # a real read of the state, before either writes
    assert {s.state for s in stale[next(iter(stale))].values()} == {"firing"}
    engine.run_cycle(repo, t0 + secs(30))
    engine.run_cycle(other, t0 + secs(30))
    assert events(repo).count(("firing", "resolved")) == 1


def test_resolution_keeps_start_end_and_peak_and_a_quick_return_reopens(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    make_rule(
        repo, name="offline fleet", metric="agents_offline", threshold="0", params={"offline_after_s": 60}
    )
    engine.run_cycle(repo, t0)
    heartbeat(repo, ["agent-000"], t0 + secs(10))
    engine.run_cycle(repo, t0 + secs(15))
    (row,) = alerts(repo)
    assert (row.state, row.fired_at, row.resolved_at, row.peak) == ("resolved", t0, t0 + secs(15), "1")
    with repo.engine.connect() as conn:
        details = conn.execute(
            select(AlertEvent.details).where(AlertEvent.to_state == "resolved")
        ).scalar_one()
    assert details["peak"] == "1" and details["fired_at"] == t0.isoformat()
    engine.run_cycle(repo, t0 + secs(200))  # offline again, within the 300 s reopen interval
    (row,) = alerts(repo)
    assert (row.state, row.fired_at, row.episode, row.resolved_at) == ("firing", t0, 1, None)
    assert events(repo)[-1] == ("resolved", "firing")
    heartbeat(repo, ["agent-000"], t0 + secs(210))
    engine.run_cycle(repo, t0 + secs(215))
    engine.run_cycle(repo, t0 + secs(2000))  # offline again, long after: a new episode of the same row
    (row,) = alerts(repo)
    assert (row.state, row.episode, row.fired_at) == ("firing", 2, t0 + secs(2000))


def test_no_data_and_error_follow_the_rule_settings(ctx, monkeypatch):
    repo, t0 = ctx.repo, now_utc()
    quiet = make_rule(repo, name="spend", metric="spend_usd", threshold="10")  # no usage at all: no data
    ok = make_rule(repo, name="spend ok", metric="spend_usd", threshold="10", nodata_state="ok")
    broken = make_rule(repo, name="broken", metric="tokens", threshold="1", error_state="error")
    kept = make_rule(
        repo, name="broken kept", metric="tokens", group_by="agent", threshold="1", error_state="keep_last"
    )
    add_agents(repo, 1, seen=t0)
    fine = offline_rule(repo)
    real = repo.alert_metric

    def failing(metric, group_by, window_s, params, now, cache=None):
        if metric == "tokens":
            raise RuntimeError("disk on fire")
        return real(metric, group_by, window_s, params, now, cache)

    monkeypatch.setattr(repo, "alert_metric", failing)
    for i in range(engine.ERROR_STREAK):  # the error setting applies from the third failure in a row
        report = engine.run_cycle(repo, t0 + secs(15 * i), holder="test-holder")
    assert (report.rules, report.failed) == (5, 2)
    by_rule = {a.rule_id: a for a in alerts(repo)}
    assert by_rule[quiet["id"]].state == "nodata"
    assert ok["id"] not in by_rule and kept["id"] not in by_rule
    assert (by_rule[broken["id"]].state, by_rule[broken["id"]].message) == (
        "error",
        "RuntimeError: disk on fire",
    )
    rules = {r["id"]: r for r in repo.list_alert_rules()}
    assert (rules[broken["id"]]["health"], rules[broken["id"]]["last_error"]) == (
        "error",
        "RuntimeError: disk on fire",
    )
    assert rules[quiet["id"]]["health"] == "nodata" and rules[fine["id"]]["health"] == "ok"
    cycle = repo.eval_cycles()[0]
    assert (cycle["rules_evaluated"], cycle["rules_failed"], cycle["holder"]) == (5, 2, "test-holder")
    assert {e["rule_id"] for e in cycle["errors"]} == {broken["id"], kept["id"]}
    assert cycle["duration_ms"] >= 0


def test_silence_suppresses_while_active_and_expires_by_itself(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 2, seen=t0 - secs(300))
    offline_rule(repo)
    engine.run_cycle(repo, t0)
    silence = repo.create_silence(
        [{"name": "agent", "op": "=", "value": "agent-001"}],
        t0 + secs(60),
        t0 + secs(600),
        "maintenance",
        OPERATOR,
    )

    def muted(at):
        return {a["labels"]["agent"]: a["silenced_by"] for a in engine.feed(repo, at)}

    assert muted(t0 + secs(30)) == {"agent-000": [], "agent-001": []}  # not started yet
    assert muted(t0 + secs(60)) == {"agent-000": [], "agent-001": [silence["id"]]}
    assert muted(t0 + secs(600)) == {"agent-000": [], "agent-001": []}  # expired: nothing had to run
    assert {a.state for a in alerts(repo)} == {"firing"}  # still evaluated and shown all along
    repo.expire_silence(silence["id"], OPERATOR, t0 + secs(700))
    assert repo.get_silence(silence["id"])["ends_at"] == t0 + secs(600)  # already expired: unchanged


def test_acknowledging_needs_a_firing_alert(ctx):
    import pytest

    from helicarrier.errors import Refused

    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(120))
    offline_rule(repo, for_s=300)
    engine.run_cycle(repo, t0)
    (row,) = alerts(repo)
    with pytest.raises(Refused) as err:
        AlertService(repo).ack(row.id, OPERATOR, "on it", t0)
    assert err.value.status == 409
    with pytest.raises(Refused) as err:
        AlertService(repo).ack(row.id + 1000, OPERATOR, "on it", t0)
    assert err.value.status == 404
    engine.run_cycle(repo, t0 + secs(300))
    acked = AlertService(repo).ack(row.id, OPERATOR, "restarting the host", t0 + secs(310))
    assert (acked["state"], acked["acked_by"], acked["ack_note"]) == ("firing", "omar", "restarting the host")
    assert events(repo, row.id)[-1] == ("firing", "firing")  # the ack is in the history
    assert list(repo.audit_entries(action="alert.ack")["actor"]) == ["omar"]
    # it resolves: the acknowledgement goes with the episode
    heartbeat(repo, ["agent-000"], t0 + secs(400))
    engine.run_cycle(repo, t0 + secs(410))
    (row,) = alerts(repo)
    assert (row.state, row.acked_by, row.acked_at) == ("resolved", None, None)


def test_inhibition_shows_what_mutes_each_alert(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 2, seen=t0 - secs(300), provider="openai", prefix="oa")
    add_agents(repo, 1, seen=t0 - secs(300), provider="anthropic", prefix="an")
    offline_rule(repo)
    make_rule(
        repo,
        name="provider outage",
        metric="agents_offline",
        group_by="provider",
        threshold="1",
        params={"offline_after_s": 60},
        inhibits={"matchers": ['alertname="agent offline"'], "equal": ["provider"]},
    )
    engine.run_cycle(repo, t0)
    feed = {(a["rule_name"], tuple(a["labels"].values())): a for a in engine.feed(repo, t0)}
    assert feed[("provider outage", ("openai",))]["inhibited_by"] == []
    assert feed[("agent offline", ("oa-000",))]["inhibited_by"] == ["provider outage"]
    assert feed[("agent offline", ("oa-001",))]["inhibited_by"] == ["provider outage"]
    assert feed[("agent offline", ("an-000",))]["inhibited_by"] == []  # one anthropic agent: no outage
    assert feed[("agent offline", ("oa-000",))]["all_labels"]["provider"] == "openai"


def test_disabling_a_rule_resolves_its_alerts_and_deleting_removes_them(ctx):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 2, seen=t0 - secs(300))
    rule = offline_rule(repo)
    engine.run_cycle(repo, t0)
    AlertService(repo).update_rule(rule["id"], {"enabled": False}, ADMIN)
    assert {a.state for a in alerts(repo)} == {"resolved"}
    engine.run_cycle(repo, t0 + secs(15))
    assert {a.state for a in alerts(repo)} == {"resolved"}
    repo.delete_alert_rule(rule["id"], ADMIN)
    assert alerts(repo) == [] and events(repo) == []


def test_each_cycle_is_recorded_and_old_ones_pruned(ctx):
    repo, t0 = ctx.repo, now_utc()
    offline_rule(repo)
    for i in range(5):
        engine.run_cycle(repo, t0 + secs(i), holder="h")
    assert repo.prune_alert_cycles(keep=2) == 3
    with repo.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AlertEvalCycle)).scalar_one() == 2
