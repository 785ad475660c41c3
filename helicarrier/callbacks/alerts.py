"""Alerts callbacks: thin wiring between the page and helicarrier.alerts / the repository.

Acknowledging, silencing and expiring need the operator role; rules and receivers the admin role. Each is
declared with that role (the gate refuses others with 403 and an audit entry; the registry checks again).
"""

from __future__ import annotations

from datetime import timedelta

import dash
from dash import ALL, Input, Output, State, html, no_update
from dash import ctx as dash_ctx
from flask import request

from helicarrier.actors import Actor
from helicarrier.alerts import engine
from helicarrier.alerts.matchers import Matcher
from helicarrier.alerts.rules import METRICS
from helicarrier.auth.passwords import role_allows
from helicarrier.auth.web import current_user
from helicarrier.callbacks.registry import Callbacks, signed_in_user
from helicarrier.callbacks.unchanged import digest as page_digest
from helicarrier.callbacks.unchanged import if_changed
from helicarrier.context import AppContext
from helicarrier.data.leader import current_holder
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.layouts import alerts as page
from helicarrier.layouts.alerts import ID
from helicarrier.layouts.alerts_forms import (
    GROUP_LABELS,
    RECEIVER_FIELDS,
    RULE_FIELDS,
    receiver_body,
    rule_body,
    rule_form_values,
)
from helicarrier.layouts.alerts_ids import TICKS
from helicarrier.layouts.feedback import said

FEED_ROWS = 200  # the page never holds more rows than this; the summary line counts them all
TICK_INPUTS = [Input(ID.TICK[name], "data") for name in TICKS]
# The rule editor, from its spec: what an edit fills (the rule's id first) and what Preview and Save read.
RULE_FORM_OUTPUTS = [
    Output(ID.RULE_ID, "data"),
    *(Output(f.fill_via, "data") if f.fill_via else Output(f.id, "value") for f in RULE_FIELDS),
]
RULE_FORM_STATES = [State(ID.RULE_ID, "data"), *(State(f.id, "value") for f in RULE_FIELDS)]
EDITOR_OUTPUTS = 1 + len(RULE_FORM_OUTPUTS)

CALLBACKS = Callbacks()


def _actor() -> Actor:
    user = signed_in_user()
    return Actor(user.username, "user", user.role, request.remote_addr)


def _may(role: str) -> bool:
    user = current_user()
    return user is not None and role_allows(user.role, role)


def _clicked() -> bool:
    """A pattern-matched button really clicked (re-rendered buttons arrive with n_clicks 0 too)."""
    return any(t["value"] for t in dash_ctx.triggered) and isinstance(dash_ctx.triggered_id, dict)


def _error(text: str) -> html.Span:
    return said(text, "warning")


def _ok(text: str, tick: int | None) -> tuple[html.Span, int]:
    """A success message, and the tick that redraws the tables."""
    return said(text), (tick or 0) + 1


def rule_form(rule: dict | None) -> tuple:
    """The editor's values for a rule (None: a new rule's defaults), its id first."""
    return ((rule or {}).get("id"), *rule_form_values(rule))


# -- the feed and the tables -------------------------------------------------------------------------

# The row a link pointed at is scrolled into view once, when it first appears.
CALLBACKS.clientside(
    """function(_feed, focus) {
        const row = focus && document.querySelector(".alerts-row-focus");
        if (row && window.__hudFocusedAlert !== focus) {
            window.__hudFocusedAlert = focus;
            row.scrollIntoView({block: "center"});
        }
        return window.dash_clientside.no_update;
    }""",
    Output(ID.FOCUS, "modified_timestamp"),
    Input(ID.FEED, "children"),
    State(ID.FOCUS, "data"),
)


@CALLBACKS.on(
    Output(ID.FEED, "children"),
    Output(ID.FEED_HASH, "data"),
    Output(ID.SUMMARY, "children"),
    Output(ID.EVAL, "children"),
    Output(ID.SILENCES, "children"),
    Output(ID.PANELS_SHOWN, "data"),
    Input(ID.INTERVAL, "n_intervals"),
    Input(ID.STATE_FILTER, "value"),
    *TICK_INPUTS,
    State(ID.FEED_HASH, "data"),
    State(ID.PANELS_SHOWN, "data"),
    State(ID.FOCUS, "data"),
)
def refresh(ctx: AppContext, _n, states, *rest):
    repo, shown_hash, panels_shown, focus, now = ctx.repo, rest[-3], rest[-2], rest[-1], utcnow()
    feed = engine.feed(repo, now)
    can_act = _may("operator")
    wanted = [a for a in feed if a["state"] in (states or [])]
    # Only what the rows show: last-seen times and counts move every cycle and must not redraw the feed.
    shown = [{k: a.get(k) for k in page.FEED_FIELDS} for a in wanted[:FEED_ROWS]]
    digest = page_digest([shown, len(wanted), can_act, focus])
    feed_out = (
        no_update
        if digest == shown_hash
        else page.feed_table(wanted[:FEED_ROWS], can_act, len(wanted), focus)
    )
    failing = [r for r in repo.list_alert_rules() if r.get("health") == "error"]
    evaluation = page.eval_panel(repo.eval_cycles(limit=1), current_holder(repo.engine), failing)
    silences = page.silences_table(repo.list_silences(limit=50), now, can_act)
    panels, panels_digest = if_changed((page.summary_text(feed), evaluation, silences), panels_shown)
    summary_out, eval_out, silences_out = (no_update,) * 3 if panels is no_update else panels
    return feed_out, digest, summary_out, eval_out, silences_out, panels_digest


@CALLBACKS.on(
    Output(ID.SENTINEL, "children"),
    Output(ID.SENTINEL_HASH, "data"),
    Input(ID.INTERVAL, "n_intervals"),
    State(ID.SENTINEL_HASH, "data"),
)
def refresh_sentinel(ctx: AppContext, _n, shown_hash):
    """The sentinel's findings under the feed: open ones, and those resolved in the last hour."""
    since = utcnow() - timedelta(hours=1)
    found = [
        f
        for f in ctx.repo.list_findings(limit=100)
        if f["state"] == "open" or (f["resolved_at"] and f["resolved_at"] >= since)
    ]
    digest = page_digest([{k: f[k] for k in page.SENTINEL_FIELDS} for f in found])
    return (no_update, digest) if digest == shown_hash else (page.sentinel_table(found), digest)


@CALLBACKS.on(
    Output(ID.RULES, "children"),
    Output(ID.RECEIVERS, "children"),
    Output(ID.DELIVERIES, "children"),
    Output(ID.CONFIG_SHOWN, "data"),
    Input(ID.SLOW_INTERVAL, "n_intervals"),
    *TICK_INPUTS,
    State(ID.CONFIG_SHOWN, "data"),
)
def refresh_config(ctx: AppContext, *values):
    can_edit = _may("admin")
    tables, shown = if_changed(
        (
            page.rules_table(ctx.repo.list_alert_rules(), can_edit),
            page.receivers_table(ctx.repo.list_receivers(), can_edit),
            page.deliveries_table(ctx.repo.list_deliveries(limit=20)),
        ),
        values[-1],
    )
    return (*((no_update,) * 3 if tables is no_update else tables), shown)


# -- acknowledge ---------------------------------------------------------------------------------------


@CALLBACKS.on(
    Output(ID.ACK_MODAL, "is_open"),
    Output(ID.ACK_TARGET, "data"),
    Output(ID.ACK_WHAT, "children"),
    Output(ID.ACK_NOTE, "value"),
    Input({"type": ID.ACK_OPEN, "alert": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_ack(ctx: AppContext, _clicks):
    if not _clicked():
        return (no_update,) * 4
    alert = ctx.repo.get_alert(dash_ctx.triggered_id["alert"])
    if alert is None:
        return (no_update,) * 4
    what = [html.B(alert["rule_name"]), " ", html.Span(page.labels_text(alert["labels"]), className="mono")]
    return True, alert["id"], what, ""


@CALLBACKS.on(
    Output(ID.ACK_RESULT, "children"),
    Output(ID.TICK["ack"], "data"),
    Input(ID.ACK_SUBMIT, "n_clicks"),
    State(ID.ACK_TARGET, "data"),
    State(ID.ACK_NOTE, "value"),
    State(ID.TICK["ack"], "data"),
    role="operator",
    prevent_initial_call=True,
)
def submit_ack(ctx: AppContext, n, alert_id, note, tick):
    if not n or alert_id is None:
        return no_update, no_update
    if not (note or "").strip():
        return _error("Say what is being done about it."), no_update
    try:
        ctx.alerts.ack(int(alert_id), _actor(), note.strip())
    except Refused as exc:
        return _error(exc.message), no_update
    return _ok("Acknowledged.", tick)


# -- silence -------------------------------------------------------------------------------------------


@CALLBACKS.on(
    Output(ID.SILENCE_MODAL, "is_open"),
    Output(ID.SILENCE_MATCHERS, "value"),
    Input({"type": ID.SILENCE_OPEN, "alert": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_silence(ctx: AppContext, _clicks):
    if not _clicked():
        return no_update, no_update
    alert = ctx.repo.get_alert(dash_ctx.triggered_id["alert"])
    if alert is None:
        return no_update, no_update
    matchers = [Matcher("alertname", "=", alert["rule_name"])]
    matchers += [Matcher(k, "=", str(v)) for k, v in sorted((alert["labels"] or {}).items())]
    return True, "\n".join(str(m) for m in matchers)


@CALLBACKS.on(
    Output(ID.SILENCE_RESULT, "children"),
    Output(ID.TICK["silence"], "data"),
    Input(ID.SILENCE_SUBMIT, "n_clicks"),
    State(ID.SILENCE_MATCHERS, "value"),
    State(ID.SILENCE_DURATION, "value"),
    State(ID.SILENCE_COMMENT, "value"),
    State(ID.TICK["silence"], "data"),
    role="operator",
    prevent_initial_call=True,
)
def submit_silence(ctx: AppContext, n, matchers, duration, comment, tick):
    if not n:
        return no_update, no_update
    body = {"matchers": matchers, "duration_s": duration, "comment": comment}
    try:
        s = ctx.alerts.create_silence(body, _actor())
    except Refused as exc:
        return _error(exc.message), no_update
    return _ok(f"Silence #{s['id']} until {s['ends_at']:%H:%M} UTC.", tick)


@CALLBACKS.on(
    Output(ID.SILENCE_EXPIRE_RESULT, "children"),
    Output(ID.TICK["expire"], "data"),
    Input({"type": ID.SILENCE_EXPIRE, "silence": ALL}, "n_clicks"),
    State(ID.TICK["expire"], "data"),
    role="operator",
    prevent_initial_call=True,
)
def expire_silence(ctx: AppContext, _clicks, tick):
    if not _clicked():
        return no_update, no_update
    sid = dash_ctx.triggered_id["silence"]
    try:
        ctx.alerts.expire_silence(int(sid), _actor())
    except Refused as exc:
        return _error(exc.message), no_update
    return _ok(f"Silence #{sid} expired.", tick)


# -- rules (admins) ------------------------------------------------------------------------------------


@CALLBACKS.on(
    Output(ID.RULE_EDITOR, "style"),
    *RULE_FORM_OUTPUTS,
    Input(ID.RULE_NEW, "n_clicks"),
    Input({"type": ID.RULE_EDIT, "rule": ALL}, "n_clicks"),
    role="admin",
    prevent_initial_call=True,
)
def open_editor(ctx: AppContext, new, _edits):
    """New rule opens the editor with a new rule's defaults, a rule's Edit with that rule."""
    if dash_ctx.triggered_id == ID.RULE_NEW:
        return ({}, *rule_form(None)) if new else (no_update,) * EDITOR_OUTPUTS
    rule = ctx.repo.get_alert_rule(dash_ctx.triggered_id["rule"]) if _clicked() else None
    return ({}, *rule_form(rule)) if rule else (no_update,) * EDITOR_OUTPUTS


@CALLBACKS.on(
    Output(ID.RULE_GROUP_BY, "options"),
    Output(ID.RULE_GROUP_BY, "value"),
    Input(ID.RULE_METRIC, "value"),
    Input(ID.RULE_GROUP_WANT, "data"),
    State(ID.RULE_GROUP_BY, "value"),
)
def group_options(_ctx: AppContext, metric, want, current):
    m = METRICS.get(metric)
    groups = m.groups if m else ()
    pick = want if dash_ctx.triggered_id == ID.RULE_GROUP_WANT else current
    if pick not in groups:
        pick = want if want in groups else (groups[0] if groups else None)
    return [{"label": GROUP_LABELS.get(g, g), "value": g} for g in groups], pick


@CALLBACKS.on(
    Output(ID.RULE_PREVIEW_RESULT, "children"),
    Input(ID.RULE_PREVIEW, "n_clicks"),
    *RULE_FORM_STATES,
    role="admin",
    prevent_initial_call=True,
)
def preview(ctx: AppContext, n, _rule_id, *values):
    if not n:
        return no_update
    try:
        return page.preview_text(ctx.alerts.preview(rule_body(values)))
    except Refused as exc:
        return _error(exc.message)


def _save(ctx: AppContext, rule_id, values, tick):
    body = rule_body(values)
    if rule_id is None:
        rule = ctx.alerts.create_rule(body, _actor())
        return _ok(f"Rule {rule['name']} created.", tick)
    # The editor holds the whole rule: a field it leaves empty takes its default.
    rule = ctx.alerts.update_rule(int(rule_id), body, _actor(), partial=False)
    return _ok(f"Rule {rule['name']} saved.", tick)


HIDDEN = {"display": "none"}


@CALLBACKS.on(
    Output(ID.RULE_RESULT, "children"),
    Output(ID.TICK["rule"], "data"),
    Output(ID.RULE_EDITOR, "style", allow_duplicate=True),
    Input(ID.RULE_SAVE, "n_clicks"),
    Input(ID.RULE_DELETE, "n_clicks"),
    *RULE_FORM_STATES,
    State(ID.TICK["rule"], "data"),
    role="admin",
    prevent_initial_call=True,
)
def save_rule(ctx: AppContext, save, delete, rule_id, *rest):
    """Save or Delete; the editor closes once it worked (the message stays below the rules), and stays
    open with the reason when it did not."""
    values, tick = rest[:-1], rest[-1]
    deleting = dash_ctx.triggered_id == ID.RULE_DELETE
    clicked = (delete and rule_id is not None) if deleting else save
    if not clicked:
        return no_update, no_update, no_update
    try:
        if deleting:
            ctx.alerts.delete_rule(int(rule_id), _actor())
            return *_ok("Rule deleted.", tick), HIDDEN
        return *_save(ctx, rule_id, values, tick), HIDDEN
    except Refused as exc:
        return _error(exc.message), no_update, no_update


@CALLBACKS.on(
    Output(ID.RULE_EDITOR, "style", allow_duplicate=True),
    Output(ID.RULE_RESULT, "children", allow_duplicate=True),
    Input(ID.RULE_CLOSE, "n_clicks"),
    prevent_initial_call=True,
)
def close_editor(_ctx: AppContext, n):
    return (HIDDEN, "") if n else (no_update, no_update)


# -- receivers (admins) --------------------------------------------------------------------------------


@CALLBACKS.on(
    Output(ID.RECEIVER_RESULT, "children"),
    Output(ID.TICK["receiver"], "data"),
    Input(ID.RECEIVER_CREATE, "n_clicks"),
    *(State(f.id, "value") for f in RECEIVER_FIELDS),
    State(ID.TICK["receiver"], "data"),
    role="admin",
    prevent_initial_call=True,
)
def create_receiver(ctx: AppContext, n, *rest):
    values, tick = rest[:-1], rest[-1]
    if not n:
        return no_update, no_update
    try:
        receiver = ctx.alerts.create_receiver(receiver_body(values), _actor())
    except Refused as exc:
        return _error(exc.message), no_update
    return _ok(f"Receiver {receiver['name']} added.", tick)


@CALLBACKS.on(
    Output(ID.RECEIVER_TOGGLE_RESULT, "children"),
    Output(ID.TICK["toggle"], "data"),
    Input({"type": ID.RECEIVER_TOGGLE, "receiver": ALL}, "n_clicks"),
    State(ID.TICK["toggle"], "data"),
    role="admin",
    prevent_initial_call=True,
)
def toggle_receiver(ctx: AppContext, _clicks, tick):
    if not _clicked():
        return no_update, no_update
    rid = int(dash_ctx.triggered_id["receiver"])
    receiver = ctx.repo.get_receiver(rid)
    if receiver is None:
        return _error("This receiver is gone."), no_update
    ctx.alerts.update_receiver(rid, {"enabled": not receiver["enabled"]}, _actor())
    return _ok(f"{receiver['name']} {'disabled' if receiver['enabled'] else 'enabled'}.", tick)


@CALLBACKS.on(
    Output(ID.RECEIVER_TEST_RESULT, "children"),
    Input({"type": ID.RECEIVER_TEST, "receiver": ALL}, "n_clicks"),
    role="admin",
    prevent_initial_call=True,
)
def test_receiver(ctx: AppContext, _clicks):
    if not _clicked():
        return no_update
    rid = int(dash_ctx.triggered_id["receiver"])
    receiver = ctx.repo.get_receiver(rid)
    if receiver is None:
        return _error("This receiver is gone.")
    try:
        result = ctx.alerts.test_receiver(rid, _actor())
    except Refused as exc:
        return _error(exc.message)
    if result["ok"]:
        return html.Span(f"Test message sent to {receiver['name']}.", className="text-success")
    return _error(f"Test message to {receiver['name']} failed: {result['error']}")


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)
