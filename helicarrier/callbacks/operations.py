"""Operations callbacks: read-only views for everyone, token creation for admins."""

from __future__ import annotations

import dash
from dash import Input, Output, State, html, no_update

from helicarrier.auth.tokens import ScopeError
from helicarrier.auth.web import current_user, require_role, role_callback
from helicarrier.context import AppContext
from helicarrier.data.leader import current_holder
from helicarrier.data.queries.tokens import TokenExists


def _rows(pairs: list[tuple[str, object]]) -> html.Table:
    return html.Table(
        [html.Tr([html.Td(k, className="muted pe-3"), html.Td(str(v), className="num")]) for k, v in pairs],
        className="table table-sm table-borderless mb-0",
    )


def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("operations-system", "children"),
        Output("operations-pricing", "children"),
        Output("operations-tokens", "children"),
        Output("operations-users", "children"),
        Input("operations-interval", "n_intervals"),
    )
    def refresh(_n):
        holder = current_holder(ctx.repo.engine)
        system = _rows(
            [
                ("Database", ctx.repo.backend),
                ("Schema revision", ctx.schema.head),
                ("Scheduler leader", holder or "none (no scheduler running)"),
                ("Offline after", f"{ctx.settings.offline_after_s} s"),
                ("Command TTL", f"{ctx.settings.command_ttl_s} s"),
                ("Kill settle time", f"{ctx.settings.kill_settle_s} s"),
            ]
        )
        active = ctx.price_books.active().version
        pricing = html.Ul(
            [
                html.Li(
                    [
                        html.Span(n, className="mono"),
                        html.Span(" active", className="ms-2 status-badge status-running")
                        if n == active
                        else "",
                    ]
                )
                for n in ctx.price_books.names()
            ],
            className="list-unstyled mb-0",
        )
        tokens = html.Table(
            [html.Tr([html.Th(h) for h in ("name", "prefix", "scopes", "last used", "revoked")])]
            + [
                html.Tr(
                    [
                        html.Td(t.name),
                        html.Td(t.prefix, className="mono"),
                        html.Td(",".join(t.scopes)),
                        html.Td(
                            t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never",
                            className="num",
                        ),
                        html.Td("revoked" if t.revoked_at else ""),
                    ]
                )
                for t in ctx.repo.list_tokens()
            ],
            className="table table-sm mb-3",
        )
        users = html.Table(
            [html.Tr([html.Th("user"), html.Th("role")])]
            + [html.Tr([html.Td(u.username), html.Td(u.role)]) for u in ctx.repo.list_users()],
            className="table table-sm mb-0",
        )
        return system, pricing, tokens, users

    @app.callback(Output("operations-token-form", "style"), Input("operations-interval", "n_intervals"))
    def token_form_visibility(_n):
        user = current_user()
        return {} if user is not None and user.role == "admin" else {"display": "none"}

    @role_callback(
        app,
        "admin",
        Output("operations-token-result", "children"),
        Input("operations-token-create", "n_clicks"),
        State("operations-token-name", "value"),
        State("operations-token-scopes", "value"),
        prevent_initial_call=True,
    )
    def create_token(n, name, scopes):
        user = require_role("admin")
        if not n:
            return no_update
        if not name:
            return html.Span("Name the token first.", className="text-warning")
        try:
            value, info = ctx.repo.create_token(name.strip(), scopes or [])
        except (ScopeError, TokenExists) as exc:
            return html.Span(str(exc), className="text-warning")
        ctx.repo.record_audit(
            actor=user.username,
            actor_kind="user",
            role=user.role,
            action="token.create",
            outcome="ok",
            target_kind="token",
            target_id=info.name,
            details={"scopes": list(info.scopes)},
        )
        return html.Div(
            [
                html.Div("Shown only once — copy it now:", className="muted"),
                html.Code(value, id="operations-token-value"),
            ]
        )
