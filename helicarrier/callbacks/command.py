"""Command page callbacks. Every control action is declared with ``role="operator"`` (the server refuses lower
roles with 403 and an audit entry, and the registry checks the role again when it runs); actions go through
``ctx.control`` exactly like the HTTP API, so validation, idempotency and the audit trail are the same
wherever a command comes from."""

from __future__ import annotations

import json
import uuid
from typing import Any

import dash
from dash import Input, Output, State, html, no_update
from dash import ctx as dash_ctx
from flask import has_request_context, request

from helicarrier.actors import Actor
from helicarrier.auth.web import CurrentUser
from helicarrier.callbacks.registry import Callbacks, signed_in_user
from helicarrier.callbacks.unchanged import if_changed
from helicarrier.context import AppContext
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet import grid
from helicarrier.formatting import plural
from helicarrier.layouts.command import (
    HISTORY_LIMIT,
    ID,
    MODE_HELP,
    audit_table,
    history_table,
    kill_matching_question,
    kill_one_question,
    lifecycle,
    terminal_lines,
)
from helicarrier.layouts.feedback import said
from helicarrier.layouts.ledger_csv import records_download

KILLABLE_DEFAULT = ["running"]
TRACK_LIMIT = 20
KILL_OUTPUTS = 8  # kill_flow's outputs
KILLED_TITLE = "killed: Release lets it take work again"

CALLBACKS = Callbacks()


def actor_for(user: CurrentUser) -> Actor:
    return Actor(user.username, "user", user.role, request.remote_addr if has_request_context() else None)


def issue(ctx: AppContext, user: CurrentUser, agent_id: str, body: dict[str, Any], key: str | None):
    """One command through the control service: (command, created, None) or (None, False, refusal text).
    The service audits a refusal, as for the API."""
    try:
        command, created = ctx.control.issue(actor_for(user), agent_id, body, key)
    except Refused as exc:
        return None, False, refusal(agent_id, exc)
    return command, created, None


def refusal(agent_id: str, exc: Refused) -> str:
    return f"{agent_id}: {exc.message} ({exc.status})"


def _cards(ctx: AppContext) -> list[grid.CardModel]:
    return grid.card_models(
        ctx.repo.agents_snapshot(), utcnow(), ctx.settings.offline_after_s, ctx.repo.open_finding_steps()
    )


def matching_agents(ctx: AppContext, statuses, labels) -> list[str]:
    """Agents a "kill all matching" would hit: those in the chosen statuses (default running) and labels."""
    cards = grid.filter_cards(_cards(ctx), statuses or KILLABLE_DEFAULT, labels, None)
    return [c.id for c in grid.sort_cards(cards, "name")]


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [v for v in value if v]


def _line(text: str, tone: str = "ok") -> html.Div:
    return said(text, tone, block=True)


# -- for everyone who may open the page: the command history -------------------------------------------


@CALLBACKS.on(
    Output(ID.HISTORY, "children"),
    Output(ID.HISTORY_SHOWN, "data"),
    Input(ID.INTERVAL, "n_intervals"),
    State(ID.HISTORY_SHOWN, "data"),
)
def history(ctx: AppContext, _n, shown):
    return if_changed(history_table(ctx.repo.commands_list(limit=HISTORY_LIMIT)), shown)


# -- operators: the pickers ----------------------------------------------------------------------------


@CALLBACKS.on(
    Output(ID.INJECT_AGENTS, "options"),
    Output(ID.KILL_AGENT, "options"),
    Output(ID.MODEL_AGENT, "options"),
    Output(ID.KILLALL_LABELS, "options"),
    Input(ID.OPTIONS_INTERVAL, "n_intervals"),
    State(ID.INJECT_AGENTS, "options"),
    State(ID.KILL_AGENT, "options"),
    role="operator",
)
def pickers(ctx: AppContext, _n, current, current_kill):
    cards = grid.sort_cards(_cards(ctx), "name")
    # No live status in the labels (options that change under an open menu would jump about), except in the
    # kill list a killed agent's: it lasts until someone releases it, and the list is where they do.
    options = [{"label": f"{c.name} · {c.id}" if c.name != c.id else c.id, "value": c.id} for c in cards]
    kill_options = [
        {**o, "label": f"{o['label']} (killed)", "title": KILLED_TITLE} if c.status == "killed" else o
        for o, c in zip(options, cards, strict=True)
    ]
    if options == current and kill_options == current_kill:
        return no_update, no_update, no_update, no_update
    return options, kill_options, options, grid.label_options(cards)


@CALLBACKS.on(
    Output(ID.RELEASE, "style"),
    Input(ID.KILL_AGENT, "value"),
    Input(ID.KILL_AGENT, "options"),
    role="operator",
)
def release_shown(_ctx: AppContext, agent, options):
    """Release is offered for a killed agent only (the one action that undoes a kill). The kill list's
    options say which agents are killed (``pickers`` keeps them current), so this asks the database nothing;
    the title is ours, never an agent's name, so no agent can name itself into looking killed."""
    killed = any(o.get("value") == agent and o.get("title") == KILLED_TITLE for o in options or [])
    return None if agent and killed else {"display": "none"}


@CALLBACKS.on(
    Output(ID.RELEASE_RESULT, "children"),
    Input(ID.RELEASE, "n_clicks"),
    State(ID.KILL_AGENT, "value"),
    role="operator",
    prevent_initial_call=True,
)
def release(ctx: AppContext, n, agent):
    if not n or not agent:
        return no_update
    try:
        ctx.control.release(actor_for(signed_in_user()), agent, "released from the Command page")
    except Refused as exc:
        return _line(f"Refused: {refusal(agent, exc)}", "error")
    return _line(f"Released {agent}: it takes new work again.")


PAUSABLE = ("running", "idle", "stalled", "offline")


@CALLBACKS.on(
    Output(ID.PAUSE, "children"),
    Output(ID.PAUSE, "style"),
    Input(ID.KILL_AGENT, "value"),
    Input(ID.OPTIONS_INTERVAL, "n_intervals"),
    Input(ID.PAUSE_RESULT, "children"),
    role="operator",
)
def pause_shown(ctx: AppContext, agent, _n, _result):
    """Pause for an agent that works, Resume for a paused one; nothing for a killed one."""
    status = next((c.status for c in _cards(ctx) if c.id == agent), None) if agent else None
    if status == "paused":
        return "Resume", None
    return "Pause", None if status in PAUSABLE else {"display": "none"}


@CALLBACKS.on(
    Output(ID.PAUSE_RESULT, "children"),
    Input(ID.PAUSE, "n_clicks"),
    State(ID.KILL_AGENT, "value"),
    State(ID.PAUSE, "children"),
    role="operator",
    prevent_initial_call=True,
)
def pause(ctx: AppContext, n, agent, label):
    if not n or not agent:
        return no_update
    kind = "resume" if label == "Resume" else "pause"
    body = {"kind": kind, "reason": f"{kind}d from the Command page"}
    # No key: a second click meets the new control state (409 already_paused), and n_clicks restarts at 1
    # on every visit, so a key made of it would replay an old command.
    _command, _created, error = issue(ctx, signed_in_user(), agent, body, None)
    if error:
        return _line(f"Refused: {error}", "error")
    return _line(
        f"{kind.title()}d {agent}." + (" It stops after its current model call." if kind == "pause" else "")
    )


@CALLBACKS.on(
    Output(ID.KILLALL_COUNT, "children"),
    Input(ID.KILLALL_STATUS, "value"),
    Input(ID.KILLALL_LABELS, "value"),
    Input(ID.OPTIONS_INTERVAL, "n_intervals"),
    role="operator",
)
def killall_count(ctx: AppContext, statuses, labels, _n):
    return f"{plural(len(matching_agents(ctx, statuses, labels)), 'agent')} match"


# -- Jarvis Terminal -------------------------------------------------------------------------------------


def _inject(ctx: AppContext, agents: list[str], task: str, mode: str | None, draft: str):
    """Hand ``task`` to each agent: what went out ("agent (command id)") and the refusals."""
    user = signed_in_user()
    sent, refused = [], []
    for agent_id in agents:
        body = {"kind": "inject", "task": task, "mode": mode or "steer"}
        command, created, error = issue(ctx, user, agent_id, body, f"{draft}:{agent_id}")
        if error:
            refused.append(error)
        else:
            sent.append(f"{agent_id} ({command['id'][:8]}{'' if created else ', already sent'})")
    return sent, refused


def send_warnings(cards: list[grid.CardModel], agents: list[str], mode: str | None) -> list[str]:
    """Why a task for these agents may not be taken soon: an offline agent gets it when it polls again; a
    killed one refuses all but a queued task until it is released."""
    status = {c.id: c.status for c in cards}
    out = []
    for agent in agents:
        if status.get(agent) in ("killed", "killing") and (mode or "steer") != "queue":
            out.append(
                f"{agent} is killed: it refuses this task until released (Queue waits for its next run)."
            )
        elif status.get(agent) == "offline":
            out.append(f"{agent} is offline: it gets the task when it polls again.")
    return out


@CALLBACKS.on(
    Output(ID.INJECT_STATUS, "children"),
    Output(ID.INJECT_INPUT, "value"),
    Output(ID.INJECT_DRAFT, "data"),
    Output(ID.INJECT_WARNED, "data"),
    Input(ID.INJECT_SEND, "n_clicks"),
    Input(ID.INJECT_INPUT, "n_submit"),
    State(ID.INJECT_INPUT, "value"),
    State(ID.INJECT_AGENTS, "value"),
    State(ID.INJECT_MODE, "value"),
    State(ID.INJECT_DRAFT, "data"),
    State(ID.INJECT_WARNED, "data"),
    role="operator",
    prevent_initial_call=True,
)
def send_task(ctx: AppContext, _clicks, _submits, task, agents, mode, draft, warned):
    if not task or not task.strip():
        return no_update, no_update, no_update, no_update
    agents = _as_list(agents)
    if not agents:
        return _line("Pick at least one agent first.", "error"), no_update, no_update, no_update
    # Warned once per (agents, task, mode): pressing Send again sends it as it is.
    signature = [sorted(agents), task, mode]
    warnings = send_warnings(_cards(ctx), agents, mode)
    if warnings and warned != signature:
        lines = [_line(w, "warning") for w in warnings]
        return (
            [*lines, _line("Press Send again to send anyway.", "warning")],
            no_update,
            no_update,
            signature,
        )
    # One key per submission and agent: a double click or a resent request issues one command each.
    sent, refused = _inject(ctx, agents, task, mode, draft or uuid.uuid4().hex)
    lines = [_line("Sent to " + ", ".join(sent))] if sent else []
    lines += [_line(f"Refused: {e}", "error") for e in refused]
    if not sent:  # nothing went out: keep the text to fix it
        return lines, no_update, no_update, None
    return lines, "", uuid.uuid4().hex, None


CALLBACKS.clientside(
    f"""function(mode) {{
        const help = {json.dumps(MODE_HELP)};
        return help[mode] || help.steer;
    }}""",
    Output(ID.INJECT_MODE_HELP, "children"),
    Input(ID.INJECT_MODE, "value"),
)


@CALLBACKS.on(
    Output(ID.INJECT_TRANSCRIPT, "children"),
    Output(ID.INJECT_SIG, "data"),
    Input(ID.OPS_INTERVAL, "n_intervals"),
    Input(ID.INJECT_STATUS, "children"),
    State(ID.INJECT_SIG, "data"),
    role="operator",
)
def transcript(ctx: AppContext, _n, _status, sig):
    commands = ctx.repo.commands_list(kind="inject", limit=30)
    new_sig = [[c["id"], c["state"], c["result_message"]] for c in commands]
    if new_sig == sig:
        return no_update, no_update
    return terminal_lines(commands), new_sig


# -- Tactical Override: kill one, kill all matching ----------------------------------------------------


def _ask(targets: list[str], question: html.Div) -> list:
    # A fresh key per confirmation: a double click on "Confirm" issues one kill per agent.
    return [True, question, targets, uuid.uuid4().hex, "", "", no_update, no_update]


def _refuse_to_ask(text: str) -> list:
    return [*[no_update] * 6, _line(text, "error"), no_update]


def _kill(ctx: AppContext, targets: list[str], key, reason, strength, tracking) -> list:
    """Issue the confirmed kills; the dialog stays open, with the refusals, when none went out."""
    user = signed_in_user()
    body = {"kind": "kill", "reason": reason, "strength": strength or "graceful"}
    issued, refused = [], []
    for agent_id in targets:
        command, _created, error = issue(ctx, user, agent_id, body, f"{key}:{agent_id}" if key else None)
        if error:
            refused.append(error)
        else:
            issued.append(command["id"])
    if not issued:
        errors = html.Div([html.Div(e) for e in refused])
        return [True, no_update, no_update, no_update, errors, no_update, no_update, no_update]
    feedback = [_line(f"Kill sent to {plural(len(issued), 'agent')}.")]
    feedback += [_line(f"Refused: {e}", "error") for e in refused]
    tracked = [cid for cid in (tracking or []) if cid not in issued]
    return [False, no_update, [], None, "", "", feedback, (issued + tracked)[:TRACK_LIMIT]]


@CALLBACKS.on(
    Output(ID.KILL_MODAL, "is_open"),
    Output(ID.KILL_MODAL_TEXT, "children"),
    Output(ID.KILL_TARGETS, "data"),
    Output(ID.KILL_KEY, "data"),
    Output(ID.KILL_MODAL_ERROR, "children"),
    Output(ID.KILL_REASON, "value"),
    Output(ID.KILL_FEEDBACK, "children"),
    Output(ID.KILL_TRACKING, "data"),
    Input(ID.KILL_OPEN, "n_clicks"),
    Input(ID.KILLALL_OPEN, "n_clicks"),
    Input(ID.KILL_CANCEL, "n_clicks"),
    Input(ID.KILL_CONFIRM, "n_clicks"),
    State(ID.KILL_AGENT, "value"),
    State(ID.KILLALL_STATUS, "value"),
    State(ID.KILLALL_LABELS, "value"),
    State(ID.KILL_TARGETS, "data"),
    State(ID.KILL_KEY, "data"),
    State(ID.KILL_REASON, "value"),
    State(ID.KILL_STRENGTH, "value"),
    State(ID.KILL_TRACKING, "data"),
    role="operator",
    prevent_initial_call=True,
)
def kill_flow(
    ctx: AppContext, _o, _a, _c, _k, agent, statuses, labels, targets, key, reason, strength, tracking
):
    """Kill or Kill all opens the confirmation dialog; Confirm issues the kills, Cancel closes it."""
    trigger = dash_ctx.triggered_id
    if trigger == ID.KILL_CANCEL:
        return [False, *[no_update] * (KILL_OUTPUTS - 1)]
    if trigger == ID.KILL_OPEN:
        return _ask([agent], kill_one_question(agent)) if agent else _refuse_to_ask("Pick an agent to kill.")
    if trigger == ID.KILLALL_OPEN:
        matching = matching_agents(ctx, statuses, labels)
        if not matching:
            return _refuse_to_ask("No agent matches this filter.")
        return _ask(matching, kill_matching_question(matching, statuses or KILLABLE_DEFAULT, labels))
    if trigger != ID.KILL_CONFIRM or not targets:
        return [no_update] * KILL_OUTPUTS
    if not (reason or "").strip():  # said in the dialog, before anything is sent
        required = "A reason is required: it goes to the audit log with the kill."
        return [True, no_update, no_update, no_update, required, *[no_update] * 3]
    return _kill(ctx, targets, key, reason, strength, tracking)


@CALLBACKS.on(
    Output(ID.KILL_LIFECYCLE, "children"),
    Output(ID.KILL_LIFECYCLE_SHOWN, "data"),
    Input(ID.OPS_INTERVAL, "n_intervals"),
    Input(ID.KILL_TRACKING, "data"),
    State(ID.KILL_LIFECYCLE_SHOWN, "data"),
    role="operator",
)
def kill_lifecycle(ctx: AppContext, _n, tracking, shown):
    commands = [c for c in (ctx.repo.get_command(cid) for cid in tracking or []) if c]
    return if_changed([lifecycle(c) for c in commands], shown)


# -- model override --------------------------------------------------------------------------------------


@CALLBACKS.on(
    Output(ID.MODEL_RESULT, "children"),
    Output(ID.MODEL_KEY, "data"),
    Input(ID.MODEL_APPLY, "n_clicks"),
    State(ID.MODEL_AGENT, "value"),
    State(ID.MODEL_PROVIDER, "value"),
    State(ID.MODEL_NAME, "value"),
    State(ID.MODEL_REASON, "value"),
    State(ID.MODEL_KEY, "data"),
    role="operator",
    prevent_initial_call=True,
)
def switch_model(ctx: AppContext, _n, agent, provider, model, reason, key):
    if not agent:
        return _line("Pick an agent first.", "error"), no_update
    body = {"kind": "model", "model": model, "reason": reason}
    if provider:
        body["provider"] = provider
    command, created, error = issue(ctx, signed_in_user(), agent, body, f"{key}:{agent}" if key else None)
    if error:
        return _line(error, "error"), no_update
    payload = command["payload"] or {}
    text = f"Sent: {agent} → {payload.get('provider')}/{payload.get('model')} ({command['id'][:8]})"
    return _line(text + ("" if created else ", already sent")), uuid.uuid4().hex


# -- audit -----------------------------------------------------------------------------------------------


def _audit_frame(ctx: AppContext, actor, action, target):
    return ctx.repo.audit_entries(
        actor=actor or None, action=action or None, target_id=(target or "").strip() or None, limit=500
    )


@CALLBACKS.on(
    Output(ID.AUDIT_TABLE, "children"),
    Output(ID.AUDIT_ACTOR, "options"),
    Input(ID.AUDIT_ACTOR, "value"),
    Input(ID.AUDIT_ACTION, "value"),
    Input(ID.AUDIT_AGENT, "value"),
    Input(ID.AUDIT_REFRESH, "n_clicks"),
    Input(ID.OPTIONS_INTERVAL, "n_intervals"),
    State(ID.AUDIT_ACTOR, "options"),
    role="operator",
)
def audit(ctx: AppContext, actor, action, target, _r, _n, actor_options):
    df = _audit_frame(ctx, actor, action, target)
    actors = sorted(set(ctx.repo.audit_entries(limit=2000)["actor"].dropna()))
    return audit_table(df.head(200)), (actors if actors != actor_options else no_update)


@CALLBACKS.on(
    Output(ID.AUDIT_DOWNLOAD, "data"),
    Input(ID.AUDIT_CSV, "n_clicks"),
    State(ID.AUDIT_ACTOR, "value"),
    State(ID.AUDIT_ACTION, "value"),
    State(ID.AUDIT_AGENT, "value"),
    role="operator",
    prevent_initial_call=True,
)
def audit_csv(ctx: AppContext, _n, actor, action, target):
    # Through the one CSV writer: a username typed at the sign-in form (=HYPERLINK(...)) is neutralized.
    return records_download("audit", _audit_frame(ctx, actor, action, target))


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)
