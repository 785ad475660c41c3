"""Operations callbacks: read-only views for everyone, token creation for admins."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, html, no_update

from helicarrier.actors import Actor
from helicarrier.auth import users
from helicarrier.auth.binding import BindingError
from helicarrier.auth.passwords import role_allows
from helicarrier.auth.tokens import ScopeError
from helicarrier.auth.web import current_user
from helicarrier.callbacks.registry import Callbacks, signed_in_user
from helicarrier.context import AppContext
from helicarrier.data.leader import current_holder
from helicarrier.data.queries.tokens import TokenExists
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.layouts.feedback import said
from helicarrier.layouts.operations import (
    ID,
    admins_only,
    drift_table,
    facts_table,
    otlp_unmapped_table,
    price_books_list,
    retention_table,
    service_levels_table,
    token_created,
    tokens_table,
    users_table,
)
from helicarrier.retention.service import status as retention_status
from helicarrier.slo.service import report_json

CALLBACKS = Callbacks()


def system_facts(ctx: AppContext) -> list[tuple[str, object]]:
    holder = current_holder(ctx.repo.engine)
    return [
        ("Database", ctx.repo.backend),
        ("Schema revision", ctx.schema.head),
        ("Scheduler leader", holder or "none (no scheduler running)"),
        ("Offline after", f"{ctx.settings.offline_after_s} s"),
        ("Command TTL", f"{ctx.settings.command_ttl_s} s"),
        ("Kill settle time", f"{ctx.settings.kill_settle_s} s"),
    ]


@CALLBACKS.on(
    Output(ID.SYSTEM, "children"),
    Output(ID.PRICING, "children"),
    Output(ID.TOKENS, "children"),
    Output(ID.USERS_LIST, "children"),
    Output(ID.DRIFT, "children"),
    Input(ID.INTERVAL, "n_intervals"),
    Input(ID.USER_RESULT, "children"),
)
def refresh(ctx: AppContext, _n, _user_change=None):
    # Token names, prefixes and scopes, and who the users are, are an admin's business: decided here, on
    # the server, at every refresh (a viewer saw them all).
    user = current_user()
    admin = user is not None and role_allows(user.role, "admin")
    return (
        facts_table(system_facts(ctx)),
        price_books_list(ctx.price_books.names(), ctx.price_books.active().version),
        tokens_table(ctx.repo.list_tokens()) if admin else admins_only("API tokens"),
        users_table(ctx.repo.list_users()) if admin else admins_only("Users"),
        drift_table(ctx.repo.usage_drift()),
    )


@CALLBACKS.on(Output(ID.RETENTION, "children"), Input(ID.INTERVAL, "n_intervals"))
def retention(ctx: AppContext, _n):
    return retention_table(retention_status(ctx.repo, ctx.settings.retention_days))


@CALLBACKS.on(Output(ID.SLO, "children"), Input(ID.INTERVAL, "n_intervals"))
def service_levels(ctx: AppContext, _n):
    return service_levels_table([report_json(r) for r in ctx.slo.report(utcnow())])


@CALLBACKS.on(Output(ID.OTLP, "children"), Input(ID.INTERVAL, "n_intervals"))
def otlp_unmapped(ctx: AppContext, _n):
    return otlp_unmapped_table(ctx.otlp.unmapped.snapshot())


@CALLBACKS.on(
    Output(ID.TOKEN_FORM, "style"), Output(ID.USER_FORM, "style"), Input(ID.INTERVAL, "n_intervals")
)
def token_form_visibility(_ctx: AppContext, _n):
    user = current_user()
    style = {} if user is not None and user.role == "admin" else {"display": "none"}
    return style, style


def _actor() -> Actor:
    user = signed_in_user()
    return Actor(user.username, "user", user.role)


def _said(text: str, ok: bool) -> html.Span:
    return said(text, "ok" if ok else "warning")


@CALLBACKS.on(
    Output(ID.USER_RESULT, "children"),
    Output(ID.USER_PASSWORD, "value"),
    Input(ID.USER_CREATE, "n_clicks"),
    State(ID.USER_NAME, "value"),
    State(ID.USER_PASSWORD, "value"),
    State(ID.USER_ROLE, "value"),
    role="admin",
    prevent_initial_call=True,
)
def create_user(ctx: AppContext, n, name, password, role):
    if not n:
        return no_update, no_update
    try:
        ctx.repo.write_gate()
        info = users.create_user(ctx.repo, _actor(), name, password, role)
    except Refused as exc:
        return _said(exc.message, False), no_update
    except users.UserAdminError as exc:
        return _said(str(exc), False), no_update
    return _said(f"Created {info.role} {info.username}.", True), ""  # the password is not kept in the page


@CALLBACKS.on(
    Output(ID.USER_RESULT, "children", allow_duplicate=True),
    Input({"type": ID.USER_TOGGLE, "user": ALL}, "n_clicks"),
    role="admin",
    prevent_initial_call=True,
)
def toggle_user(ctx: AppContext, clicks):
    trigger = dash.callback_context.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update
    username = str(trigger.get("user"))
    current = ctx.repo.get_user(username)
    activate = bool(current and current.disabled)
    try:
        ctx.repo.write_gate()
        users.set_active(ctx.repo, _actor(), username, activate)
    except Refused as exc:
        return _said(exc.message, False)
    except users.UserAdminError as exc:
        return _said(str(exc), False)
    return _said(f"{'Reactivated' if activate else 'Deactivated'} {username}.", True)


@CALLBACKS.on(
    Output(ID.TOKEN_RESULT, "children"),
    Input(ID.TOKEN_CREATE, "n_clicks"),
    State(ID.TOKEN_NAME, "value"),
    State(ID.TOKEN_SCOPES, "value"),
    State(ID.TOKEN_AGENTS, "value"),
    role="admin",
    prevent_initial_call=True,
)
def create_token(ctx: AppContext, n, name, scopes, agents=None):
    if not n:
        return no_update
    if not name:
        return html.Span("Name the token first.", className="text-warning")
    try:
        ctx.repo.write_gate()
        value, info = ctx.repo.create_token(name.strip(), scopes or [], agents or None)
    except Refused as exc:
        return html.Span(exc.message, className="text-warning")
    except (ScopeError, TokenExists, BindingError) as exc:
        return html.Span(str(exc), className="text-warning")
    user = signed_in_user()
    ctx.repo.record_audit(
        actor=user.username,
        actor_kind="user",
        role=user.role,
        action="token.create",
        outcome="ok",
        target_kind="token",
        target_id=info.name,
        details={"scopes": list(info.scopes), "agents": list(info.agents or ())},
    )
    return token_created(value)


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)
