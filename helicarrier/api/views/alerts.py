"""Alerts over HTTP: rules and receivers (``admin``), the feed, silences and deliveries (``read``),
acknowledging and silencing (``control``). One small view per action; ``AlertService`` validates, decides,
stores and audits, exactly as for the Alerts page."""

from __future__ import annotations

from flask import request

from helicarrier.alerts.lifecycle import STATES
from helicarrier.api import params
from helicarrier.api.http import app_context, json_response, read_json_object, token_actor


def _alerts():
    return app_context().alerts


# -- rules -----------------------------------------------------------------------------------------


def list_rules():
    service = _alerts()
    return json_response({"rules": service.list_rules(), "metrics": service.metric_catalogue()})


def create_rule():
    """curl -X POST $URL/api/v1/alert-rules -H "Authorization: Bearer $T" \\
         -H "Content-Type: application/json" \\
         -d '{"name": "agent offline", "metric": "agents_offline", "group_by": "agent", "threshold": "0"}'
    """
    return json_response({"rule": _alerts().create_rule(read_json_object(), token_actor())}, 201)


def get_rule(rule_id: int):
    return json_response({"rule": _alerts().get_rule(rule_id)})


def patch_rule(rule_id: int):
    """Change the fields sent; the others stay."""
    return json_response({"rule": _alerts().update_rule(rule_id, read_json_object(), token_actor())})


def replace_rule(rule_id: int):
    """The whole rule: fields not sent take their defaults."""
    body = read_json_object()
    return json_response({"rule": _alerts().update_rule(rule_id, body, token_actor(), partial=False)})


def delete_rule(rule_id: int):
    _alerts().delete_rule(rule_id, token_actor())
    return json_response({"deleted": rule_id})


def preview_rule():
    """Evaluate a rule that is not stored against the data of this moment: how many groups would fire."""
    return json_response({"preview": _alerts().preview(read_json_object())})


# -- alerts ----------------------------------------------------------------------------------------


def list_alerts():
    """``?state=firing`` (several: ``firing,pending``); by default open alerts and those resolved in the
    last hour. Each alert says what silences (``silenced_by``) or inhibits (``inhibited_by``) it."""
    states = params.many("state")
    bad = [s for s in states if s not in STATES]
    if bad:
        raise params.invalid("state", f"unknown {', '.join(bad)} (one of {', '.join(STATES)})")
    return json_response({"alerts": _alerts().alerts(states or None)})


def get_alert(alert_id: int):
    alert, history = _alerts().alert_with_history(alert_id)
    return json_response({"alert": alert, "history": history})


def ack_alert(alert_id: int):
    """Acknowledge a firing alert with a note: it keeps firing; its notifications pause until it resolves
    or the receiver's repeat interval passes."""
    note = read_json_object().get("note")
    return json_response({"alert": _alerts().ack(alert_id, token_actor(), note)})


# -- silences --------------------------------------------------------------------------------------


def list_silences():
    """``?state=active|pending|expired``; all, newest first, by default."""
    state = request.args.get("state") or None
    if state is not None:
        state = params.choice("state", ("active", "pending", "expired"), "active")
    return json_response({"silences": _alerts().silences(state)})


def get_silence(silence_id: int):
    return json_response({"silence": _alerts().get_silence(silence_id)})


def create_silence():
    return json_response({"silence": _alerts().create_silence(read_json_object(), token_actor())}, 201)


def update_silence(silence_id: int):
    silence = _alerts().update_silence(silence_id, read_json_object(), token_actor())
    return json_response({"silence": silence})


def expire_silence(silence_id: int):
    return json_response({"silence": _alerts().expire_silence(silence_id, token_actor())})


# -- receivers and deliveries ----------------------------------------------------------------------


def list_receivers():
    return json_response({"receivers": _alerts().list_receivers()})


def create_receiver():
    return json_response({"receiver": _alerts().create_receiver(read_json_object(), token_actor())}, 201)


def get_receiver(receiver_id: int):
    return json_response({"receiver": _alerts().get_receiver(receiver_id)})


def update_receiver(receiver_id: int):
    receiver = _alerts().update_receiver(receiver_id, read_json_object(), token_actor())
    return json_response({"receiver": receiver})


def delete_receiver(receiver_id: int):
    _alerts().delete_receiver(receiver_id, token_actor())
    return json_response({"deleted": receiver_id})


def test_receiver(receiver_id: int):
    """Send one test notification now: ``{"receiver_id", "ok", "error"}`` (200 either way: the call
    worked; ``ok`` says whether the receiver took the message).

    curl -X POST -H "Authorization: Bearer $ADMIN" $HUD/api/v1/alert-receivers/3/test
    """
    return json_response(_alerts().test_receiver(receiver_id, token_actor()))


def list_deliveries():
    """The deliveries log, newest first (``?receiver_id=``, ``?limit=`` up to 500); payloads left out."""
    receiver_id = params.integer("receiver_id", 0, 1, 2**31 - 1) or None
    limit = params.integer("limit", 100, 1, 500)
    return json_response({"deliveries": _alerts().deliveries(receiver_id, limit)})
