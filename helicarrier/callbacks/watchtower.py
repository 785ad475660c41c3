"""Watchtower callbacks: thin wiring between the page and helicarrier.fleet / the repository."""

from __future__ import annotations

import uuid

import dash
from dash import ALL, MATCH, Input, Output, Patch, State, html, no_update
from dash import ctx as dash_ctx
from flask import request

from helicarrier.actors import Actor
from helicarrier.auth.passwords import role_allows
from helicarrier.auth.web import current_user
from helicarrier.callbacks.command import issue
from helicarrier.callbacks.registry import Callbacks, signed_in_user
from helicarrier.context import AppContext
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet import grid
from helicarrier.layouts.watchtower import ID, LOG_BUFFER
from helicarrier.layouts.watchtower_cards import agent_card, log_row
from helicarrier.layouts.watchtower_detail import (
    agent_detail,
    controls_hidden,
    detail_head,
    detail_live,
    detail_status,
)

LOG_BATCH = 200

CALLBACKS = Callbacks()


def _empty_grid() -> html.Div:
    return html.Div("No agents have reported yet.", className="muted p-4", id=ID.GRID_EMPTY)


def with_sentinel(ctx: AppContext, detail: dict | None) -> dict | None:
    """The agent's detail with the sentinel's findings on it (the latest few) and its exemption."""
    if detail is None:
        return None
    agent_id = detail["agent"]["id"]
    findings = ctx.repo.list_findings(agent_id=agent_id, limit=5)
    return {**detail, "sentinel": findings, "exemption": ctx.repo.exemption(agent_id)}


def refresh_grid(ctx: AppContext, search, statuses, labels, sort, shown, heartbeats, label_options):
    """Plain function behind the grid callback (benchmarked in bench/hero_grid.py)."""
    now = utcnow()
    cards = grid.card_models(
        ctx.repo.agents_snapshot(), now, ctx.settings.offline_after_s, ctx.repo.open_finding_steps()
    )
    view = grid.sort_cards(grid.filter_cards(cards, statuses, labels, search), sort)
    update = grid.plan_update(shown, view)
    if update.kind == "full":
        grid_out = [agent_card(c) for c in view] if view else [_empty_grid()]
        shown_out = grid.shown_state(view)
    elif update.kind == "patch":
        grid_out = Patch()
        for i in update.changed:
            grid_out[i] = agent_card(view[i])
        shown_out = grid.shown_state(view)
    else:
        grid_out = shown_out = no_update
    changes = grid.heartbeat_changes(heartbeats, cards)
    if changes:
        hb_out = Patch()
        for agent_id, seen in changes.items():
            hb_out[agent_id] = seen
    else:
        hb_out = no_update
    options = grid.label_options(cards)
    known = [o if isinstance(o, str) else o.get("value") for o in label_options or []]
    options_out = options if options != known else no_update
    count = f"{len(view)} of {len(cards)} agents" if len(view) != len(cards) else f"{len(cards)} agents"
    return grid_out, shown_out, hb_out, options_out, count


@CALLBACKS.on(
    Output(ID.GRID, "children"),
    Output(ID.SHOWN, "data"),
    Output(ID.HEARTBEATS, "data"),
    Output(ID.LABEL_FILTER, "options"),
    Output(ID.COUNT, "children"),
    Input(ID.INTERVAL, "n_intervals"),
    Input(ID.SEARCH, "value"),
    Input(ID.STATUS_FILTER, "value"),
    Input(ID.LABEL_FILTER, "value"),
    Input(ID.SORT, "value"),
    State(ID.SHOWN, "data"),
    State(ID.HEARTBEATS, "data"),
    State(ID.LABEL_FILTER, "options"),
)
def agent_grid(ctx: AppContext, _n, search, statuses, labels, sort, shown, heartbeats, label_options):
    if dash_ctx.triggered_id not in (None, ID.INTERVAL):
        shown = None  # a filter changed: redraw everything
    return refresh_grid(ctx, search, statuses, labels, sort, shown, heartbeats, label_options)


# The browser ticks runtimes and heartbeat ages itself (assets/hud-clock.js); this hands it the map.
CALLBACKS.clientside(
    "function(hb) { window.hcHeartbeats = hb || {}; if (window.hcTick) { window.hcTick(); }"
    " return window.dash_clientside.no_update; }",
    Output(ID.HEARTBEATS, "modified_timestamp"),
    Input(ID.HEARTBEATS, "data"),
)


@CALLBACKS.on(Output(ID.SUMMARY, "children"), Input(ID.INTERVAL, "n_intervals"))
def summary(ctx: AppContext, _n):
    return "" if ctx.repo.count_agents() else "No agents have reported yet."


# The drawer opens at once, in the browser, with what the card shows (its name, its status line) and fills in
# when the server answers: under load that answer took 6-17 s, and a click that seems to do nothing is
# clicked again. The same guards as the server's below: one real click, not a redraw of the open agent.
CALLBACKS.clientside(
    """function(_clicks, isOpen, shown) {
        const no = window.dash_clientside.no_update;
        const trig = window.dash_clientside.callback_context.triggered || [];
        if (trig.length !== 1 || !trig[0].value) { return [no, no, no, no]; }
        let agent;
        try {
            agent = JSON.parse(trig[0].prop_id.split(".n_clicks")[0]).agent;
        } catch (e) { return [no, no, no, no]; }
        if (isOpen && shown === agent) { return [no, no, no, no]; }
        const card = document.querySelector('.agent-card[data-agent="' + CSS.escape(String(agent)) + '"]');
        const text = (css) => {
            const el = card && card.querySelector(css);
            return el ? el.textContent : "";
        };
        const status = text(".status-badge");
        const body = {namespace: "dash_html_components", type: "Div", props: {
            className: "muted", children: (status ? status + " · " : "") + "loading the agent…"}};
        return [true, text(".agent-name") || agent, body, null];
    }""",
    Output(ID.DETAIL, "is_open", allow_duplicate=True),
    Output(ID.DETAIL, "title", allow_duplicate=True),
    Output(ID.DETAIL_BODY, "children", allow_duplicate=True),
    Output(ID.DETAIL_SHOWN, "data", allow_duplicate=True),
    Input({"type": ID.CARD, "agent": ALL}, "n_clicks"),
    State(ID.DETAIL, "is_open"),
    State(ID.DETAIL_SHOWN, "data"),
    prevent_initial_call=True,
)


@CALLBACKS.on(
    Output(ID.DETAIL, "is_open"),
    Output(ID.DETAIL, "title"),
    Output(ID.DETAIL_BODY, "children"),
    Output(ID.DETAIL_SHOWN, "data"),
    Input({"type": ID.CARD, "agent": ALL}, "n_clicks"),
    State(ID.DETAIL, "is_open"),
    State(ID.DETAIL_SHOWN, "data"),
    prevent_initial_call=True,
)
def open_detail(ctx: AppContext, _clicks, is_open, shown):
    # Re-rendered cards also trigger this, all at once and with n_clicks 0 or the count they had: only a
    # real click (one card) opens the drawer, and it does not redraw an open drawer (a kill reason being
    # typed there would be lost).
    triggered = dash_ctx.triggered
    if len(triggered) != 1 or not triggered[0]["value"] or not isinstance(dash_ctx.triggered_id, dict):
        return no_update, no_update, no_update, no_update
    agent_id = dash_ctx.triggered_id["agent"]
    if is_open and shown == agent_id:
        return no_update, no_update, no_update, no_update
    detail = with_sentinel(ctx, ctx.repo.agent_detail(agent_id))
    if detail is None:
        return True, agent_id, html.Div("This agent is gone.", className="muted"), agent_id
    user = current_user()
    operator = user is not None and role_allows(user.role, "operator")
    admin = user is not None and role_allows(user.role, "admin")
    tokens = [t.name for t in ctx.repo.list_tokens() if t.revoked_at is None] if admin else None
    body = agent_detail(detail, utcnow(), ctx.settings.offline_after_s, can_control=operator, tokens=tokens)
    return True, detail["agent"]["name"], body, agent_id


@CALLBACKS.on(
    Output({"type": ID.DETAIL_HEAD, "agent": ALL}, "children"),
    Output({"type": ID.DETAIL_CONTROLS, "agent": ALL}, "hidden"),
    Output({"type": ID.DETAIL_LIVE, "agent": ALL}, "children"),
    Input(ID.INTERVAL, "n_intervals"),
    State(ID.DETAIL, "is_open"),
    State({"type": ID.DETAIL_LIVE, "agent": ALL}, "id"),
    prevent_initial_call=True,
)
def follow_detail(ctx: AppContext, _n, is_open, shown):
    """The open drawer follows its agent: after a confirmed kill it says killed and offers no Kill."""
    if not is_open or len(shown or []) != 1:
        return no_update, no_update, no_update
    detail = with_sentinel(ctx, ctx.repo.agent_detail(shown[0]["agent"]))
    if detail is None:
        return no_update, no_update, no_update
    now = utcnow()
    status = detail_status(detail, now, ctx.settings.offline_after_s)
    return [detail_head(detail, status)], [controls_hidden(status)], [detail_live(detail, now)]


@CALLBACKS.on(
    Output({"type": ID.DETAIL_OWNER_RESULT, "agent": MATCH}, "children"),
    Input({"type": ID.DETAIL_OWNER_SET, "agent": MATCH}, "n_clicks"),
    State({"type": ID.DETAIL_OWNER_PICK, "agent": MATCH}, "value"),
    role="admin",
    prevent_initial_call=True,
)
def give_agent(ctx: AppContext, n, token_name):
    """An admin gives the agent to another token (or to the next one that reports for it)."""
    if not n:
        return no_update
    user = signed_in_user()
    actor = Actor(user.username, "user", user.role, request.remote_addr)
    try:
        owner = ctx.fleet.reassign(actor, dash_ctx.triggered_id["agent"], token_name or None)
    except Refused as exc:
        return html.Span(exc.message, className="text-danger")
    return html.Span(
        f"Now reports with {owner}." if owner else "The next token that reports claims it.",
        className="text-success",
    )


# The drawer's Kill (operators only; the server refuses the callbacks for viewers).
@CALLBACKS.on(
    Output({"type": ID.DETAIL_KILL_BOX, "agent": MATCH}, "style"),
    Input({"type": ID.DETAIL_KILL_OPEN, "agent": MATCH}, "n_clicks"),
    role="operator",
    prevent_initial_call=True,
)
def show_kill_confirmation(_ctx: AppContext, n):
    return {"display": "block"} if (n or 0) % 2 == 1 else {"display": "none"}


@CALLBACKS.on(
    Output({"type": ID.DETAIL_KILL_RESULT, "agent": MATCH}, "children"),
    Output({"type": ID.DETAIL_KILL_KEY, "agent": MATCH}, "data"),
    Input({"type": ID.DETAIL_KILL_CONFIRM, "agent": MATCH}, "n_clicks"),
    State({"type": ID.DETAIL_KILL_REASON, "agent": MATCH}, "value"),
    State({"type": ID.DETAIL_KILL_STRENGTH, "agent": MATCH}, "value"),
    State({"type": ID.DETAIL_KILL_KEY, "agent": MATCH}, "data"),
    role="operator",
    prevent_initial_call=True,
)
def confirm_kill(ctx: AppContext, n, reason, strength, key):
    if not n:
        return no_update, no_update
    agent_id = dash_ctx.triggered_id["agent"]
    body = {"kind": "kill", "reason": reason, "strength": strength or "graceful"}
    command, created, error = issue(ctx, signed_in_user(), agent_id, body, key)
    if error:
        return html.Span(error, className="text-danger"), no_update
    note = "" if created else " (already sent)"
    text = f"Kill sent{note}: command {command['id'][:8]} is {command['state']}; the card turns killed "
    return html.Span(text + "when the agent confirms.", className="text-success"), uuid.uuid4().hex


@CALLBACKS.on(
    Output(ID.LOG, "children"),
    Output(ID.LOG_CURSOR, "data"),
    Output(ID.LOG_WAITING, "children"),
    Input(ID.LOG_INTERVAL, "n_intervals"),
    Input(ID.LOG_AGENT_FILTER, "value"),
    Input(ID.LOG_LEVEL_FILTER, "value"),
    Input(ID.LOG_TEXT_FILTER, "value"),
    State(ID.LOG_PAUSE, "n_clicks"),
    State(ID.LOG_CURSOR, "data"),
)
def log_tail(ctx: AppContext, _n, agent_id, level, text, pause_clicks, cursor):
    filters = {"agent_id": agent_id, "min_level": level, "text": text}
    reload = dash_ctx.triggered_id not in (None, ID.LOG_INTERVAL) or not cursor or cursor.get("seq") is None
    if reload:
        rows = ctx.repo.logs_after(None, limit=LOG_BATCH, **filters)
        seq = rows[-1]["seq"] if rows else ctx.repo.latest_log_seq()
        return [log_row(r) for r in reversed(rows)], {"seq": seq, "n": len(rows)}, ""
    rows = ctx.repo.logs_after(cursor["seq"], limit=LOG_BATCH, **filters)
    if (pause_clicks or 0) % 2 == 1:
        # Paused: the tail stands still, and says how much is waiting for it.
        more = "+" if len(rows) == LOG_BATCH else ""
        return no_update, no_update, f"{len(rows)}{more} new" if rows else ""
    if not rows:
        return no_update, no_update, ""
    ctx.slo.pulse_served([r["received_at"] for r in rows], utcnow())
    patch = Patch()
    for r in rows:  # oldest first, each prepended: the newest ends on top
        patch.prepend(log_row(r))
    n = cursor["n"] + len(rows)
    for _ in range(max(0, n - LOG_BUFFER)):
        del patch[LOG_BUFFER]
    return patch, {"seq": rows[-1]["seq"], "n": min(n, LOG_BUFFER)}, ""


@CALLBACKS.on(
    Output(ID.LOG_PAUSE, "children"),
    Output(ID.LOG_STATE, "children"),
    Input(ID.LOG_PAUSE, "n_clicks"),
)
def log_pause_label(_ctx: AppContext, n):
    if (n or 0) % 2 == 1:
        return [html.I(className="bi bi-play-fill me-1"), "Resume"], "paused"
    return [html.I(className="bi bi-pause-fill me-1"), "Pause"], "live"


@CALLBACKS.on(Output(ID.LOG_AGENT_FILTER, "options"), Input(ID.SHOWN, "data"))
def log_agents(ctx: AppContext, _shown):
    return ctx.repo.agent_ids()


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)


# The drawer's sentinel exemption (operators only): one button that exempts the agent or lifts it.
@CALLBACKS.on(
    Output({"type": ID.DETAIL_EXEMPT_RESULT, "agent": MATCH}, "children"),
    Output({"type": ID.DETAIL_EXEMPT, "agent": MATCH}, "children"),
    Input({"type": ID.DETAIL_EXEMPT, "agent": MATCH}, "n_clicks"),
    role="operator",
    prevent_initial_call=True,
)
def toggle_exemption(ctx: AppContext, n):
    if not n:
        return no_update, no_update
    agent_id = dash_ctx.triggered_id["agent"]
    user = signed_in_user()
    actor = Actor(user.username, "user", user.role, request.remote_addr)
    try:
        if ctx.repo.exemption(agent_id):
            ctx.sentinel.unexempt(actor, agent_id)
            return html.Span(
                "The sentinel may act on it again.", className="text-success"
            ), "Exempt from the sentinel"
        ctx.sentinel.exempt(actor, agent_id, "exempted from the agent drawer")
    except Refused as exc:
        return html.Span(exc.message, className="text-danger"), no_update
    return html.Span(
        "Exempt: findings only, no action.", className="text-success"
    ), "Lift the sentinel exemption"
