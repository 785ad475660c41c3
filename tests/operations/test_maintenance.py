"""Maintenance mode: ingest, OTLP, command polls and acks answer 503 `maintenance` on every instance while it
is on; reads and pages keep working. (The agent client through it: tests/client/.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helicarrier.actors import Actor
from helicarrier.callbacks.shell import maintenance_banner
from helicarrier.errors import Refused
from helicarrier.operations.maintenance import RETRY_AFTER_S, switch
from tests.test_cli import run_cli
from tests.waiting import wait_for

NOW = datetime.now(UTC).isoformat()


def _heartbeat(agent: str = "atlas-01") -> dict:
    return {
        "version": "v2",
        "source": {"name": "t"},
        "events": [
            {"id": f"hb-{agent}", "type": "agent.heartbeat", "ts": NOW, "agent_id": agent, "data": {}}
        ],
    }


def _assert_maintenance(resp) -> None:
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == str(RETRY_AFTER_S)


def test_writes_of_agents_are_paused_and_reads_work(ctl):
    kill = ctl.post({"reason": "runaway"}, path="/api/v1/agents/atlas-01/kill", token=ctl.control_token)
    command_id = kill.get_json()["command"]["id"]
    switch(ctl.repo, True, "moving to PostgreSQL", "test")
    ctl.ctx.maintenance.cache_s = 0  # this test is about the refusals; the cache has its own test
    before = ctl.snapshot()

    resp = ctl.post(_heartbeat("new-agent"))
    _assert_maintenance(resp)
    error = resp.get_json()["error"]
    assert error["code"] == "maintenance" and "moving to PostgreSQL" in error["message"]
    assert error["details"]["reason"] == "moving to PostgreSQL"
    _assert_maintenance(
        ctl.post({"resourceSpans": []}, path="/api/v1/otlp/v1/traces", content_type="application/json")
    )
    _assert_maintenance(ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers()))
    ack = {"agent_id": "atlas-01", "state": "accepted", "session_id": "s1"}
    _assert_maintenance(ctl.post(ack, path=f"/api/v1/commands/{command_id}/ack"))
    assert ctl.snapshot() == before  # nothing stored, not even a token's last use

    reads = ctl.client.get("/api/v1/agents", headers=ctl.headers(ctl.control_token))
    assert reads.status_code == 200 and [a["id"] for a in reads.get_json()["agents"]] == ["atlas-01"]
    assert ctl.client.get("/healthz").status_code == 200

    switch(ctl.repo, False, None, "test")
    assert ctl.post(_heartbeat("new-agent")).status_code == 200
    assert ctl.client.get("/api/v1/agents/atlas-01/commands", headers=ctl.headers()).status_code == 200
    assert ctl.post(ack, path=f"/api/v1/commands/{command_id}/ack").status_code == 200


def test_the_cli_switch_reaches_a_running_instance_within_the_cache(api, db_url, tmp_path):
    assert api.post(_heartbeat()).status_code == 200  # the instance has read the switch: off, cached
    on = run_cli(["maintenance", "on", "--reason", "cutover"], db_url, tmp_path)
    assert on.returncode == 0, on.stderr
    assert "maintenance on since" in on.stdout and "cutover" in on.stdout
    wait_for(lambda: api.post(_heartbeat()).status_code == 503, timeout=10, what="the 503 on this instance")
    status = run_cli(["maintenance", "status"], db_url, tmp_path)
    assert "maintenance on" in status.stdout and "cutover" in status.stdout
    actions = list(api.repo.audit_entries(action="maintenance.on")["action"])
    assert actions == ["maintenance.on"]

    off = run_cli(["maintenance", "off"], db_url, tmp_path)
    assert off.returncode == 0 and "maintenance off" in off.stdout
    wait_for(lambda: api.post(_heartbeat()).status_code == 200, timeout=10, what="ingest accepted again")


def test_pages_show_a_banner_while_on(api):
    assert maintenance_banner(api.ctx, 0) == ("", True)
    switch(api.repo, True, "moving to PostgreSQL", "test")
    api.ctx.maintenance.cache_s = 0
    text, hidden = maintenance_banner(api.ctx, 1)
    assert not hidden and "Maintenance: moving to PostgreSQL" in text
    page = api.client.get("/")  # pages are served (the sign-in gate answers, not a 503)
    assert page.status_code in (200, 302)


def test_in_maintenance_the_scheduler_only_beats_and_a_copy_then_is_at_parity(ctx):
    from helicarrier.data.parity import fingerprint
    from helicarrier.health import HEARTBEAT_FLAG
    from helicarrier.scheduler.runner import Job, Scheduler

    ran: list[str] = []
    jobs = [Job(name, 5, lambda _ctx, n=name: ran.append(n)) for name in ("heartbeat", "evaluate-alerts")]
    scheduler = Scheduler(ctx, jobs)
    assert scheduler.leadership.try_acquire()
    try:
        switch(ctx.repo, True, "copying", "test")
        ctx.maintenance.cache_s = 0
        for job in jobs:
            scheduler._gated(job)()
        assert ran == ["heartbeat"]  # alerts, expiries, reports, pruning: none writes during a copy

        with ctx.repo.engine.connect() as conn:
            before = fingerprint(conn)
        ctx.repo.set_flag(HEARTBEAT_FLAG, datetime.now(UTC).isoformat(), "scheduler")
        with ctx.repo.engine.connect() as conn:
            assert fingerprint(conn).tables == before.tables  # the heartbeat is no data

        switch(ctx.repo, False, None, "test")
        for job in jobs:
            scheduler._gated(job)()
        assert ran == ["heartbeat", "heartbeat", "evaluate-alerts"]
    finally:
        scheduler.leadership.release()


def test_writes_of_operators_are_paused_too_and_nothing_is_written(ctl, make_token):
    """A cutover copies table after table: an operator's kill, silence or rule written after its table was
    copied would be lost, so the API refuses them (before even a token's last use is written) and so do
    the services the HUD calls."""
    admin = make_token("admin-bot", "admin,control,read")
    switch(ctl.repo, True, "moving to PostgreSQL", "test")
    ctl.ctx.maintenance.cache_s = 0
    before = ctl.snapshot()
    silence = {"matchers": [{"name": "agent", "value": "atlas-01"}], "duration_s": 600, "comment": "x"}
    for path, body, token in (
        ("/api/v1/agents/atlas-01/kill", {"reason": "runaway"}, ctl.control_token),
        ("/api/v1/agents/atlas-01/tasks", {"task": "stop"}, ctl.control_token),
        ("/api/v1/silences", silence, admin),
        ("/api/v1/alert-rules", {"name": "r", "metric": "agents_offline", "threshold": "0"}, admin),
    ):
        resp = ctl.post(body, path=path, token=token)
        _assert_maintenance(resp)
        assert resp.get_json()["error"]["code"] == "maintenance"
    with pytest.raises(Refused) as refused:
        ctl.ctx.control.issue(
            Actor("omar", "user", "operator"), "atlas-01", {"kind": "kill", "reason": "x"}, None
        )
    assert (refused.value.status, refused.value.code) == (503, "maintenance")
    assert ctl.snapshot() == before
    assert {t.name: t.last_used_at for t in ctl.repo.list_tokens()}["admin-bot"] is None  # not even that
    # A preview stores nothing: it still answers.
    preview = ctl.post(
        {"name": "r", "metric": "agents_offline", "threshold": "0"},
        path="/api/v1/alert-rules/preview",
        token=admin,
    )
    assert preview.status_code == 200, preview.get_data(as_text=True)

    switch(ctl.repo, False, None, "test")
    resp = ctl.post({"reason": "runaway"}, path="/api/v1/agents/atlas-01/kill", token=ctl.control_token)
    assert resp.status_code == 201, resp.get_data(as_text=True)
