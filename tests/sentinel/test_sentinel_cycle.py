"""The stuck-loop sentinel end to end, on both backends: agents report through the real HTTP API, the
sentinel's cycle runs with an explicit ``now`` (no sleeping), and what it did is read back through the API
(findings, commands) and the audit log. The agents and the clock: tests/sentinel/looping.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helicarrier.config import ConfigError, load_settings
from helicarrier.data.models import Agent
from helicarrier.scheduler.runner import Scheduler
from helicarrier.sentinel.schemas import ExemptionResponse
from tests.sentinel.looping import at, audit, cycle, findings, report, sentinel_commands


def test_a_looping_agent_is_killed_once_with_evidence(sen):
    report(sen, "looper")
    cycle(sen, 2)  # detected: recorded and alerted at once
    (f,) = findings(sen, agent="looper")
    assert f["detector"] == "repeat" and f["state"] == "open" and f["step"] == "alert"
    ev = f["evidence"]
    assert ev["count"] == 15 and ev["window_s"] == 300 and ev["threshold"] == 12
    assert ev["pattern"] == "retry <n>: GET <path> failed (HTTP <n>) after <n> ms"
    assert ev["lines"][-1]["message"].startswith("retry 14: GET /api/items/4411")
    assert sentinel_commands(sen, "looper") == []

    cycle(sen, 2.5)  # within the grace: nothing more
    assert sentinel_commands(sen, "looper") == []
    cycle(sen, 3)  # a grace later: steered
    (steer,) = sentinel_commands(sen, "looper", "inject")
    assert "repeated" in steer.payload["task"] and steer.payload["mode"] == "steer"
    cycle(sen, 4)  # another grace: paused (it finishes its model call and waits)
    (pause,) = sentinel_commands(sen, "looper", "pause")
    assert pause.reason.startswith("sentinel (repeat")
    assert sen.one(Agent, Agent.id == "looper").control_state == "paused"
    assert sentinel_commands(sen, "looper", "kill") == []
    cycle(sen, 5)  # still looping a grace later: killed
    (kill,) = sentinel_commands(sen, "looper", "kill")
    assert kill.reason.startswith("sentinel (repeat") and "repeated 15 times" in kill.reason
    assert sen.one(Agent, Agent.id == "looper").control_state == "killing"

    cycle(sen, 5.5)
    cycle(sen, 6)
    assert len(sentinel_commands(sen, "looper", "kill")) == 1  # a second cycle does not kill again
    (entry,) = audit(sen, "sentinel.kill")
    assert entry["details"]["command_id"] == kill.id and entry["details"]["evidence"]["count"] == 15
    steps = [a["step"] for a in findings(sen, agent="looper")[0]["actions"]]
    assert steps == ["alert", "steer", "pause", "kill"]
    issued = sen.repo.audit_entries(actor="sentinel", action="command.kill").to_dict("records")
    assert len(issued) == 1 and issued[0]["outcome"] == "ok"  # through the normal command lifecycle


def test_under_observe_the_finding_is_recorded_and_nothing_is_done(sen):
    report(sen, "thinker", team="research")
    for minute in (2, 3, 4, 5):
        cycle(sen, minute)
    (f,) = findings(sen, agent="thinker")
    assert f["step"] == "observe" and f["policy"] == "observe" and f["evidence"]["count"] == 15
    assert sentinel_commands(sen, "thinker") == []
    assert sen.one(Agent, Agent.id == "thinker").control_state is None
    assert len(audit(sen, "sentinel.finding")) == 1


def test_a_waiting_agent_is_left_alone_until_its_stated_time_has_passed(sen):
    # Waiting for a build for 10 minutes, polling it every 20 s (the same line, again and again).
    hb = {"status": "waiting", "expected_s": 600, "waiting_for": "CI build #4411"}
    report(sen, "patient", heartbeat=hb, lines=40, every_s=20, message="build {i} still running, polling")
    assert sen.one(Agent, Agent.id == "patient").waiting_until == at(sen, 10) + timedelta(seconds=1)
    for minute in (3, 6, 9):
        got = cycle(sen, minute)
        assert "patient" in got.patient
    assert findings(sen, agent="patient") == [] and sentinel_commands(sen, "patient") == []

    cycle(sen, 12)  # the stated wait is over and it still polls: now it is looping
    (f,) = findings(sen, agent="patient")
    assert f["detector"] == "repeat" and f["step"] == "alert"


def test_a_waiting_heartbeat_without_a_duration_is_no_excuse(sen):
    report(sen, "vague", heartbeat={"status": "waiting"})
    cycle(sen, 2)
    assert [f["detector"] for f in findings(sen, agent="vague")] == ["repeat"]


def test_steer_injects_the_corrective_instruction_and_stops_there(sen):
    report(sen, "helper", team="support")
    for minute in (2, 3, 4, 5, 6):
        cycle(sen, minute)
    (steer,) = sentinel_commands(sen, "helper")
    assert steer.kind == "inject" and steer.state == "pending" and steer.issued_by == "sentinel"
    assert steer.payload["task"].startswith('Helicarrier sentinel: you have repeated "retry 14: GET')
    assert "15 times in the last 5 min" in steer.payload["task"]
    # The agent fetches it through its ordinary poll.
    polled = sen.client.get("/api/v1/agents/helper/commands", headers=sen.headers()).get_json()["commands"]
    assert [c["id"] for c in polled] == [steer.id]
    (entry,) = audit(sen, "sentinel.steer")
    assert entry["details"]["evidence"]["count"] == 15 and entry["target_id"] == "helper"


def test_an_exempt_agent_gets_no_action_until_the_exemption_is_lifted(sen):
    headers = sen.headers(sen.control_token)
    report(sen, "special")
    resp = sen.client.put(
        "/api/v1/sentinel/exemptions/special", json={"reason": "chaos test"}, headers=headers
    )
    assert resp.status_code == 201, resp.get_json()
    ExemptionResponse.model_validate(resp.get_json())
    assert resp.get_json()["exemption"]["created_by"] == "token:operator"
    for minute in (2, 3, 4):
        cycle(sen, minute)
    (f,) = findings(sen, agent="special")
    assert f["step"] == "alert" and sentinel_commands(sen, "special") == []  # seen and shown, not acted on

    assert sen.client.delete("/api/v1/sentinel/exemptions/special", headers=headers).status_code == 200
    cycle(sen, 4.5)
    assert [c.kind for c in sentinel_commands(sen, "special")] == ["inject"]
    assert {"sentinel.exempt", "sentinel.unexempt"} <= set(
        sen.repo.audit_entries(actor="token:operator")["action"]
    )


def test_cool_down_keeps_the_sentinel_from_acting_on_the_same_agent_for_the_same_reason(sen):
    report(sen, "again", team="support")  # steer policy
    cycle(sen, 2)
    cycle(sen, 3)
    assert len(sentinel_commands(sen, "again", "inject")) == 1
    cycle(sen, 7)  # the lines are out of the window: the finding resolves
    assert findings(sen, agent="again")[0]["state"] == "resolved"

    report(sen, "again", start=8, team="support")  # at it again, minutes later
    cycle(sen, 10)
    cycle(sen, 11)
    cycle(sen, 12)
    second = findings(sen, agent="again")[0]
    assert second["state"] == "open" and second["step"] == "alert"  # shown, but not steered again
    assert len(sentinel_commands(sen, "again", "inject")) == 1


def test_per_label_thresholds_apply(sen):
    # team=build counts over 10 minutes: 15 lines spread over 7.5 minutes are a loop there, not elsewhere.
    report(sen, "builder", team="build", every_s=30)
    report(sen, "other", every_s=30)
    cycle(sen, 8)
    assert [f["agent_id"] for f in findings(sen, detector="repeat")] == ["builder"]


def test_the_findings_api_filters_and_refuses_bad_parameters(sen):
    report(sen, "looper")
    cycle(sen, 2)
    headers = sen.headers(sen.control_token)
    assert len(findings(sen, state="open")) == 1 and findings(sen, state="resolved") == []
    bad = sen.client.get("/api/v1/sentinel/findings?state=sideways", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "state"
    unknown = sen.client.put("/api/v1/sentinel/exemptions/nobody", json={}, headers=headers)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "unknown_agent"
    not_exempt = sen.client.delete("/api/v1/sentinel/exemptions/looper", headers=headers)
    assert not_exempt.status_code == 404 and not_exempt.get_json()["error"]["code"] == "not_exempt"
    anon = sen.client.get("/api/v1/sentinel/findings")
    assert anon.status_code == 401


def test_a_heartbeat_that_no_longer_says_waiting_ends_the_wait(sen):
    report(sen, "patient", heartbeat={"status": "waiting", "expected_s": 3600}, lines=0)
    assert sen.one(Agent, Agent.id == "patient").waiting_until is not None
    log_only = {"level": "info", "message": "back to work"}
    later = at(sen, 1).isoformat()
    sen.post({"version": "v1", "type": "log", "agent_id": "patient", "ts": later, **log_only})
    assert sen.one(Agent, Agent.id == "patient").waiting_until is not None  # only a heartbeat restates it
    hb = {"version": "v1", "type": "agent.heartbeat", "agent_id": "patient", "ts": later, "status": "running"}
    assert sen.post(hb).status_code == 200
    assert sen.one(Agent, Agent.id == "patient").waiting_until is None


@pytest.mark.parametrize(
    "value",
    [
        '{"team=x": {"policy": "nuke"}}',
        '{"team": {}}',
        '{"team=x": {"repeat_n": 0}}',
        '{"team=x": {"rpt": 3}}',
        "[]",
    ],
)
def test_a_bad_per_label_setting_stops_the_app_at_start(value, monkeypatch):
    monkeypatch.setenv("HELICARRIER_SENTINEL_LABELS", value)
    with pytest.raises(ConfigError, match="HELICARRIER_SENTINEL_LABELS"):
        load_settings()


def test_the_scheduler_runs_the_sentinel_as_a_leader_job(sen):
    (job,) = [j for j in Scheduler(sen.ctx).jobs if j.name == "sentinel"]
    assert job.seconds == sen.ctx.settings.sentinel_s == 30
    report(sen, "looper", start=29)  # its lines in the minute before now
    got = job.run(sen.ctx)  # what the leader runs every HELICARRIER_SENTINEL_S, at the time it runs
    assert len(got.opened) == 1 and findings(sen, agent="looper")[0]["step"] == "alert"
