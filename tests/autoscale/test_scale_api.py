"""Auto-scaling through the real API: open injected tasks raise the desired count, the leader's evaluation
keeps and audits it, GET /api/v1/fleet/scale and /metrics show it, and the command hook runs with it."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from helicarrier.actors import Actor
from helicarrier.data.types import utcnow

RECORDER = """
import json, sys
with open(sys.argv[1], "a") as fh:
    fh.write(json.dumps(sys.argv[2:]) + "\\n")
"""


def queue_tasks(api, n: int, agent: str = "atlas-01") -> list[str]:
    ids = []
    for i in range(n):
        resp = api.post(
            {"task": f"backlog item {i}", "mode": "queue"},
            path=f"/api/v1/agents/{agent}/tasks",
            token=api.control_token,
        )
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["command"]["id"])
    return ids


def scale(api, token) -> dict:
    resp = api.client.get("/api/v1/fleet/scale", headers=api.headers(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_open_tasks_scale_the_fleet_up_and_their_end_scales_it_down(ctl, make_token, make_api, tmp_path):
    reader = make_token("dashboards", "read")
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    api = make_api(
        autoscale_min=1,
        autoscale_max=5,
        autoscale_tasks_per_worker=2,
        autoscale_cooldown_s=60,
        autoscale_command=f"{sys.executable} {script} {calls} --replicas={{count}}",
    )
    api.control_token = ctl.control_token
    service = api.ctx.autoscale
    now = utcnow()

    first = service.evaluate(now)
    assert first.desired == 1  # the fixture's one running agent
    ids = queue_tasks(api, 50)
    assert scale(api, reader)["desired"] == 1  # the leader has not looked again yet
    up = service.evaluate(now + timedelta(seconds=61))
    shown = scale(api, reader)
    assert up.desired == shown["desired"] == 5 and shown["signals"]["open_tasks"] == 50
    assert shown["bounds"]["max_workers"] == 5 and "capped at the maximum 5" in shown["reason"]
    metrics = api.client.get("/metrics", headers=api.headers(reader)).get_data(as_text=True)
    assert "helicarrier_fleet_desired_workers 5.0" in metrics

    # The tasks end (cancelled before their agent fetched them): the fleet shrinks after the cool-down.
    for cid in ids:
        api.ctx.control.cancel(Actor("omar", "user", "operator"), cid)
    held = service.evaluate(now + timedelta(seconds=90))
    assert held.desired == 5 and "cooling down" in held.reason
    down = service.evaluate(now + timedelta(seconds=122))
    assert down.desired == 1

    # Each change was handed to the command hook and audited with its reason; no change, no call.
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        ["--replicas=1"],
        ["--replicas=5"],
        ["--replicas=1"],
    ]
    audit = api.repo.audit_entries(action="fleet.scale").sort_values("id")
    assert list(audit["outcome"]) == ["ok", "ok", "ok"]
    assert [d["to"] for d in audit["details"]] == [1, 5, 1]
    assert "50 open tasks" in audit["reason"].iloc[1]


def test_a_failing_hook_is_audited_and_the_count_stands(ctl, make_api):
    api = make_api(autoscale_command=f"{sys.executable} -c 'import sys; sys.exit(3)'")
    decision = api.ctx.autoscale.evaluate()
    assert decision.desired == 1
    (entry,) = api.repo.audit_entries(action="fleet.scale").to_dict("records")
    assert entry["outcome"] == "error" and "exited with 3" in entry["details"]["actuator"]


def test_the_scale_needs_a_read_token(api):
    assert api.client.get("/api/v1/fleet/scale", headers=api.headers(None)).status_code == 401
    resp = api.client.get("/api/v1/fleet/scale", headers=api.headers())  # an ingest token
    assert resp.status_code == 403 and resp.get_json()["error"]["code"]
