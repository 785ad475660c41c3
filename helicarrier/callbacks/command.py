"""Command page callbacks. Every control action is registered with ``role_callback(app, "operator", ...)``
(the server refuses lower roles with 403 and an audit entry) and checks ``require_role`` again inside;
actions go through ``ctx.control`` exactly like the HTTP API, so validation, idempotency and the audit trail
are the same wherever a command comes from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, html, no_update
from dash import ctx as dash_ctx
from flask import has_request_context, request

from helicarrier.actors import Actor
from helicarrier.auth.web import CurrentUser, require_role, role_callback
from helicarrier.context import AppContext
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused as CommandRefused
from helicarrier.fleet import grid
from helicarrier.layouts.command import (
    HISTORY_LIMIT,
    audit_table,
    history_table,
    lifecycle,
    terminal_lines,
)

KILLABLE_DEFAULT = ["running"]
TRACK_LIMIT = 20


def actor_for(user: CurrentUser) -> Actor:
    return Actor(user.username, "user", user.role, request.remote_addr if has_request_context() else None)


def issue(ctx: AppContext, user: CurrentUser, agent_id: str, body: dict[str, Any], key: str | None):
    """One command through the control service: (command, created, None) or (None, False, refusal text).
    The service audits a refusal, as for the API."""
    try:
        command, created = ctx.control.issue(actor_for(user), agent_id, body, key)
    except CommandRefused as exc:
        return None, False, f"{agent_id}: {exc.message} ({exc.status})"
    return command, created, None


def _cards(ctx: AppContext) -> list[grid.CardModel]:
    return grid.card_models(ctx.repo.agents_snapshot(), utcnow(), ctx.settings.offline_after_s)


def matching_agents(ctx: AppContext, statuses, labels) -> list[str]:
    """Agents a "kill all matching" would hit: those in the chosen statuses (default running) and labels."""
    cards = grid.filter_cards(_cards(ctx), statuses or KILLABLE_DEFAULT, labels, None)
    return [c.id for c in grid.sort_cards(cards, "name")]


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [v for v in value if v]


def _line(text: str, cls: str = "text-success") -> html.Div:
    return html.Div(text, className=cls)


def register(app: dash.Dash, ctx: AppContext) -> None:
    # -- for everyone who may open the page: the command history ---------------------------------------

    @app.callback(
        Output("command-history", "children"),
        Input("command-interval", "n_intervals"),
    )
    def history(_n):
        return history_table(ctx.repo.commands_list(limit=HISTORY_LIMIT))

    # -- operators: the pickers ----------------------------------------------------------------------

    @role_callback(
        app,
        "operator",
        Output("jarvis-agents", "options"),
        Output("kill-agent", "options"),
        Output("model-agent", "options"),
        Output("killall-labels", "options"),
        Input("command-options-interval", "n_intervals"),
        State("jarvis-agents", "options"),
    )
    def pickers(_n, current):
        require_role("operator")
        cards = grid.sort_cards(_cards(ctx), "name")
        # No live status in the labels: options that change under an open menu would jump about.
        options = [{"label": f"{c.name} · {c.id}" if c.name != c.id else c.id, "value": c.id} for c in cards]
        if options == current:
            return no_update, no_update, no_update, no_update
        return options, options, options, grid.label_options(cards)

    @role_callback(
        app,
        "operator",
        Output("killall-count", "children"),
        Input("killall-status", "value"),
        Input("killall-labels", "value"),
        Input("command-options-interval", "n_intervals"),
    )
    def killall_count(statuses, labels, _n):
        require_role("operator")
        n = len(matching_agents(ctx, statuses, labels))
        return f"{n} agent{'s' if n != 1 else ''} match"

    # -- Jarvis Terminal ---------------------------------------------------------------------------

    @role_callback(
        app,
        "operator",
        Output("jarvis-status", "children"),
        Output("jarvis-input", "value"),
        Output("jarvis-draft", "data"),
        Input("jarvis-send", "n_clicks"),
        Input("jarvis-input", "n_submit"),
        State("jarvis-input", "value"),
        State("jarvis-agents", "value"),
        State("jarvis-mode", "value"),
        State("jarvis-draft", "data"),
        prevent_initial_call=True,
    )
    def send_task(_clicks, _submits, task, agents, mode, draft):
        user = require_role("operator")
        if not task or not task.strip():
            return no_update, no_update, no_update
        agents = _as_list(agents)
        if not agents:
            return _line("Pick at least one agent first.", "text-danger"), no_update, no_update
        # One key per submission and agent: a double click or a resent request issues one command each.
        draft = draft or uuid.uuid4().hex
        sent, refused = [], []
        for agent_id in agents:
            command, created, error = issue(
                ctx,
                user,
                agent_id,
                {"kind": "inject", "task": task, "mode": mode or "steer"},
                f"{draft}:{agent_id}",
            )
            if error:
                refused.append(error)
            else:
                sent.append(f"{agent_id} ({command['id'][:8]}{'' if created else ', already sent'})")
        lines = []
        if sent:
            lines.append(_line("Sent to " + ", ".join(sent)))
        lines += [_line(f"Refused: {e}", "text-danger") for e in refused]
        if not sent:  # nothing went out: keep the text to fix it
            return lines, no_update, no_update
        return lines, "", uuid.uuid4().hex

    @role_callback(
        app,
        "operator",
        Output("jarvis-output", "children"),
        Output("jarvis-sig", "data"),
        Input("command-ops-interval", "n_intervals"),
        Input("jarvis-status", "children"),
        State("jarvis-sig", "data"),
    )
    def transcript(_n, _status, sig):
        require_role("operator")
        commands = ctx.repo.commands_list(kind="inject", limit=30)
        new_sig = [[c["id"], c["state"], c["result_message"]] for c in commands]
        if new_sig == sig:
            return no_update, no_update
        return terminal_lines(commands), new_sig

    # -- Tactical Override: kill one, kill all matching ------------------------------------------------

    @role_callback(
        app,
        "operator",
        Output("kill-modal", "is_open"),
        Output("kill-modal-text", "children"),
        Output("kill-targets", "data"),
        Output("kill-key", "data"),
        Output("kill-modal-error", "children"),
        Output("kill-reason", "value"),
        Output("kill-feedback", "children"),
        Output("kill-tracking", "data"),
        Input("kill-open", "n_clicks"),
        Input("killall-open", "n_clicks"),
        Input("kill-cancel", "n_clicks"),
        Input("kill-confirm", "n_clicks"),
        State("kill-agent", "value"),
        State("killall-status", "value"),
        State("killall-labels", "value"),
        State("kill-targets", "data"),
        State("kill-key", "data"),
        State("kill-reason", "value"),
        State("kill-strength", "value"),
        State("kill-tracking", "data"),
        prevent_initial_call=True,
    )
    def kill_flow(_o, _a, _c, _k, agent, statuses, labels, targets, key, reason, strength, tracking):
        user = require_role("operator")
        nothing = [no_update] * 8
        trigger = dash_ctx.triggered_id
        if trigger == "kill-cancel":
            return [False, *nothing[1:]]
        if trigger in ("kill-open", "killall-open"):
            if trigger == "kill-open":
                if not agent:
                    return [*nothing[:6], _line("Pick an agent to kill.", "text-danger"), no_update]
                targets = [agent]
                text = html.Div(
                    ["Kill agent ", html.B(agent, className="mono"), "? Its current session ends killed."],
                    id="kill-modal-count",
                    **{"data-count": "1"},
                )
            else:
                targets = matching_agents(ctx, statuses, labels)
                if not targets:
                    return [*nothing[:6], _line("No agent matches this filter.", "text-danger"), no_update]
                n = len(targets)
                text = html.Div(
                    [
                        html.Div(
                            [
                                "Kill ",
                                html.B(f"{n} agent{'s' if n != 1 else ''}"),
                                f" ({', '.join(statuses or KILLABLE_DEFAULT)}",
                                f"; {', '.join(labels)}" if labels else "",
                                ")?",
                            ]
                        ),
                        html.Div(", ".join(targets), className="mono muted small mt-1"),
                    ],
                    id="kill-modal-count",
                    **{"data-count": str(n)},
                )
            # A fresh key per confirmation: a double click on "Confirm" issues one kill per agent.
            return True, text, targets, uuid.uuid4().hex, "", "", no_update, no_update
        if trigger != "kill-confirm" or not targets:
            return nothing
        body = {"kind": "kill", "reason": reason, "strength": strength or "graceful"}
        issued, refused = [], []
        for agent_id in targets:
            command, _created, error = issue(ctx, user, agent_id, body, f"{key}:{agent_id}" if key else None)
            if error:
                refused.append(error)
            else:
                issued.append(command["id"])
        if not issued:
            return [True, no_update, no_update, no_update, html.Div([html.Div(e) for e in refused])] + [
                no_update
            ] * 3
        feedback = [_line(f"Kill sent to {len(issued)} agent{'s' if len(issued) != 1 else ''}.")]
        feedback += [_line(f"Refused: {e}", "text-danger") for e in refused]
        tracked = [cid for cid in (tracking or []) if cid not in issued]
        return False, no_update, [], None, "", "", feedback, (issued + tracked)[:TRACK_LIMIT]

    @role_callback(
        app,
        "operator",
        Output("kill-lifecycle", "children"),
        Input("command-ops-interval", "n_intervals"),
        Input("kill-tracking", "data"),
    )
    def kill_lifecycle(_n, tracking):
        require_role("operator")
        commands = [c for c in (ctx.repo.get_command(cid) for cid in tracking or []) if c]
        return [lifecycle(c) for c in commands]

    # -- model override ------------------------------------------------------------------------------

    @role_callback(
        app,
        "operator",
        Output("model-result", "children"),
        Output("model-key", "data"),
        Input("model-apply", "n_clicks"),
        State("model-agent", "value"),
        State("model-provider", "value"),
        State("model-name", "value"),
        State("model-reason", "value"),
        State("model-key", "data"),
        prevent_initial_call=True,
    )
    def switch_model(_n, agent, provider, model, reason, key):
        user = require_role("operator")
        if not agent:
            return _line("Pick an agent first.", "text-danger"), no_update
        body = {"kind": "model", "model": model, "reason": reason}
        if provider:
            body["provider"] = provider
        command, created, error = issue(ctx, user, agent, body, f"{key}:{agent}" if key else None)
        if error:
            return _line(error, "text-danger"), no_update
        payload = command["payload"] or {}
        text = f"Sent: {agent} → {payload.get('provider')}/{payload.get('model')} ({command['id'][:8]})"
        return _line(text + ("" if created else ", already sent")), uuid.uuid4().hex

    # -- audit ---------------------------------------------------------------------------------------

    def _audit_frame(actor, action, target):
        return ctx.repo.audit_entries(
            actor=actor or None, action=action or None, target_id=(target or "").strip() or None, limit=500
        )

    @role_callback(
        app,
        "operator",
        Output("audit-table", "children"),
        Output("audit-actor", "options"),
        Input("audit-actor", "value"),
        Input("audit-action", "value"),
        Input("audit-agent", "value"),
        Input("audit-refresh", "n_clicks"),
        Input("command-options-interval", "n_intervals"),
        State("audit-actor", "options"),
    )
    def audit(actor, action, target, _r, _n, actor_options):
        require_role("operator")
        df = _audit_frame(actor, action, target)
        actors = sorted(set(ctx.repo.audit_entries(limit=2000)["actor"].dropna()))
        return audit_table(df.head(200)), (actors if actors != actor_options else no_update)

    @role_callback(
        app,
        "operator",
        Output("audit-download", "data"),
        Input("audit-csv", "n_clicks"),
        State("audit-actor", "value"),
        State("audit-action", "value"),
        State("audit-agent", "value"),
        prevent_initial_call=True,
    )
    def audit_csv(_n, actor, action, target):
        require_role("operator")
        df = _audit_frame(actor, action, target)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return {
            "content": df.to_csv(index=False),
            "filename": f"helicarrier-audit-{stamp}.csv",
            "type": "text/csv",
        }
