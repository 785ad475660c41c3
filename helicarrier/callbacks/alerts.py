"""Alerts callbacks: thin wiring between the page and helicarrier.alerts / the repository.

Acknowledging, silencing and expiring need the operator role; rules and receivers the admin role. Each is
a ``role_callback`` (the gate refuses others with 403 and an audit entry) and checks again inside.
"""

from __future__ import annotations

import hashlib
import json

import dash
import orjson
from dash import ALL, Input, Output, State, html, no_update
from dash import ctx as dash_ctx
from flask import request

from helicarrier.actors import Actor
from helicarrier.alerts import engine
from helicarrier.alerts.matchers import Matcher
from helicarrier.alerts.rules import METRICS, RuleError, validate_rule
from helicarrier.alerts.validation import validate_receiver, validate_silence
from helicarrier.auth.passwords import role_allows
from helicarrier.auth.web import current_user, require_role, role_callback
from helicarrier.context import AppContext
from helicarrier.data.leader import current_holder
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused as AlertRefused
from helicarrier.layouts import alerts as page

FEED_ROWS = 200  # the page never holds more rows than this; the summary line counts them all


def _actor(user) -> Actor:
    return Actor(user.username, "user", user.role, request.remote_addr)


def _may(role: str) -> bool:
    user = current_user()
    return user is not None and role_allows(user.role, role)


def _clicked() -> bool:
    """A pattern-matched button really clicked (re-rendered buttons arrive with n_clicks 0 too)."""
    return any(t["value"] for t in dash_ctx.triggered) and isinstance(dash_ctx.triggered_id, dict)


def _error(text: str) -> html.Span:
    return html.Span(text, className="text-warning")


def _ok(text: str) -> html.Span:
    return html.Span(text, className="text-success")


def _labels(text: str | None) -> dict[str, str]:
    out = {}
    for part in (text or "").replace("\n", ",").split(","):
        if part.strip():
            if "=" not in part:
                raise RuleError("labels", f"{part.strip()!r} is not key=value")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _json_field(text: str | None, field: str):
    if not (text or "").strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RuleError(field, f"not valid JSON: {exc}") from None


def rule_form(rule: dict | None) -> tuple:
    """The editor's field values for a rule (None: a new rule's defaults)."""
    r = rule or {
        "metric": "spend_usd",
        "group_by": "fleet",
        "severity": "warning",
        "comparator": ">",
        "window_s": 3600,
        "for_s": 0,
        "nodata_state": "nodata",
        "error_state": "error",
        "reopen_s": 300,
        "enabled": True,
        "params": None,
    }
    group_by = r["group_by"]
    label_key = group_by.split(":", 1)[1] if group_by.startswith("label:") else ""
    params = r.get("params")
    if params is None:
        params = {k: p.default for k, p in METRICS[r["metric"]].params.items() if p.default is not None}
    return (
        r.get("id"),
        r.get("name") or "",
        r["metric"],
        "label" if label_key else group_by,
        label_key,
        r["severity"],
        r["comparator"],
        r.get("threshold") or "",
        r["window_s"],
        r["for_s"],
        r["nodata_state"],
        r["error_state"],
        r["reopen_s"],
        ["on"] if r["enabled"] else [],
        json.dumps(params) if params else "",
        ", ".join(f"{k}={v}" for k, v in (r.get("labels") or {}).items()),
        json.dumps(r["inhibits"]) if r.get("inhibits") else "",
        r.get("description") or "",
    )


def register(app: dash.Dash, ctx: AppContext) -> None:
    repo = ctx.repo
    ticks = [
        Input(f"alerts-tick-{n}", "data") for n in ("ack", "silence", "expire", "rule", "receiver", "toggle")
    ]

    @app.callback(
        Output("alerts-feed", "children"),
        Output("alerts-feed-hash", "data"),
        Output("alerts-summary", "children"),
        Output("alerts-eval", "children"),
        Output("alerts-silences", "children"),
        Input("alerts-interval", "n_intervals"),
        Input("alerts-state-filter", "value"),
        *ticks,
        State("alerts-feed-hash", "data"),
    )
    def refresh(_n, states, *rest):
        shown_hash = rest[-1]
        now = utcnow()
        feed = engine.feed(repo, now)
        can_act = _may("operator")
        wanted = [a for a in feed if a["state"] in (states or [])]
        # Only what the rows show: last-seen times and counts move every cycle and must not redraw the feed.
        shown = [{k: a.get(k) for k in page.FEED_FIELDS} for a in wanted[:FEED_ROWS]]
        digest = hashlib.sha256(
            orjson.dumps([shown, len(wanted), can_act], default=str, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        feed_out = (
            no_update if digest == shown_hash else page.feed_table(wanted[:FEED_ROWS], can_act, len(wanted))
        )
        cycles = repo.eval_cycles(limit=1)
        rules = [r for r in repo.list_alert_rules() if r.get("health") == "error"]
        evaluation = page.eval_panel(cycles, current_holder(repo.engine), rules)
        silences = page.silences_table(repo.list_silences(limit=50), now, can_act)
        return feed_out, digest, page.summary_text(feed), evaluation, silences

    @app.callback(
        Output("alerts-rules", "children"),
        Output("alerts-receivers", "children"),
        Output("alerts-deliveries", "children"),
        Input("alerts-slow-interval", "n_intervals"),
        *ticks,
    )
    def refresh_config(*_):
        can_edit = _may("admin")
        return (
            page.rules_table(repo.list_alert_rules(), can_edit),
            page.receivers_table(repo.list_receivers(), can_edit),
            page.deliveries_table(repo.list_deliveries(limit=20)),
        )

    # -- acknowledge -------------------------------------------------------------------------------

    @app.callback(
        Output("alerts-ack-modal", "is_open"),
        Output("alerts-ack-target", "data"),
        Output("alerts-ack-what", "children"),
        Output("alerts-ack-note", "value"),
        Input({"type": "alerts-ack-open", "alert": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_ack(_clicks):
        if not _clicked():
            return (no_update,) * 4
        alert = repo.get_alert(dash_ctx.triggered_id["alert"])
        if alert is None:
            return (no_update,) * 4
        what = [
            html.B(alert["rule_name"]),
            " ",
            html.Span(page.labels_text(alert["labels"]), className="mono"),
        ]
        return True, alert["id"], what, ""

    @role_callback(
        app,
        "operator",
        Output("alerts-ack-result", "children"),
        Output("alerts-tick-ack", "data"),
        Input("alerts-ack-submit", "n_clicks"),
        State("alerts-ack-target", "data"),
        State("alerts-ack-note", "value"),
        State("alerts-tick-ack", "data"),
        prevent_initial_call=True,
    )
    def submit_ack(n, alert_id, note, tick):
        user = require_role("operator")
        if not n or alert_id is None:
            return no_update, no_update
        if not (note or "").strip():
            return _error("Say what is being done about it."), no_update
        try:
            ctx.alerts.ack(int(alert_id), _actor(user), note.strip())
        except AlertRefused as exc:
            return _error(exc.message), no_update
        return _ok("Acknowledged."), (tick or 0) + 1

    # -- silence -----------------------------------------------------------------------------------

    @app.callback(
        Output("alerts-silence-modal", "is_open"),
        Output("alerts-silence-matchers", "value"),
        Input({"type": "alerts-silence-open", "alert": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_silence(_clicks):
        if not _clicked():
            return no_update, no_update
        alert = repo.get_alert(dash_ctx.triggered_id["alert"])
        if alert is None:
            return no_update, no_update
        matchers = [Matcher("alertname", "=", alert["rule_name"])]
        matchers += [Matcher(k, "=", str(v)) for k, v in sorted((alert["labels"] or {}).items())]
        return True, "\n".join(str(m) for m in matchers)

    @role_callback(
        app,
        "operator",
        Output("alerts-silence-result", "children"),
        Output("alerts-tick-silence", "data"),
        Input("alerts-silence-submit", "n_clicks"),
        State("alerts-silence-matchers", "value"),
        State("alerts-silence-duration", "value"),
        State("alerts-silence-comment", "value"),
        State("alerts-tick-silence", "data"),
        prevent_initial_call=True,
    )
    def submit_silence(n, matchers, duration, comment, tick):
        user = require_role("operator")
        if not n:
            return no_update, no_update
        now = utcnow()
        try:
            v = validate_silence({"matchers": matchers, "duration_s": duration, "comment": comment}, now)
        except RuleError as exc:
            return _error(str(exc)), no_update
        s = repo.create_silence(v["matchers"], v["starts_at"], v["ends_at"], v["comment"], _actor(user))
        return _ok(f"Silence #{s['id']} until {s['ends_at']:%H:%M} UTC."), (tick or 0) + 1

    @role_callback(
        app,
        "operator",
        Output("alerts-silence-expire-result", "children"),
        Output("alerts-tick-expire", "data"),
        Input({"type": "alerts-silence-expire", "silence": ALL}, "n_clicks"),
        State("alerts-tick-expire", "data"),
        prevent_initial_call=True,
    )
    def expire_silence(_clicks, tick):
        user = require_role("operator")
        if not _clicked():
            return no_update, no_update
        sid = dash_ctx.triggered_id["silence"]
        try:
            repo.expire_silence(int(sid), _actor(user))
        except AlertRefused as exc:
            return _error(exc.message), no_update
        return _ok(f"Silence #{sid} expired."), (tick or 0) + 1

    # -- rules (admins) ----------------------------------------------------------------------------

    form_outputs = [
        Output("alerts-rule-id", "data"),
        Output("alerts-rule-name", "value"),
        Output("alerts-rule-metric", "value"),
        Output("alerts-rule-group-want", "data"),  # the dropdown takes it once its options fit the metric
        Output("alerts-rule-label-key", "value"),
        Output("alerts-rule-severity", "value"),
        Output("alerts-rule-comparator", "value"),
        Output("alerts-rule-threshold", "value"),
        Output("alerts-rule-window", "value"),
        Output("alerts-rule-for", "value"),
        Output("alerts-rule-nodata", "value"),
        Output("alerts-rule-error", "value"),
        Output("alerts-rule-reopen", "value"),
        Output("alerts-rule-enabled", "value"),
        Output("alerts-rule-params", "value"),
        Output("alerts-rule-labels", "value"),
        Output("alerts-rule-inhibits", "value"),
        Output("alerts-rule-description", "value"),
    ]
    form_states = [
        State("alerts-rule-group-by", "value")
        if o.component_id == "alerts-rule-group-want"
        else State(o.component_id, o.component_property)
        for o in form_outputs
    ]

    @role_callback(
        app,
        "admin",
        Output("alerts-rule-editor", "style"),
        *form_outputs,
        Input("alerts-rule-new", "n_clicks"),
        Input({"type": "alerts-rule-edit", "rule": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_editor(_new, _edits):
        require_role("admin")
        if dash_ctx.triggered_id == "alerts-rule-new":
            if not _new:
                return (no_update,) * 19
            return ({}, *rule_form(None))
        if not _clicked():
            return (no_update,) * 19
        rule = repo.get_alert_rule(dash_ctx.triggered_id["rule"])
        return ({}, *rule_form(rule)) if rule else (no_update,) * 19

    @app.callback(
        Output("alerts-rule-group-by", "options"),
        Output("alerts-rule-group-by", "value"),
        Input("alerts-rule-metric", "value"),
        Input("alerts-rule-group-want", "data"),
        State("alerts-rule-group-by", "value"),
    )
    def group_options(metric, want, current):
        m = METRICS.get(metric)
        groups = m.groups if m else ()
        pick = want if dash_ctx.triggered_id == "alerts-rule-group-want" else current
        if pick not in groups:
            pick = want if want in groups else (groups[0] if groups else None)
        return [{"label": page.GROUP_LABELS.get(g, g), "value": g} for g in groups], pick

    def _rule_body(values: tuple) -> dict:
        (
            _rid,
            name,
            metric,
            group,
            label_key,
            severity,
            comparator,
            threshold,
            window_s,
            for_s,
            nodata,
            error,
            reopen,
            enabled,
            params,
            labels,
            inhibits,
            description,
        ) = values
        group_by = f"label:{(label_key or '').strip()}" if group == "label" else group
        return {
            "name": name,
            "metric": metric,
            "group_by": group_by,
            "severity": severity,
            "comparator": comparator,
            "threshold": threshold,
            "window_s": window_s,
            "for_s": for_s,
            "nodata_state": nodata,
            "error_state": error,
            "reopen_s": reopen,
            "enabled": bool(enabled),
            "params": _json_field(params, "params"),
            "labels": _labels(labels),
            "inhibits": _json_field(inhibits, "inhibits"),
            "description": description or None,
        }

    @role_callback(
        app,
        "admin",
        Output("alerts-rule-preview-result", "children"),
        Input("alerts-rule-preview", "n_clicks"),
        *form_states,
        prevent_initial_call=True,
    )
    def preview(n, *values):
        require_role("admin")
        if not n:
            return no_update
        try:
            return page.preview_text(engine.preview(repo, _rule_body(values)))
        except RuleError as exc:
            return _error(str(exc))

    @role_callback(
        app,
        "admin",
        Output("alerts-rule-result", "children"),
        Output("alerts-tick-rule", "data"),
        Input("alerts-rule-save", "n_clicks"),
        Input("alerts-rule-delete", "n_clicks"),
        *form_states,
        State("alerts-tick-rule", "data"),
        prevent_initial_call=True,
    )
    def save_rule(save, delete, *rest):
        user = require_role("admin")
        values, tick = rest[:-1], rest[-1]
        rule_id = values[0]
        try:
            if dash_ctx.triggered_id == "alerts-rule-delete":
                if not delete or rule_id is None:
                    return no_update, no_update
                repo.delete_alert_rule(int(rule_id), _actor(user))
                return _ok("Rule deleted."), (tick or 0) + 1
            if not save:
                return no_update, no_update
            body = validate_rule(_rule_body(values))
            if rule_id is None:
                rule = repo.create_alert_rule(body, _actor(user))
                return _ok(f"Rule {rule['name']} created."), (tick or 0) + 1
            rule = ctx.alerts.update_rule(int(rule_id), body, _actor(user), partial=False)
            return _ok(f"Rule {rule['name']} saved."), (tick or 0) + 1
        except RuleError as exc:
            return _error(str(exc)), no_update
        except AlertRefused as exc:
            return _error(exc.message), no_update

    # -- receivers (admins) ------------------------------------------------------------------------

    @role_callback(
        app,
        "admin",
        Output("alerts-receiver-result", "children"),
        Output("alerts-tick-receiver", "data"),
        Input("alerts-receiver-create", "n_clicks"),
        State("alerts-receiver-name", "value"),
        State("alerts-receiver-url", "value"),
        State("alerts-receiver-group-by", "value"),
        State("alerts-receiver-timing", "value"),
        State("alerts-tick-receiver", "data"),
        prevent_initial_call=True,
    )
    def create_receiver(n, name, url, group_by, timing, tick):
        user = require_role("admin")
        if not n:
            return no_update, no_update
        try:
            parts = [p.strip() for p in (timing or "").split("/")]
            if len(parts) != 3:
                raise RuleError("timing", "write group wait / group interval / repeat interval in seconds")
            body = {
                "name": name,
                "url": (url or "").strip(),
                "group_by": [g.strip() for g in (group_by or "").split(",") if g.strip()],
                "group_wait_s": parts[0],
                "group_interval_s": parts[1],
                "repeat_interval_s": parts[2],
            }
            receiver = repo.create_receiver(validate_receiver(body), _actor(user))
        except RuleError as exc:
            return _error(str(exc)), no_update
        except AlertRefused as exc:
            return _error(exc.message), no_update
        return _ok(f"Receiver {receiver['name']} added."), (tick or 0) + 1

    @role_callback(
        app,
        "admin",
        Output("alerts-receiver-toggle-result", "children"),
        Output("alerts-tick-toggle", "data"),
        Input({"type": "alerts-receiver-toggle", "receiver": ALL}, "n_clicks"),
        State("alerts-tick-toggle", "data"),
        prevent_initial_call=True,
    )
    def toggle_receiver(_clicks, tick):
        user = require_role("admin")
        if not _clicked():
            return no_update, no_update
        rid = int(dash_ctx.triggered_id["receiver"])
        receiver = repo.get_receiver(rid)
        if receiver is None:
            return _error("This receiver is gone."), no_update
        repo.update_receiver(rid, {"enabled": not receiver["enabled"]}, _actor(user))
        return _ok(f"{receiver['name']} {'disabled' if receiver['enabled'] else 'enabled'}."), (tick or 0) + 1
