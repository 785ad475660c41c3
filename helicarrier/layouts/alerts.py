"""Alerts: the live feed (what fires, what mutes it), acknowledging and silencing, the rules and their
editor, silences, receivers and deliveries, and the evaluator's health.

The page's components are all in the layout for every role (Dash validates callback ids against it);
what a role may not use is hidden here and refused on the server (helicarrier.auth.web). The rule editor and
the receiver form are built in alerts_forms.py; the page's ids are in alerts_ids.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.alerts.lifecycle import STATES
from helicarrier.alerts.receivers import shown_url
from helicarrier.alerts.rules import DEFAULT_INTERVAL_S, METRICS, describe, format_duration, format_value
from helicarrier.layouts.alerts_forms import choices, receiver_form, rule_editor, rule_result
from helicarrier.layouts.alerts_ids import ID, TICKS
from helicarrier.layouts.url_state import ledger_link, query_value

FEED_REFRESH_MS = 2000
SLOW_REFRESH_MS = 5000
FEED_STATES = [s for s in STATES if s != "inactive"]
# Alert states drawn with the HUD's status colours.
STATE_CLASS = {
    "firing": "status-killed",
    "pending": "status-stalled",
    "nodata": "status-killing",
    "error": "status-killing",
    "resolved": "status-running",
    "inactive": "status-offline",
}
# The alert fields a feed row shows (the feed is redrawn only when one of them changes).
FEED_FIELDS = (
    "id", "state", "severity", "rule_name", "metric", "labels", "value", "peak", "fired_at", "active_since",
    "resolved_at", "silenced_by", "inhibited_by", "acked", "acked_by", "acked_at", "ack_note",
)  # fmt: skip
SEVERITY_CLASS = {"critical": "text-danger", "warning": "text-warning", "info": "text-info"}
SILENCE_DURATIONS = [(s, format_duration(s)) for s in (1800, 3600, 7200, 14400, 28800, 86400, 604800)]


def _icon(name: str) -> html.I:
    return html.I(className=f"bi {name} me-2", **{"aria-hidden": "true"})


def _panel(title: str, icon: str, body, panel_id: str | None = None, right=None) -> html.Div:
    header = [html.Span([_icon(icon), title])]
    if right is not None:
        header.append(right)
    kwargs = {"id": panel_id} if panel_id else {}
    return html.Div(
        [
            html.Div(header, className="glass-header d-flex justify-content-between"),
            html.Div(body, className="p-3"),
        ],
        className="glass mb-3",
        **kwargs,
    )


def _hidden_unless(allowed: bool) -> dict[str, str]:
    return {} if allowed else {"display": "none"}


def _table(head: tuple[str, ...], rows: list, empty: str) -> html.Div | html.Table:
    if not rows:
        return html.Div(empty, className="muted")
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="table table-sm mb-0"
    )


def _row_button(label: str, kind: str, row: tuple[str, Any], **style) -> dbc.Button:
    """A button of a table row: its id is the pattern ``{"type": kind, <row kind>: <row id>}``."""
    return dbc.Button(label, id={"type": kind, row[0]: row[1]}, size="sm", outline=True, n_clicks=0, **style)


# -- plain builders (tested without a browser) --------------------------------------------------------


def state_badge(state: str) -> html.Span:
    return html.Span(state, className=f"status-badge {STATE_CLASS.get(state, 'status-offline')}")


def labels_text(labels: Mapping[str, Any] | None) -> str:
    if not labels:
        return "(whole rule)"
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _since(ts: datetime | None) -> html.Span:
    if ts is None:
        return html.Span("–")
    return html.Span("–", className="hc-since num", title=ts.isoformat(), **{"data-since": ts.isoformat()})


def mutes(alert: Mapping[str, Any]) -> list:
    """What keeps an alert from notifying, for the feed: silences, inhibiting rules, an acknowledgement."""
    out: list = []
    for sid in alert.get("silenced_by") or ():
        out.append(html.Span(f"silenced #{sid}", className="badge text-bg-secondary me-1 alerts-silenced"))
    for rule in alert.get("inhibited_by") or ():
        out.append(
            html.Span(f"inhibited by {rule}", className="badge text-bg-secondary me-1 alerts-inhibited")
        )
    if alert.get("acked"):
        note = f": {alert['ack_note']}" if alert.get("ack_note") else ""
        out.append(
            html.Span(
                f"acknowledged by {alert['acked_by']}{note}",
                className="badge text-bg-info me-1 alerts-acked",
                title=alert["acked_at"].isoformat() if alert.get("acked_at") else "",
            )
        )
    return out


def _feed_actions(alert: Mapping[str, Any]) -> list:
    """Ack and Silence, for an alert that still wants them."""
    state, row = alert["state"], ("alert", alert["id"])
    actions = []
    if state in ("firing", "nodata", "error") and not alert.get("acked"):
        actions.append(
            _row_button("Ack", ID.ACK_OPEN, row, color="info", className="me-1 py-0 alerts-ack-btn")
        )
    if state != "resolved" and not alert.get("silenced_by"):
        actions.append(
            _row_button(
                "Silence", ID.SILENCE_OPEN, row, color="secondary", className="py-0 alerts-silence-btn"
            )
        )
    return actions


def alert_href(alert: Mapping[str, Any]) -> str:
    """The alert on the Alerts page (its row marked and scrolled to)."""
    return f"/alerts?alert={int(alert['id'])}"


def sessions_href(alert: Mapping[str, Any]) -> str:
    """The Ledger filtered on what the alert is about (its agent, model or provider labels) from the day it
    became active: the sessions behind it."""
    labels = alert.get("labels") or {}
    since = alert.get("active_since") or alert.get("fired_at")
    filters = {key: str(labels[key]) for key in ("agent", "model", "provider") if labels.get(key)}
    return ledger_link(**filters, start=since.date().isoformat() if since else None)


def focus_from_query(query: str | None) -> int | None:
    """The alert a link points at (``/alerts?alert=12``), or None."""
    value = query_value(query, "alert") or ""
    return int(value) if value.isdigit() and len(value) < 19 else None


def feed_row(alert: Mapping[str, Any], can_act: bool, focus: int | None = None) -> html.Tr:
    unit = METRICS[alert["metric"]].unit if alert.get("metric") in METRICS else ""
    state = alert["state"]
    since = (
        alert.get("resolved_at")
        if state == "resolved"
        else alert.get("fired_at") or alert.get("active_since")
    )
    value = format_value(alert.get("value"), unit)
    peak = format_value(alert.get("peak"), unit)
    return html.Tr(
        [
            html.Td(
                [
                    state_badge(state),
                    html.Div(
                        alert.get("severity", ""),
                        className=f"small {SEVERITY_CLASS.get(alert.get('severity'), '')}",
                    ),
                ]
            ),
            html.Td(
                [
                    html.Div(alert.get("rule_name", ""), className="alerts-rule"),
                    html.Div(labels_text(alert.get("labels")), className="mono small muted alerts-labels"),
                    dcc.Link("Sessions →", href=sessions_href(alert), className="small alerts-sessions"),
                ]
            ),
            html.Td(f"{value} / {peak}" if peak != value else value, className="num"),
            html.Td(_since(since)),
            html.Td(mutes(alert), className="alerts-mutes"),
            html.Td(_feed_actions(alert) if can_act else [], className="text-end text-nowrap"),
        ],
        className=f"alerts-row alerts-state-{state}" + (" alerts-row-focus" if alert["id"] == focus else ""),
        **{"data-alert": str(alert["id"]), "data-state": state},
    )


def feed_table(
    alerts: list[Mapping[str, Any]], can_act: bool, total: int | None = None, focus: int | None = None
) -> html.Div | html.Table:
    if not alerts:
        return html.Div("Nothing is firing.", className="muted", id=ID.FEED_EMPTY)
    head = ("state", "rule · group", "value / peak", "since", "muted by", "")
    table = _table(head, [feed_row(a, can_act, focus) for a in alerts], "")
    more = (total or 0) - len(alerts)
    note = (
        [html.Div(f"… and {more} more (the API lists them all)", className="muted small")] if more > 0 else []
    )
    return html.Div([table, *note], className="table-responsive")


SENTINEL_FIELDS = ("id", "agent_id", "session_id", "detector", "state", "step", "summary", "first_seen_at")


def sentinel_table(findings: list[Mapping[str, Any]]) -> html.Div | html.Table:
    """The sentinel's findings in the feed: open ones, and those resolved in the last hour."""
    rows = [
        html.Tr(
            [
                html.Td(state_badge("firing" if f["state"] == "open" else "resolved")),
                html.Td(f["agent_id"], className="mono"),
                html.Td(f"{f['detector']} · {f['step']}", className="mono"),
                html.Td(f["summary"]),
                html.Td(html.A("session", href=f"/ledger/{f['session_id']}") if f["session_id"] else "–"),
                html.Td(_since(f["first_seen_at"])),
            ],
            **{"data-finding": str(f["id"])},
        )
        for f in findings
    ]
    if not rows:
        return html.Div(
            "The sentinel sees no agent going round in circles.", className="muted", id=ID.SENTINEL_EMPTY
        )
    return _table(("State", "Agent", "Detector · rung", "Evidence", "", "Since"), rows, "")


def summary_text(alerts: list[Mapping[str, Any]]) -> str:
    counts = {s: sum(1 for a in alerts if a["state"] == s) for s in ("firing", "pending", "nodata", "error")}
    muted = sum(
        1 for a in alerts if a["state"] != "resolved" and (a.get("silenced_by") or a.get("inhibited_by"))
    )
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    if muted:
        parts.append(f"{muted} muted")
    return " · ".join(parts) if parts else "All clear."


def eval_panel(
    cycles: list[Mapping[str, Any]], holder: str | None, rules: list[Mapping[str, Any]]
) -> html.Div:
    last = cycles[0] if cycles else None
    rows = [("Scheduler lock held by", holder or "nobody (no scheduler running)")]
    if last:
        rows += [
            ("Last cycle", last["started_at"].strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("Duration", f"{last['duration_ms']} ms"),
            ("Rules evaluated", f"{last['rules_evaluated']} ({last['queries']} queries)"),
            ("Rules failed", str(last["rules_failed"])),
            ("Evaluated by", last["holder"] or "–"),
        ]
    else:
        rows.append(("Last cycle", "none yet"))
    failing = [r for r in rules if r.get("health") == "error"]
    table = html.Table(
        [html.Tr([html.Td(k, className="muted pe-3"), html.Td(v, className="num")]) for k, v in rows],
        className="table table-sm table-borderless mb-0",
        id=ID.EVAL_TABLE,
    )
    errors = [
        html.Div([html.B(r["name"]), ": ", r.get("last_error") or "error"], className="text-danger small")
        for r in failing
    ]
    return html.Div([table, *errors])


def _silence_row(s: Mapping[str, Any], now: datetime, can_act: bool) -> html.Tr:
    status = "pending" if now < s["starts_at"] else "active" if now < s["ends_at"] else "expired"
    matchers = ", ".join(f'{m["name"]}{m["op"]}"{m["value"]}"' for m in s["matchers"])
    expire = (
        _row_button("Expire", ID.SILENCE_EXPIRE, ("silence", s["id"]), color="secondary")
        if can_act and status != "expired"
        else ""
    )
    return html.Tr(
        [
            html.Td(f"#{s['id']}", className="num"),
            html.Td(status, className=f"alerts-silence-{status}"),
            html.Td(matchers, className="mono small"),
            html.Td([s["comment"], html.Div(f"by {s['created_by']}", className="muted small")]),
            html.Td(s["ends_at"].strftime("%m-%d %H:%M"), className="num", title=s["ends_at"].isoformat()),
            html.Td(expire, className="text-end"),
        ],
        **{"data-silence": str(s["id"])},
    )


def silences_table(silences: list[Mapping[str, Any]], now: datetime, can_act: bool) -> html.Div | html.Table:
    rows = [_silence_row(s, now, can_act) for s in silences]
    return _table(("", "status", "matchers", "comment", "ends", ""), rows, "No silences.")


def _health_cell(r: Mapping[str, Any]) -> html.Td:
    """The rule's health; in error, its message; failing but not yet in error, how many times so far."""
    health, error, streak = r.get("health") or "–", r.get("last_error"), r.get("error_streak") or 0
    shown: list = [health]
    if error and health == "error":
        shown.append(html.Div(error, className="small"))
    elif error and streak:
        shown.append(html.Div(f"failed {streak}x in a row: {error}", className="text-warning small"))
    return html.Td(shown, className="text-danger" if health == "error" else "", title=error or "")


def _rule_row(r: Mapping[str, Any], can_edit: bool) -> html.Tr:
    return html.Tr(
        [
            html.Td(r["name"]),
            html.Td(describe(r), className="mono small"),
            html.Td(r["severity"], className=SEVERITY_CLASS.get(r["severity"], "")),
            html.Td("on" if r["enabled"] else "off"),
            html.Td(format_duration(r.get("interval_s") or DEFAULT_INTERVAL_S), className="num"),
            _health_cell(r),
            html.Td(
                _row_button("Edit", ID.RULE_EDIT, ("rule", r["id"])) if can_edit else "", className="text-end"
            ),
        ],
        **{"data-rule": str(r["id"])},
    )


def rules_table(rules: list[Mapping[str, Any]], can_edit: bool) -> html.Div | html.Table:
    rows = [_rule_row(r, can_edit) for r in rules]
    return _table(("name", "condition", "severity", "enabled", "every", "health", ""), rows, "No rules yet.")


def _receiver_row(r: Mapping[str, Any], can_edit: bool) -> html.Tr:
    row = ("receiver", r["id"])
    toggle = (
        [
            _row_button("Send test message", ID.RECEIVER_TEST, row, className="me-1"),
            _row_button("Disable" if r["enabled"] else "Enable", ID.RECEIVER_TOGGLE, row),
        ]
        if can_edit
        else ""
    )
    state = "enabled" if r["enabled"] else ("disabled: failing" if r.get("disabled_reason") else "disabled")
    timing = "/".join(
        format_duration(r[k]) for k in ("group_wait_s", "group_interval_s", "repeat_interval_s")
    )
    cap = f", at most {r['max_per_hour']}/h" if r.get("max_per_hour") else ""
    return html.Tr(
        [
            html.Td(r["name"]),
            html.Td(r.get("kind") or "webhook"),
            html.Td(shown_url(r["url"]), className="mono small text-break"),
            html.Td(
                state, className="" if r["enabled"] else "text-warning", title=r.get("disabled_reason") or ""
            ),
            html.Td(str(r["consecutive_failures"]), className="num"),
            html.Td(
                timing + cap,
                className="num small",
                title="group wait / group interval / repeat interval; rate cap",
            ),
            html.Td(toggle, className="text-end"),
        ],
        **{"data-receiver": str(r["id"])},
    )


def receivers_table(receivers: list[Mapping[str, Any]], can_edit: bool) -> html.Div | html.Table:
    rows = [_receiver_row(r, can_edit) for r in receivers]
    return _table(
        ("name", "kind", "url", "state", "failures", "timing", ""),
        rows,
        "No receivers: alerts show here only.",
    )


DELIVERY_STATUS_CLASS = {"sent": "text-success", "failed": "text-danger"}


def deliveries_table(deliveries: list[Mapping[str, Any]]) -> html.Div | html.Table:
    rows = [
        html.Tr(
            [
                html.Td(d["created_at"].strftime("%m-%d %H:%M:%S"), className="num"),
                html.Td(d["receiver"]),
                html.Td(labels_text(d.get("group_labels")), className="mono small"),
                html.Td(f"{len(d['alerts'])} ({d['reason']})", className="num"),
                html.Td(d["status"], className=DELIVERY_STATUS_CLASS.get(d["status"], "text-warning")),
                html.Td(str(d["attempts"]), className="num"),
                html.Td(d.get("error") or "", className="small text-danger"),
            ]
        )
        for d in deliveries
    ]
    head = ("at", "receiver", "group", "alerts", "status", "attempts", "error")
    return _table(head, rows, "Nothing delivered yet.")


def preview_text(result: Mapping[str, Any]) -> html.Div:
    if result.get("error"):
        return html.Div(f"The metric failed: {result['error']}", className="text-danger", id=ID.PREVIEW_TEXT)
    if result.get("no_data"):
        return html.Div(
            f"No data now: the rule would go to {result.get('nodata_outcome') or 'its no-data setting'}.",
            className="text-warning",
            id=ID.PREVIEW_TEXT,
        )
    n, groups = result["firing"], result["groups"]
    text = f"This rule would now fire for {n} group{'s' if n != 1 else ''} (of {groups})."
    if n and result.get("for_s"):
        text += f" With for = {format_duration(result['for_s'])} they would first be pending."
    items = [
        html.Li(
            f"{labels_text(a['labels'])}: {format_value(a['value'], result['unit'])}", className="mono small"
        )
        for a in result.get("alerts", [])[:10]
    ]
    return html.Div(
        [
            html.Div(text, id=ID.PREVIEW_TEXT),
            html.Ul(items, className="mb-0"),
            history_text(result.get("history")),
        ]
    )


def history_text(history: Mapping[str, Any] | None) -> html.Div | None:
    """How often the rule would have fired over the last days, and a warning when that is noise."""
    if not history:
        return None
    if history.get("error"):
        return html.Div(
            f"No history: {history['error']}", className="text-warning small", id=ID.PREVIEW_HISTORY
        )
    n, days = history["fires"], history["days"]
    text = (
        f"Over the last {days} days it would have fired {n} time{'s' if n != 1 else ''} "
        f"(checked every {format_duration(history['step_s'])})."
    )
    if not history["noisy"]:
        return html.Div(text, className="small", id=ID.PREVIEW_HISTORY)
    warning = (
        f" That is more than {history['max_per_day']} a day: raise the threshold, add a 'for' or group "
        "more coarsely, or it will be noise people learn to ignore."
    )
    return html.Div(text + warning, className="text-warning small", id=ID.PREVIEW_HISTORY)


# -- the page ---------------------------------------------------------------------------------------


def _modal(modal_id: str, title: str, body: list, submit: dbc.Button) -> dbc.Modal:
    return dbc.Modal(
        [dbc.ModalHeader(dbc.ModalTitle(title)), dbc.ModalBody(body), dbc.ModalFooter(submit)],
        id=modal_id,
        is_open=False,
    )


def _ack_modal() -> dbc.Modal:
    body = [
        html.Div(id=ID.ACK_WHAT, className="mb-2"),
        dbc.Textarea(id=ID.ACK_NOTE, placeholder="What is being done about it?", rows=3),
        html.Div(id=ID.ACK_RESULT, className="mt-2"),
    ]
    submit = dbc.Button("Acknowledge", id=ID.ACK_SUBMIT, color="info", n_clicks=0)
    return _modal(ID.ACK_MODAL, "Acknowledge alert", body, submit)


def _silence_modal() -> dbc.Modal:
    body = [
        dbc.Label('Matchers (one per line: name="value", !=, =~ regex, !~)', html_for=ID.SILENCE_MATCHERS),
        dbc.Textarea(id=ID.SILENCE_MATCHERS, rows=3, className="mono mb-2"),
        dbc.Label("For", html_for=ID.SILENCE_DURATION),
        dcc.Dropdown(id=ID.SILENCE_DURATION, options=choices(SILENCE_DURATIONS), value=3600, clearable=False),
        dbc.Label("Why", html_for=ID.SILENCE_COMMENT, className="mt-2"),
        dbc.Input(id=ID.SILENCE_COMMENT, placeholder="maintenance, known issue…"),
        html.Div(id=ID.SILENCE_RESULT, className="mt-2"),
    ]
    submit = dbc.Button("Silence", id=ID.SILENCE_SUBMIT, color="secondary", n_clicks=0)
    return _modal(ID.SILENCE_MODAL, "Silence", body, submit)


def _feed_and_rules(is_admin: bool) -> list[html.Div]:
    feed_filter = dcc.Dropdown(
        id=ID.STATE_FILTER, options=FEED_STATES, value=FEED_STATES, multi=True, style={"minWidth": "22rem"}
    )
    new_rule = dbc.Button(
        [html.I(className="bi bi-plus-lg me-1", **{"aria-hidden": "true"}), "New rule"],
        id=ID.RULE_NEW,
        size="sm",
        color="info",
        n_clicks=0,
        style=_hidden_unless(is_admin),
    )
    return [
        _panel(
            "Live feed",
            "bi-bell",
            [
                html.Div(feed_filter, className="mb-2"),
                html.Div(id=ID.FEED),
                html.H6([_icon("bi-shield-exclamation"), "Sentinel findings"], className="mt-3 glass-header"),
                html.Div(id=ID.SENTINEL),
                dcc.Store(id=ID.SENTINEL_HASH),
            ],
            ID.FEED_PANEL,
        ),
        _panel(
            "Rules",
            "bi-sliders",
            [html.Div(id=ID.RULES), rule_editor(), rule_result()],
            ID.RULES_PANEL,
            right=new_rule,
        ),
    ]


def _side_panels(is_admin: bool) -> list[html.Div]:
    return [
        _panel("Evaluation", "bi-cpu", html.Div(id=ID.EVAL), ID.EVAL_PANEL),
        _panel(
            "Silences",
            "bi-volume-mute",
            [html.Div(id=ID.SILENCES), html.Div(id=ID.SILENCE_EXPIRE_RESULT)],
            ID.SILENCES_PANEL,
        ),
        _panel(
            "Receivers",
            "bi-broadcast",
            [
                html.Div(id=ID.RECEIVERS),
                html.Div(receiver_form(), style=_hidden_unless(is_admin)),
                html.Div(id=ID.RECEIVER_TOGGLE_RESULT),
                html.Div(id=ID.RECEIVER_TEST_RESULT),
            ],
            ID.RECEIVERS_PANEL,
        ),
        _panel("Deliveries", "bi-send", html.Div(id=ID.DELIVERIES), ID.DELIVERIES_PANEL),
    ]


def layout(subpath: str | None = None, query: str | None = None) -> html.Div:
    from helicarrier.auth.passwords import role_allows
    from helicarrier.auth.web import current_user

    user = current_user()
    is_admin = user is not None and role_allows(user.role, "admin")
    return html.Div(
        [
            html.H1("Alerts", className="page-title"),
            html.Div(id=ID.SUMMARY, className="muted mb-2"),
            dcc.Interval(id=ID.INTERVAL, interval=FEED_REFRESH_MS),
            dcc.Interval(id=ID.SLOW_INTERVAL, interval=SLOW_REFRESH_MS),
            dcc.Store(id=ID.FEED_HASH),
            dcc.Store(id=ID.PANELS_SHOWN),
            dcc.Store(id=ID.CONFIG_SHOWN),
            dcc.Store(id=ID.ACK_TARGET),
            dcc.Store(id=ID.FOCUS, data=focus_from_query(query)),
            *(dcc.Store(id=ID.TICK[name], data=0) for name in TICKS),
            dbc.Row([dbc.Col(_feed_and_rules(is_admin), lg=8), dbc.Col(_side_panels(is_admin), lg=4)]),
            _ack_modal(),
            _silence_modal(),
        ],
        id=ID.PAGE,
    )
