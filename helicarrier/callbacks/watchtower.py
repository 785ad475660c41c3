"""Watchtower callbacks: thin wiring between the page and helicarrier.fleet / the repository."""

from __future__ import annotations

import uuid

import dash
from dash import ALL, MATCH, Input, Output, Patch, State, html, no_update
from dash import ctx as dash_ctx

from helicarrier.auth.passwords import role_allows
from helicarrier.auth.web import current_user, require_role, role_callback
from helicarrier.context import AppContext
from helicarrier.data.types import utcnow
from helicarrier.fleet import grid
from helicarrier.layouts.cards import agent_card, pulse_row
from helicarrier.layouts.detail import agent_detail
from helicarrier.layouts.watchtower import PULSE_BUFFER

PULSE_BATCH = 200


def _empty_grid() -> html.Div:
    return html.Div("No agents have reported yet.", className="muted p-4", id="watchtower-empty")


def refresh_grid(ctx: AppContext, search, statuses, labels, sort, shown, heartbeats, label_options):
    """Plain function behind the grid callback (benchmarked in bench/hero_grid.py)."""
    now = utcnow()
    cards = grid.card_models(ctx.repo.agents_snapshot(), now, ctx.settings.offline_after_s)
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


def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("watchtower-grid", "children"),
        Output("watchtower-shown", "data"),
        Output("watchtower-heartbeats", "data"),
        Output("watchtower-label-filter", "options"),
        Output("watchtower-count", "children"),
        Input("watchtower-interval", "n_intervals"),
        Input("watchtower-search", "value"),
        Input("watchtower-status-filter", "value"),
        Input("watchtower-label-filter", "value"),
        Input("watchtower-sort", "value"),
        State("watchtower-shown", "data"),
        State("watchtower-heartbeats", "data"),
        State("watchtower-label-filter", "options"),
    )
    def grid_callback(_n, search, statuses, labels, sort, shown, heartbeats, label_options):
        if dash_ctx.triggered_id not in (None, "watchtower-interval"):
            shown = None  # a filter changed: redraw everything
        return refresh_grid(ctx, search, statuses, labels, sort, shown, heartbeats, label_options)

    # The browser ticks runtimes and heartbeat ages itself (assets/hud-clock.js); this hands it the map.
    app.clientside_callback(
        "function(hb) { window.hcHeartbeats = hb || {}; if (window.hcTick) { window.hcTick(); }"
        " return window.dash_clientside.no_update; }",
        Output("watchtower-heartbeats", "modified_timestamp"),
        Input("watchtower-heartbeats", "data"),
    )

    @app.callback(
        Output("watchtower-summary", "children"),
        Input("watchtower-interval", "n_intervals"),
    )
    def summary(_n):
        n = ctx.repo.count_agents()
        return "" if n else "No agents have reported yet."

    @app.callback(
        Output("watchtower-detail", "is_open"),
        Output("watchtower-detail", "title"),
        Output("watchtower-detail-body", "children"),
        Input({"type": "watchtower-card", "agent": ALL}, "n_clicks"),
        State("watchtower-detail", "is_open"),
        State("watchtower-detail", "title"),
        prevent_initial_call=True,
    )
    def open_detail(_clicks, is_open, title):
        # Re-rendered cards also trigger this, all at once and with n_clicks 0 or the count they had: only a
        # real click (one card) opens the drawer, and it does not redraw an open drawer (a kill reason being
        # typed there would be lost).
        triggered = dash_ctx.triggered
        if len(triggered) != 1 or not triggered[0]["value"] or not isinstance(dash_ctx.triggered_id, dict):
            return no_update, no_update, no_update
        agent_id = dash_ctx.triggered_id["agent"]
        detail = ctx.repo.agent_detail(agent_id)
        if is_open and detail is not None and title == detail["agent"]["name"]:
            return no_update, no_update, no_update
        if detail is None:
            return True, agent_id, html.Div("This agent is gone.", className="muted")
        user = current_user()
        operator = user is not None and role_allows(user.role, "operator")
        body = agent_detail(detail, utcnow(), ctx.settings.offline_after_s, can_control=operator)
        return True, detail["agent"]["name"], body

    # The drawer's Kill (operators only; the server refuses the callbacks for viewers).
    @role_callback(
        app,
        "operator",
        Output({"type": "detail-kill-box", "agent": MATCH}, "style"),
        Input({"type": "detail-kill-open", "agent": MATCH}, "n_clicks"),
        prevent_initial_call=True,
    )
    def show_kill_confirmation(n):
        require_role("operator")
        return {"display": "block"} if (n or 0) % 2 == 1 else {"display": "none"}

    @role_callback(
        app,
        "operator",
        Output({"type": "detail-kill-result", "agent": MATCH}, "children"),
        Output({"type": "detail-kill-key", "agent": MATCH}, "data"),
        Input({"type": "detail-kill-confirm", "agent": MATCH}, "n_clicks"),
        State({"type": "detail-kill-reason", "agent": MATCH}, "value"),
        State({"type": "detail-kill-strength", "agent": MATCH}, "value"),
        State({"type": "detail-kill-key", "agent": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def confirm_kill(n, reason, strength, key):
        from helicarrier.callbacks.command import issue

        user = require_role("operator")
        if not n:
            return no_update, no_update
        agent_id = dash_ctx.triggered_id["agent"]
        body = {"kind": "kill", "reason": reason, "strength": strength or "graceful"}
        command, created, error = issue(ctx, user, agent_id, body, key)
        if error:
            return html.Span(error, className="text-danger"), no_update
        note = "" if created else " (already sent)"
        text = f"Kill sent{note}: command {command['id'][:8]} is {command['state']}; the card turns killed "
        return html.Span(text + "when the agent confirms.", className="text-success"), uuid.uuid4().hex

    @app.callback(
        Output("pulse-log", "children"),
        Output("pulse-cursor", "data"),
        Input("pulse-interval", "n_intervals"),
        Input("pulse-agent-filter", "value"),
        Input("pulse-level-filter", "value"),
        Input("pulse-text-filter", "value"),
        State("pulse-pause", "n_clicks"),
        State("pulse-cursor", "data"),
    )
    def pulse(_n, agent_id, level, text, pause_clicks, cursor):
        filters = {"agent_id": agent_id, "min_level": level, "text": text}
        reload = (
            dash_ctx.triggered_id not in (None, "pulse-interval") or not cursor or cursor.get("seq") is None
        )
        if reload:
            rows = ctx.repo.logs_after(None, limit=PULSE_BATCH, **filters)
            seq = rows[-1]["seq"] if rows else ctx.repo.latest_log_seq()
            return [pulse_row(r) for r in reversed(rows)], {"seq": seq, "n": len(rows)}
        if (pause_clicks or 0) % 2 == 1:
            return no_update, no_update
        rows = ctx.repo.logs_after(cursor["seq"], limit=PULSE_BATCH, **filters)
        if not rows:
            return no_update, no_update
        patch = Patch()
        for r in rows:  # oldest first, each prepended: the newest ends on top
            patch.prepend(pulse_row(r))
        n = cursor["n"] + len(rows)
        for _ in range(max(0, n - PULSE_BUFFER)):
            del patch[PULSE_BUFFER]
        return patch, {"seq": rows[-1]["seq"], "n": min(n, PULSE_BUFFER)}

    @app.callback(
        Output("pulse-pause", "children"),
        Output("pulse-state", "children"),
        Input("pulse-pause", "n_clicks"),
    )
    def pause_label(n):
        if (n or 0) % 2 == 1:
            return [html.I(className="bi bi-play-fill me-1"), "Resume"], "paused"
        return [html.I(className="bi bi-pause-fill me-1"), "Pause"], "live"

    @app.callback(Output("pulse-agent-filter", "options"), Input("watchtower-shown", "data"))
    def pulse_agents(_shown):
        return ctx.repo.agent_ids()
