"""Alerts page without a browser: the builders as component trees, and the server refusing acknowledgements,
silences and rule edits to roles below operator/admin."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from helicarrier.actors import Actor
from helicarrier.alerts import engine
from helicarrier.alerts.rules import RuleError, validate_rule
from helicarrier.alerts.validation import validate_receiver
from helicarrier.data.models import Agent
from helicarrier.layouts import alerts as page
from helicarrier.layouts.alerts import ID
from helicarrier.layouts.alerts_forms import (
    RECEIVER_FIELDS,
    RULE_FIELDS,
    receiver_body,
    rule_body,
    rule_editor,
    rule_form_values,
)
from helicarrier.layouts.alerts_ids import TICKS
from helicarrier.operations.maintenance import switch
from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def ids(component) -> set[str]:
    return {c.id for c in walk(component) if isinstance(getattr(c, "id", None), str)}


def text(component) -> str:
    if isinstance(component, str | int | float):
        return str(component)
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if isinstance(children, list | tuple):
        return " ".join(text(c) for c in children)
    return text(children)


ALERT = {
    "id": 5,
    "rule_id": 1,
    "rule_name": "agent offline",
    "severity": "critical",
    "metric": "agents_offline",
    "state": "firing",
    "labels": {"agent": "atlas-01"},
    "value": "1",
    "peak": "1",
    "fired_at": T0,
    "active_since": T0,
    "resolved_at": None,
    "silenced_by": [],
    "inhibited_by": [],
    "acked": False,
}


def test_layout_holds_every_component_for_every_role():
    layout = page.layout()
    assert {ID.FEED, ID.ACK_MODAL, ID.SILENCE_MODAL, ID.RULE_EDITOR, ID.EVAL} <= ids(layout)


def test_feed_row_shows_state_value_and_what_mutes_it():
    row = page.feed_row(ALERT, can_act=True)
    assert row.className == "alerts-row alerts-state-firing"
    assert "agent=atlas-01" in text(row) and "Ack" in text(row) and "Silence" in text(row)
    muted = page.feed_row(
        {
            **ALERT,
            "silenced_by": [3],
            "inhibited_by": ["provider outage"],
            "acked": True,
            "acked_by": "omar",
            "ack_note": "on it",
            "acked_at": T0,
        },
        can_act=True,
    )
    assert "silenced #3" in text(muted) and "inhibited by provider outage" in text(muted)
    assert "acknowledged by omar: on it" in text(muted)
    assert "Ack" not in text(muted).split() and "Silence" not in text(muted).split()
    assert "Ack" not in text(page.feed_row(ALERT, can_act=False))  # viewers get no buttons


def test_summary_and_preview_text():
    assert page.summary_text([]) == "All clear."
    assert (
        page.summary_text([ALERT, {**ALERT, "state": "pending", "silenced_by": [1]}])
        == "1 firing · 1 pending · 1 muted"
    )
    preview = {"firing": 2, "groups": 5, "for_s": 300, "unit": "count", "alerts": [], "error": None}
    assert text(page.preview_text(preview)).startswith("This rule would now fire for 2 groups (of 5).")


RULE = {
    "name": "team spend",
    "metric": "spend_usd",
    "group_by": "label:team",
    "severity": "critical",
    "comparator": ">=",
    "threshold": "25.00",
    "window_s": 7200,
    "for_s": 60,
    "nodata_state": "ok",
    "error_state": "alert",
    "reopen_s": 120,
    "interval_s": 60,
    "enabled": False,
    "params": {"model": "gpt-4.1"},
    "labels": {"team": "core", "tier": "1"},
    "inhibits": {"matchers": ['alertname="x"'], "equal": ["team"]},
    "description": "Spend per team",
}


def test_the_rule_form_shows_a_rule_and_reads_the_same_rule_back():
    values = rule_form_values({"id": 7, **RULE})
    shown = {f.key: v for f, v in zip(RULE_FIELDS, values, strict=True)}
    assert (shown["group_by"], shown["label_key"]) == ("label", "team")
    assert shown["enabled"] == [] and shown["labels"] == "team=core, tier=1"
    assert shown["params"] == '{"model": "gpt-4.1"}'
    assert rule_body(values) == RULE


def test_inhibition_has_a_form_one_matcher_per_line():
    matcher = {"name": "team", "op": "=~", "value": 'core|"ops"'}
    rule = {**RULE, "params": None, "inhibits": {"matchers": [matcher], "equal": ["agent", "team"]}}
    values = rule_form_values(rule)
    shown = {f.key: v for f, v in zip(RULE_FIELDS, values, strict=True)}
    assert shown["inhibit_matchers"] == 'team=~"core|\\"ops\\""' and shown["inhibit_equal"] == "agent, team"
    assert validate_rule(rule_body(values))["inhibits"] == rule["inhibits"]
    at = [f.key for f in RULE_FIELDS].index("inhibit_matchers")
    with pytest.raises(RuleError, match="inhibit_matchers") as bad:
        rule_body([*values[:at], 'severity="warning"\nteam', *values[at + 1 :]])
    assert "'team'" in str(bad.value)
    # Nothing written in either field: the rule inhibits nothing.
    assert rule_body([*values[:at], "", "", *values[at + 2 :]])["inhibits"] is None


def test_a_new_rule_starts_from_the_specs_defaults_in_the_layout_too():
    values = rule_form_values(None)
    shown = {f.key: v for f, v in zip(RULE_FIELDS, values, strict=True)}
    assert shown["metric"] == "spend_usd" and shown["group_by"] == "fleet" and shown["enabled"] == ["on"]
    assert (shown["window_s"], shown["reopen_s"], shown["name"], shown["params"]) == (3600, 300, "", "")
    editor = rule_editor()
    controls = {c.id: c for c in walk(editor) if getattr(c, "id", None) in {f.id for f in RULE_FIELDS}}
    assert [controls[f.id].value for f in RULE_FIELDS] == values
    body = rule_body([*values[:6], "10", *values[7:]])  # a threshold is all a new rule needs
    assert body["group_by"] == "fleet" and body["description"] is None and body["labels"] == {}
    assert validate_rule({**body, "name": "spend"})["threshold"] == "10"


def test_the_forms_refuse_text_that_does_not_parse():
    values = rule_form_values(RULE)
    labels = [f.key for f in RULE_FIELDS].index("labels")
    with pytest.raises(RuleError, match="labels"):
        rule_body([*values[:labels], "team", *values[labels + 1 :]])
    assert receiver_body(
        [
            "ops",
            "slack",
            " https://hooks.example/x ",
            "alertname, team",
            "30/300/14400",
            5,
            '[{"days": ["sun"], "start": "00:00", "end": "24:00", "tz": "UTC"}]',
        ]
    ) == {
        "name": "ops",
        "kind": "slack",
        "url": "https://hooks.example/x",
        "group_by": ["alertname", "team"],
        "group_wait_s": "30",
        "group_interval_s": "300",
        "repeat_interval_s": "14400",
        "max_per_hour": 5,
        "mute_windows": [{"days": ["sun"], "start": "00:00", "end": "24:00", "tz": "UTC"}],
    }
    assert len(RECEIVER_FIELDS) == 7
    with pytest.raises(RuleError, match="timing"):
        receiver_body(["ops", "webhook", "https://hooks.example/x", "", "30/300", 60, ""])


@pytest.fixture
def app(settings):
    app = create_app(settings)
    repo = app.server.config["HELICARRIER"].repo
    for name, role in (("vera", "viewer"), ("omar", "operator"), ("ada", "admin")):
        repo.create_user(name, PASSWORD, role)
    return app


def signed_in(app, username):
    client = app.server.test_client()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    return client


def ack_request(alert_id: int, note: str) -> dict:
    return {
        "output": f"..{ID.ACK_RESULT}.children...{ID.TICK['ack']}.data..",
        "outputs": [
            {"id": ID.ACK_RESULT, "property": "children"},
            {"id": ID.TICK["ack"], "property": "data"},
        ],
        "inputs": [{"id": ID.ACK_SUBMIT, "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ID.ACK_TARGET, "property": "data", "value": alert_id},
            {"id": ID.ACK_NOTE, "property": "value", "value": note},
            {"id": ID.TICK["ack"], "property": "data", "value": 0},
        ],
        "changedPropIds": [f"{ID.ACK_SUBMIT}.n_clicks"],
    }


def test_only_operators_acknowledge_and_the_server_enforces_it(app):
    repo = app.server.config["HELICARRIER"].repo
    seen = datetime.now(UTC) - timedelta(minutes=10)
    with repo.engine.begin() as conn:
        conn.execute(
            insert(Agent).values(
                id="a1", name="a1", status="idle", first_seen_at=seen, last_heartbeat_at=seen, updated_at=seen
            )
        )
    repo.create_alert_rule(
        validate_rule({"name": "offline", "metric": "agents_offline", "group_by": "agent", "threshold": "0"}),
        Actor("ada", "user", "admin"),
    )
    engine.run_cycle(repo)
    (alert,) = repo.list_alerts(states=["firing"])
    refused = signed_in(app, "vera").post("/_dash-update-component", json=ack_request(alert["id"], "mine"))
    assert refused.status_code == 403
    assert repo.get_alert(alert["id"])["acked_by"] is None
    assert list(repo.audit_entries(actor="vera", outcome="refused")["action"]) == ["callback"]
    ok = signed_in(app, "omar").post(
        "/_dash-update-component", json=ack_request(alert["id"], "restarting a1")
    )
    assert ok.status_code == 200 and "Acknowledged." in ok.get_data(as_text=True)
    assert (repo.get_alert(alert["id"])["acked_by"], repo.get_alert(alert["id"])["ack_note"]) == (
        "omar",
        "restarting a1",
    )


def test_rule_save_is_for_admins(app):
    operator = signed_in(app, "omar")
    roles = app.server.config["HELICARRIER_CALLBACK_ROLES"]
    save = next(k for k in roles if f"{ID.RULE_RESULT}.children" in k)
    assert roles[save] == "admin"
    body = {"output": save, "outputs": [], "inputs": [], "state": [], "changedPropIds": []}
    assert operator.post("/_dash-update-component", json=body).status_code == 403
    operator_outputs = (ID.SILENCE_RESULT, ID.SILENCE_EXPIRE_RESULT, ID.ACK_RESULT)
    assert {roles[k] for k in roles if any(o in k for o in operator_outputs)} == {"operator"}


def test_in_maintenance_an_acknowledgement_from_the_hud_is_refused_and_nothing_is_written(app):
    """A cutover copies the database: an operator's action from the HUD must wait, as the API's do."""
    ctx = app.server.config["HELICARRIER"]
    repo = ctx.repo
    repo.create_alert_rule(
        validate_rule({"name": "offline", "metric": "agents_offline", "group_by": "agent", "threshold": "0"}),
        Actor("ada", "user", "admin"),
    )
    seen = datetime.now(UTC) - timedelta(minutes=10)
    with repo.engine.begin() as conn:
        conn.execute(
            insert(Agent).values(
                id="a1", name="a1", status="idle", first_seen_at=seen, last_heartbeat_at=seen, updated_at=seen
            )
        )
    engine.run_cycle(repo)
    (alert,) = repo.list_alerts(states=["firing"])
    omar = signed_in(app, "omar")
    switch(repo, True, "moving to PostgreSQL", "test")
    ctx.maintenance.cache_s = 0
    audit_before = len(repo.audit_entries())

    answer = omar.post("/_dash-update-component", json=ack_request(alert["id"], "restarting a1"))

    assert answer.status_code == 200
    assert "maintenance (moving to PostgreSQL); nothing was stored" in answer.get_data(as_text=True)
    assert repo.get_alert(alert["id"])["acked_by"] is None
    assert len(repo.audit_entries()) == audit_before
    switch(repo, False, None, "test")
    ok = omar.post("/_dash-update-component", json=ack_request(alert["id"], "restarting a1"))
    assert "Acknowledged." in ok.get_data(as_text=True)


def receiver_test_request(receiver_id: int) -> dict:
    button = {"type": ID.RECEIVER_TEST, "receiver": receiver_id}
    return {
        "output": f"{ID.RECEIVER_TEST_RESULT}.children",
        "outputs": {"id": ID.RECEIVER_TEST_RESULT, "property": "children"},
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "state": [],
        "changedPropIds": [json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"],
    }


def test_send_test_message_is_for_admins_and_shows_the_error(app):
    repo = app.server.config["HELICARRIER"].repo
    rcv = repo.create_receiver(
        validate_receiver({"name": "dead", "url": "http://127.0.0.1:9/hook"}, allow_local=True),
        Actor("ada", "user", "admin"),
    )
    refused = signed_in(app, "omar").post("/_dash-update-component", json=receiver_test_request(rcv["id"]))
    assert refused.status_code == 403
    answer = signed_in(app, "ada").post("/_dash-update-component", json=receiver_test_request(rcv["id"]))
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Test message to dead failed: " in text and "Connection" in text
    (entry,) = repo.audit_entries(action="alert_receiver.test").to_dict("records")
    assert (entry["actor"], entry["outcome"]) == ("ada", "error")


def preview_request(rule: dict) -> dict:
    values = rule_form_values(rule)
    return {
        "output": f"{ID.RULE_PREVIEW_RESULT}.children",
        "outputs": {"id": ID.RULE_PREVIEW_RESULT, "property": "children"},
        "inputs": [{"id": ID.RULE_PREVIEW, "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ID.RULE_ID, "property": "data", "value": None},
            *(
                {"id": f.id, "property": "value", "value": v}
                for f, v in zip(RULE_FIELDS, values, strict=True)
            ),
        ],
        "changedPropIds": [f"{ID.RULE_PREVIEW}.n_clicks"],
    }


def add_offline_agents(repo, n: int) -> None:
    seen = datetime.now(UTC) - timedelta(days=30)
    with repo.engine.begin() as conn:
        conn.execute(
            insert(Agent),
            [
                {"id": f"a{i}", "name": f"a{i}", "status": "idle", "first_seen_at": seen}
                | {"last_heartbeat_at": seen, "updated_at": seen}
                for i in range(n)
            ],
        )


def previewed(app, n_agents: int) -> str:
    add_offline_agents(app.server.config["HELICARRIER"].repo, n_agents)
    rule = {f.key: f.default for f in RULE_FIELDS} | {
        "name": "offline",
        "metric": "agents_offline",
        "group_by": "agent",
        "threshold": "0",
        "params": {"offline_after_s": 60},
    }
    answer = signed_in(app, "ada").post("/_dash-update-component", json=preview_request(rule))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_the_editor_preview_shows_the_last_7_days_firings(app):
    shown = previewed(app, 3)
    assert "Over the last 7 days it would have fired 3 times (checked every 1h)." in shown
    assert "more than 24 a day" not in shown


def test_the_editor_preview_warns_when_a_rule_would_fire_more_than_24_times_a_day(app):
    shown = previewed(app, 200)  # 200 agents each going offline: 200 firings in 7 days, 28.6 a day
    assert "it would have fired 200 times" in shown and "more than 24 a day" in shown


def test_the_rules_table_shows_each_rules_interval_and_why_it_fails():
    base = {"metric": "agents_offline", "group_by": "agent", "comparator": ">", "threshold": "0"}
    base |= {"severity": "warning", "enabled": True, "window_s": 3600, "for_s": 0, "params": {}}
    rules = [
        {**base, "id": 1, "name": "broken", "interval_s": 60, "health": "error", "error_streak": 3}
        | {"last_error": "OperationalError: no such table"},
        {**base, "id": 2, "name": "blip", "interval_s": 5, "health": "ok", "error_streak": 1}
        | {"last_error": "OperationalError: locked"},
        {
            **base,
            "id": 3,
            "name": "fine",
            "interval_s": 15,
            "health": "ok",
            "error_streak": 0,
            "last_error": None,
        },
    ]
    trs = [c for c in walk(page.rules_table(rules, False)) if c.to_plotly_json()["type"] == "Tr"]
    rows = {tr.to_plotly_json()["props"].get("data-rule"): text(tr) for tr in trs}
    assert "1m" in rows["1"] and "error OperationalError: no such table" in rows["1"]
    assert "5s" in rows["2"] and "failed 1x in a row: OperationalError: locked" in rows["2"]
    assert "15s" in rows["3"] and "failed" not in rows["3"] and "Operational" not in rows["3"]


def config_request() -> dict:
    outputs = [(ID.RULES, "children"), (ID.RECEIVERS, "children"), (ID.DELIVERIES, "children")]
    outputs.append((ID.CONFIG_SHOWN, "data"))
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [
            {"id": ID.SLOW_INTERVAL, "property": "n_intervals", "value": 1},
            *({"id": ID.TICK[name], "property": "data", "value": 0} for name in TICKS),
        ],
        "state": [{"id": ID.CONFIG_SHOWN, "property": "data", "value": None}],
        "changedPropIds": [f"{ID.SLOW_INTERVAL}.n_intervals"],
    }


def test_the_receivers_table_shows_where_a_receiver_goes_not_its_secret(app):
    """A Slack webhook's path and a webhook's token are credentials: whoever reads them can post to the
    channel. The table, on every role's screen, shows the host; the address of a mail receiver as it is."""
    repo = app.server.config["HELICARRIER"].repo
    ada = Actor("ada", "user", "admin")
    for body in (
        {"name": "slack", "kind": "slack", "url": "https://hooks.slack.com/services/T01/B02/SeCrEtPaTh"},
        {"name": "hook", "url": "https://bob:hunter2@alerts.example.org:8443/in?token=SeCrEtToKeN"},
        {"name": "mail", "kind": "email", "url": "mailto:oncall@example.org"},
    ):
        repo.create_receiver(validate_receiver(body, allow_local=False), ada)
    for user in ("vera", "ada"):
        answer = signed_in(app, user).post("/_dash-update-component", json=config_request())
        assert answer.status_code == 200, answer.get_data(as_text=True)
        shown = json.dumps(answer.get_json(), ensure_ascii=False)
        assert "https://hooks.slack.com/…" in shown and "https://alerts.example.org:8443/…" in shown
        assert "mailto:oncall@example.org" in shown
        for secret in ("SeCrEtPaTh", "T01/B02", "SeCrEtToKeN", "hunter2", "bob"):
            assert secret not in shown, (user, secret)
    # The admin API still gives the whole URL (editing a receiver needs it).
    assert {r["url"] for r in repo.list_receivers()} >= {
        "https://hooks.slack.com/services/T01/B02/SeCrEtPaTh"
    }
