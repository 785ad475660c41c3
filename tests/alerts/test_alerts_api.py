"""Alert API: every route and every error, on both backends; status and effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from helicarrier.alerts import engine
from helicarrier.data.models import Agent

OFFLINE_RULE = {
    "name": "agent offline",
    "metric": "agents_offline",
    "group_by": "agent",
    "threshold": "0",
    "params": {"offline_after_s": 60},
    "severity": "critical",
}


class Client:
    def __init__(self, app, tokens: dict[str, str]):
        self.client = app.server.test_client()
        self.repo = app.server.config["HELICARRIER"].repo
        self.tokens = tokens

    def call(self, method: str, path: str, body=None, token: str | None = "admin", **kw):
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        if body is not None:
            kw["json"] = body
        return getattr(self.client, method)(f"/api/v1{path}", headers=headers, **kw)


@pytest.fixture
def c(app, make_token) -> Client:
    tokens = {
        "admin": make_token("admin-bot", "admin"),
        "control": make_token("ops-bot", "control,read"),
        "read": make_token("dash-bot", "read"),
        "ingest": make_token("agent-host", "ingest"),
    }
    return Client(app, tokens)


def offline_agents(repo, n: int, age_s: int = 300) -> None:
    seen = datetime.now(UTC) - timedelta(seconds=age_s)
    first = repo.count_agents()
    with repo.engine.begin() as conn:
        conn.execute(
            insert(Agent),
            [
                dict(
                    id=f"a{i}",
                    name=f"a{i}",
                    status="idle",
                    first_seen_at=seen,
                    last_heartbeat_at=seen,
                    updated_at=seen,
                )
                for i in range(first, first + n)
            ],
        )


def firing_alert(c: Client) -> dict:
    offline_agents(c.repo, 1)
    assert c.call("post", "/alert-rules", OFFLINE_RULE).status_code == 201
    engine.run_cycle(c.repo)
    (alert,) = c.call("get", "/alerts?state=firing", token="read").get_json()["alerts"]
    return alert


ROUTES = [
    ("get", "/alert-rules", "admin"),
    ("post", "/alert-rules", "admin"),
    ("get", "/alert-rules/1", "admin"),
    ("patch", "/alert-rules/1", "admin"),
    ("put", "/alert-rules/1", "admin"),
    ("delete", "/alert-rules/1", "admin"),
    ("post", "/alert-rules/preview", "admin"),
    ("get", "/alerts", "read"),
    ("get", "/alerts/1", "read"),
    ("post", "/alerts/1/ack", "control"),
    ("get", "/silences", "read"),
    ("get", "/silences/1", "read"),
    ("post", "/silences", "control"),
    ("patch", "/silences/1", "control"),
    ("delete", "/silences/1", "control"),
    ("get", "/alert-receivers", "admin"),
    ("post", "/alert-receivers", "admin"),
    ("get", "/alert-receivers/1", "admin"),
    ("patch", "/alert-receivers/1", "admin"),
    ("delete", "/alert-receivers/1", "admin"),
    ("post", "/alert-receivers/1/test", "admin"),
    ("get", "/alert-deliveries", "read"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_a_token_with_its_scope(c, method, path, scope):
    assert c.call(method, path, {}, token=None).status_code == 401
    lacking = "ingest" if scope == "read" else "read"
    resp = c.call(method, path, {}, token=lacking)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == {
        "code": "insufficient_scope",
        "message": f"this token lacks the `{scope}` scope",
        "details": {"needed": scope, "granted": resp.get_json()["error"]["details"]["granted"]},
    }


# -- rules ----------------------------------------------------------------------------------------------


def test_rule_crud(c):
    resp = c.call("post", "/alert-rules", OFFLINE_RULE)
    assert resp.status_code == 201
    rule = resp.get_json()["rule"]
    assert (rule["threshold"], rule["group_by"], rule["created_by"]) == ("0", "agent", "token:admin-bot")
    listed = c.call("get", "/alert-rules").get_json()
    assert [r["name"] for r in listed["rules"]] == ["agent offline"]
    assert "agents_offline" in {m["name"] for m in listed["metrics"]}
    assert c.call("get", f"/alert-rules/{rule['id']}").get_json()["rule"]["name"] == "agent offline"
    patched = c.call("patch", f"/alert-rules/{rule['id']}", {"threshold": "2.50", "for_s": 60}).get_json()[
        "rule"
    ]
    assert (patched["threshold"], patched["for_s"], patched["metric"]) == ("2.50", 60, "agents_offline")
    put = c.call(
        "put", f"/alert-rules/{rule['id']}", {"name": "spend", "metric": "spend_usd", "threshold": "9"}
    )
    assert (put.status_code, put.get_json()["rule"]["group_by"], put.get_json()["rule"]["for_s"]) == (
        200,
        "fleet",
        0,
    )
    assert c.call("delete", f"/alert-rules/{rule['id']}").get_json() == {"deleted": rule["id"]}
    assert c.call("get", f"/alert-rules/{rule['id']}").status_code == 404
    actions = list(c.repo.audit_entries(actor="token:admin-bot")["action"])
    assert sorted(set(actions)) == ["alert_rule.create", "alert_rule.delete", "alert_rule.update"]


def test_rule_errors(c):
    assert c.call("post", "/alert-rules", OFFLINE_RULE).status_code == 201
    dup = c.call("post", "/alert-rules", OFFLINE_RULE)
    assert (dup.status_code, dup.get_json()["error"]["code"]) == (409, "duplicate_name")
    bad = c.call("post", "/alert-rules", {**OFFLINE_RULE, "name": "x", "threshold": "lots"})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"] == {"field": "threshold"}
    wrong_group = c.call("post", "/alert-rules", {**OFFLINE_RULE, "name": "y", "group_by": "receiver"})
    assert wrong_group.get_json()["error"]["details"] == {"field": "group_by"}
    malformed = c.client.post(
        "/api/v1/alert-rules",
        data=b"{not json",
        headers={"Authorization": f"Bearer {c.tokens['admin']}", "Content-Type": "application/json"},
    )
    assert (malformed.status_code, malformed.get_json()["error"]["code"]) == (400, "malformed_json")
    text = c.client.post(
        "/api/v1/alert-rules", data="x", headers={"Authorization": f"Bearer {c.tokens['admin']}"}
    )
    assert text.status_code == 415
    assert c.call("post", "/alert-rules", ["a list"]).status_code == 422
    for method in ("patch", "put", "delete", "get"):
        missing = c.call(method, "/alert-rules/999", {"threshold": "1"})
        assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "unknown_rule")
    (rule,) = c.call("get", "/alert-rules").get_json()["rules"]
    assert c.call("patch", f"/alert-rules/{rule['id']}", {"severity": "meh"}).status_code == 422
    assert c.call("patch", f"/alert-rules/{rule['id']}", {"bogus": 1}).status_code == 422


def test_rule_preview_says_how_many_groups_would_fire(c):
    offline_agents(c.repo, 3)
    offline_agents(c.repo, 1, age_s=0)  # one alive (an id of its own below)
    resp = c.call("post", "/alert-rules/preview", {**OFFLINE_RULE, "for_s": 300})
    preview = resp.get_json()["preview"]
    assert (resp.status_code, preview["groups"], preview["firing"], preview["for_s"]) == (200, 4, 3, 300)
    assert {a["labels"]["agent"] for a in preview["alerts"]} == {"a0", "a1", "a2"}
    assert (preview["history"]["days"], preview["history"]["noisy"]) == (7, False)
    assert c.repo.list_alert_rules() == []  # nothing stored


def test_a_rule_evaluated_more_often_than_the_minimum_is_refused(c):
    resp = c.call("post", "/alert-rules", {**OFFLINE_RULE, "interval_s": 4})
    assert (resp.status_code, resp.get_json()["error"]["details"]["field"]) == (422, "interval_s")
    resp = c.call("post", "/alert-rules", {**OFFLINE_RULE, "interval_s": 60})
    assert (resp.status_code, resp.get_json()["rule"]["interval_s"]) == (201, 60)
    assert c.call("post", "/alert-rules/preview", {"metric": "spend_usd"}).status_code == 422


# -- alerts ---------------------------------------------------------------------------------------------


def test_list_get_and_acknowledge_alerts(c):
    alert = firing_alert(c)
    assert (alert["rule_name"], alert["severity"], alert["labels"]) == (
        "agent offline",
        "critical",
        {"agent": "a0"},
    )
    assert alert["silenced_by"] == [] and alert["inhibited_by"] == [] and alert["acked"] is False
    assert [a["id"] for a in c.call("get", "/alerts", token="read").get_json()["alerts"]] == [alert["id"]]
    assert c.call("get", "/alerts?state=pending,resolved", token="read").get_json()["alerts"] == []
    detail = c.call("get", f"/alerts/{alert['id']}", token="read").get_json()
    assert [(h["from_state"], h["to_state"]) for h in detail["history"]] == [("inactive", "firing")]
    resp = c.call("post", f"/alerts/{alert['id']}/ack", {"note": "rebooting a0"}, token="control")
    acked = resp.get_json()["alert"]
    assert (resp.status_code, acked["state"], acked["acked_by"], acked["ack_note"]) == (
        200,
        "firing",
        "token:ops-bot",
        "rebooting a0",
    )
    assert c.call("get", "/alerts?state=firing", token="read").get_json()["alerts"][0]["acked"] is True
    history = c.call("get", f"/alerts/{alert['id']}", token="read").get_json()["history"]
    assert history[0]["event"] == "ack" and history[0]["details"] == {"note": "rebooting a0"}


def test_alert_errors(c):
    assert c.call("get", "/alerts?state=burning", token="read").status_code == 422
    assert c.call("get", "/alerts/12345", token="read").status_code == 404
    assert c.call("post", "/alerts/12345/ack", {"note": "x"}, token="control").status_code == 404
    offline_agents(c.repo, 1)
    c.call("post", "/alert-rules", {**OFFLINE_RULE, "for_s": 600})
    engine.run_cycle(c.repo)
    (pending,) = c.call("get", "/alerts?state=pending", token="read").get_json()["alerts"]
    refused = c.call("post", f"/alerts/{pending['id']}/ack", {"note": "x"}, token="control")
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "not_firing")
    no_note = c.call("post", f"/alerts/{pending['id']}/ack", {}, token="control")
    assert (no_note.status_code, no_note.get_json()["error"]["details"]) == (422, {"field": "note"})


# -- silences -------------------------------------------------------------------------------------------


def test_silence_lifecycle(c):
    alert = firing_alert(c)
    resp = c.call(
        "post",
        "/silences",
        {
            "matchers": ['agent="a0"', 'alertname="agent offline"'],
            "duration_s": 3600,
            "comment": "maintenance",
        },
        token="control",
    )
    assert resp.status_code == 201
    silence = resp.get_json()["silence"]
    assert (silence["status"], silence["created_by"], len(silence["matchers"])) == (
        "active",
        "token:ops-bot",
        2,
    )
    assert c.call("get", "/alerts", token="read").get_json()["alerts"][0]["silenced_by"] == [silence["id"]]
    assert [
        s["id"] for s in c.call("get", "/silences?state=active", token="read").get_json()["silences"]
    ] == [silence["id"]]
    assert c.call("get", "/silences?state=expired", token="read").get_json()["silences"] == []
    assert (
        c.call("get", f"/silences/{silence['id']}", token="read").get_json()["silence"]["comment"]
        == "maintenance"
    )
    patched = c.call(
        "patch", f"/silences/{silence['id']}", {"comment": "longer maintenance"}, token="control"
    )
    assert patched.get_json()["silence"]["comment"] == "longer maintenance"
    expired = c.call("delete", f"/silences/{silence['id']}", token="control").get_json()["silence"]
    assert expired["status"] == "expired"
    assert c.call("get", f"/alerts/{alert['id']}", token="read").get_json()["alert"]["silenced_by"] == []
    late = c.call("patch", f"/silences/{silence['id']}", {"comment": "too late"}, token="control")
    assert (late.status_code, late.get_json()["error"]["code"]) == (409, "silence_expired")
    actions = set(c.repo.audit_entries(actor="token:ops-bot")["action"])
    assert {"silence.create", "silence.update", "silence.expire"} <= actions


def test_silence_errors(c):
    bad = c.call(
        "post", "/silences", {"matchers": ['agent=~".*"'], "duration_s": 60, "comment": "x"}, token="control"
    )
    assert (bad.status_code, bad.get_json()["error"]["details"]) == (422, {"field": "matchers"})
    no_comment = c.call("post", "/silences", {"matchers": ['agent="a"'], "duration_s": 60}, token="control")
    assert no_comment.get_json()["error"]["details"] == {"field": "comment"}
    assert c.call("get", "/silences?state=someday", token="read").status_code == 422
    assert c.call("get", "/silences/77", token="read").status_code == 404
    assert c.call("patch", "/silences/77", {"comment": "x"}, token="control").status_code == 404
    assert c.call("delete", "/silences/77", token="control").status_code == 404


# -- receivers and deliveries ---------------------------------------------------------------------------


def test_receiver_crud_and_deliveries(c):
    resp = c.call(
        "post", "/alert-receivers", {"name": "ops", "url": "http://127.0.0.1:9/hook", "group_wait_s": 0}
    )
    assert resp.status_code == 201
    rcv = resp.get_json()["receiver"]
    assert (rcv["group_interval_s"], rcv["repeat_interval_s"], rcv["enabled"]) == (300, 14400, True)
    assert [r["name"] for r in c.call("get", "/alert-receivers").get_json()["receivers"]] == ["ops"]
    assert (
        c.call("get", f"/alert-receivers/{rcv['id']}").get_json()["receiver"]["url"]
        == "http://127.0.0.1:9/hook"
    )
    patched = c.call("patch", f"/alert-receivers/{rcv['id']}", {"repeat_interval_s": 3600}).get_json()[
        "receiver"
    ]
    assert patched["repeat_interval_s"] == 3600
    firing_alert(c)
    engine.dispatch(c.repo, allow_local=True)  # nothing listens on port 9: a failed attempt
    (d,) = c.call("get", "/alert-deliveries", token="read").get_json()["deliveries"]
    assert (d["receiver"], d["status"], d["attempts"]) == ("ops", "retrying", 1)
    assert (
        c.call("get", f"/alert-deliveries?receiver_id={rcv['id']}&limit=1", token="read").status_code == 200
    )
    assert c.call("get", "/alert-deliveries?limit=many", token="read").status_code == 422
    assert c.call("delete", f"/alert-receivers/{rcv['id']}").get_json() == {"deleted": rcv["id"]}
    assert c.call("get", "/alert-deliveries", token="read").get_json()["deliveries"] == []


def test_receiver_errors(c):
    assert c.call("post", "/alert-receivers", {"name": "ops", "url": "http://x/h"}).status_code == 201
    dup = c.call("post", "/alert-receivers", {"name": "ops", "url": "http://x/h"})
    assert (dup.status_code, dup.get_json()["error"]["code"]) == (409, "duplicate_name")
    bad = c.call("post", "/alert-receivers", {"name": "ops2", "url": "file:///etc/passwd"})
    assert (bad.status_code, bad.get_json()["error"]["details"]) == (422, {"field": "url"})
    for method in ("get", "patch", "delete"):
        assert c.call(method, "/alert-receivers/99", {"name": "z"}).status_code == 404
