"""Operations: the health of Helicarrier itself — schema, scheduler, price tables, tokens and users."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import dash_bootstrap_components as dbc
from dash import dcc, html

REFRESH_MS = 5000


class ID:
    """The Operations page's component ids."""

    PAGE = "operations-page"
    INTERVAL = "operations-interval"
    SYSTEM = "operations-system"
    PRICING = "operations-pricing"
    TOKENS_PANEL = "operations-tokens-panel"
    TOKENS = "operations-tokens"
    USERS = "operations-users"
    USERS_LIST = "operations-users-list"
    USER_FORM = "operations-user-form"
    USER_NAME = "operations-user-name"
    USER_ROLE = "operations-user-role"
    USER_PASSWORD = "operations-user-password"
    USER_CREATE = "operations-user-create"
    USER_RESULT = "operations-user-result"
    USER_TOGGLE = "operations-user-toggle"  # pattern id: {"type": USER_TOGGLE, "user": username}
    DRIFT = "operations-drift"
    TOKEN_FORM = "operations-token-form"
    TOKEN_NAME = "operations-token-name"
    TOKEN_SCOPES = "operations-token-scopes"
    TOKEN_AGENTS = "operations-token-agents"
    TOKEN_CREATE = "operations-token-create"
    TOKEN_RESULT = "operations-token-result"
    TOKEN_VALUE = "operations-token-value"
    OTLP = "operations-otlp"
    RETENTION = "operations-retention"
    SLO = "operations-slo"


def _panel(title: str, icon: str, body, panel_id: str) -> html.Div:
    return html.Div(
        [
            # Icon and title in one span, as every other page's panels: .glass-header spreads its children
            # apart, and the title ended up on the far right.
            html.Div(
                html.Span([html.I(className=f"bi {icon}", **{"aria-hidden": "true"}), title]),
                className="glass-header",
            ),
            html.Div(body, id=panel_id, className="p-3"),
        ],
        className="glass mb-3",
    )


def layout(subpath: str | None = None, query: str | None = None) -> html.Div:
    token_form = html.Div(
        [
            dbc.Input(id=ID.TOKEN_NAME, placeholder="token name", size="sm", className="mb-2"),
            dcc.Checklist(
                id=ID.TOKEN_SCOPES,
                options=["ingest", "read", "control", "admin"],
                value=["ingest"],
                inline=True,
                inputClassName="me-1",
                labelClassName="me-3",
            ),
            dbc.Input(
                id=ID.TOKEN_AGENTS,
                placeholder="agents it may speak for, e.g. build-*, deploy-7 (empty: any agent nobody owns)",
                size="sm",
                className="mt-2",
            ),
            dbc.Button("Create token", id=ID.TOKEN_CREATE, size="sm", className="mt-2", n_clicks=0),
            html.Div(id=ID.TOKEN_RESULT, className="mono mt-2"),
        ],
        id=ID.TOKEN_FORM,
    )
    return html.Div(
        [
            html.H1("Operations", className="page-title"),
            dcc.Interval(id=ID.INTERVAL, interval=REFRESH_MS),
            dbc.Row(
                [
                    dbc.Col(_panel("Service levels", "bi-speedometer2", [], ID.SLO), lg=12),
                    dbc.Col(
                        [
                            _panel("System", "bi-hdd-stack", [], ID.SYSTEM),
                            _panel("Price tables", "bi-currency-dollar", [], ID.PRICING),
                            _panel("OTLP: received, not mapped", "bi-funnel", [], ID.OTLP),
                            _panel("Usage fields not understood", "bi-question-diamond", [], ID.DRIFT),
                            _panel("Retention", "bi-archive", [], ID.RETENTION),
                        ],
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            _panel(
                                "API tokens", "bi-key", [html.Div(id=ID.TOKENS), token_form], ID.TOKENS_PANEL
                            ),
                            _panel("Users", "bi-people", [html.Div(id=ID.USERS_LIST), user_form()], ID.USERS),
                        ],
                        lg=6,
                    ),
                ]
            ),
        ],
        id=ID.PAGE,
    )


# --- pieces the callbacks render ------------------------------------------------------------------


def facts_table(pairs: Iterable[tuple[str, object]]) -> html.Table:
    return html.Table(
        [html.Tr([html.Td(k, className="muted pe-3"), html.Td(str(v), className="num")]) for k, v in pairs],
        className="table table-sm table-borderless mb-0",
    )


def price_books_list(names: Iterable[str], active: str) -> html.Ul:
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(n, className="mono"),
                    html.Span(" active", className="ms-2 status-badge status-running") if n == active else "",
                ]
            )
            for n in names
        ],
        className="list-unstyled mb-0",
    )


def tokens_table(tokens) -> html.Table:
    return html.Table(
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
            for t in tokens
        ],
        className="table table-sm mb-3",
    )


def admins_only(what: str) -> html.Div:
    """What a viewer or an operator sees in place of an admin's panel (it names no token and no user)."""
    return html.Div(f"{what} are shown to admins only.", className="muted")


def user_form() -> html.Div:
    """Create a user (admins; hidden for the others and refused on the server)."""
    return html.Div(
        [
            html.Div(
                [
                    dbc.Input(id=ID.USER_NAME, placeholder="user name", size="sm", autocomplete="off"),
                    dbc.Select(
                        id=ID.USER_ROLE,
                        options=[{"label": r, "value": r} for r in ("viewer", "operator", "admin")],
                        value="viewer",
                        size="sm",
                        style={"maxWidth": "9rem"},
                    ),
                    dbc.Input(
                        id=ID.USER_PASSWORD,
                        type="password",
                        placeholder="password (8+ characters)",
                        size="sm",
                        autocomplete="new-password",
                    ),
                ],
                className="d-flex gap-2",
            ),
            dbc.Button("Create user", id=ID.USER_CREATE, size="sm", className="mt-2", n_clicks=0),
            html.Div(id=ID.USER_RESULT, className="small mt-2", role="status"),
        ],
        id=ID.USER_FORM,
        className="mt-3",
        style={"display": "none"},
    )


def users_table(users) -> html.Table:
    """Each user, active or not, with the button that changes it."""

    def toggle(u) -> dbc.Button:
        label, color = ("Reactivate", "success") if u.disabled else ("Deactivate", "warning")
        return dbc.Button(
            label,
            id={"type": ID.USER_TOGGLE, "user": u.username},
            size="sm",
            color=color,
            outline=True,
            n_clicks=0,
            className="py-0",
        )

    return html.Table(
        [html.Tr([html.Th("user"), html.Th("role"), html.Th("status"), html.Th("")])]
        + [
            html.Tr(
                [
                    html.Td(u.username),
                    html.Td(u.role),
                    html.Td(
                        "deactivated" if u.disabled else "active", className="muted" if u.disabled else ""
                    ),
                    html.Td(toggle(u), className="text-end"),
                ],
                **{"data-user": u.username},
            )
            for u in users
        ],
        className="table table-sm mb-0",
    )


def token_created(value: str) -> html.Div:
    return html.Div(
        [html.Div("Shown only once — copy it now:", className="muted"), html.Code(value, id=ID.TOKEN_VALUE)]
    )


def otlp_unmapped_table(rows) -> html.Div:
    """What the OTLP receiver could not map, per signal and reason (this process, since it started)."""
    note = html.Div(
        "Counted by this server process since it started; nothing of these items is stored.",
        className="muted small mb-2",
    )
    if not rows:
        return html.Div([note, html.Div("Everything received was mapped.", className="muted")])
    table = html.Table(
        [html.Tr([html.Th(h) for h in ("signal", "reason", "items", "last")])]
        + [
            html.Tr(
                [
                    html.Td(r.signal),
                    html.Td(r.reason, className="mono"),
                    html.Td(f"{r.count:,}", className="num"),
                    html.Td(r.last_seen.strftime("%Y-%m-%d %H:%M:%S"), className="num"),
                ]
            )
            for r in rows
        ],
        className="table table-sm mb-0",
    )
    return html.Div([note, table])


def drift_table(rows) -> html.Div | html.Table:
    """Usage fields the normalizer does not know (provider drift): the calls are stored and priced without
    them, so each may be a billing field that is missed."""
    if not rows:
        return html.Div("None: every usage field received is understood.", className="muted")
    return html.Table(
        [html.Tr([html.Th(h) for h in ("provider", "field", "first seen", "seen", "example")])]
        + [
            html.Tr(
                [
                    html.Td(r["provider"]),
                    html.Td(r["field"], className="mono"),
                    html.Td(r["first_seen_at"].strftime("%Y-%m-%d %H:%M"), className="num"),
                    html.Td(f"{r['seen_count']:,}", className="num"),
                    html.Td(r["example"], className="mono"),
                ]
            )
            for r in rows
        ],
        className="table table-sm mb-0",
    )


RETENTION_LABELS = {
    "usage": "Raw usage events",
    "logs": "Log lines",
    "audit": "Audit entries",
    "alerts": "Resolved alerts",
    "rollups": "Usage rollups (hourly)",
    "event_ids": "Event ids (deduplication)",
}


def _when(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):  # a rollup hour number
        from datetime import UTC, datetime

        value = datetime.fromtimestamp(value * 3600, UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def retention_table(kinds) -> html.Div:
    """What each kind of history holds, how long it is kept and when it was last pruned."""
    header = html.Tr([html.Th(h) for h in ("kind", "keeps", "rows", "oldest", "last pruned")])
    rows = [
        html.Tr(
            [
                html.Td(RETENTION_LABELS.get(k.kind, k.kind)),
                html.Td(f"{k.keep_days} days" if k.keep_days else "for ever"),
                html.Td(f"{k.rows:,}", className="num"),
                html.Td(_when(k.oldest), className="num"),
                html.Td(
                    "never"
                    if k.last_pruned is None
                    else f"{_when(k.last_pruned)} ({k.last_deleted or 0:,} deleted)",
                    className="num",
                ),
            ],
            id=f"{ID.RETENTION}-{k.kind}",
        )
        for k in kinds
    ]
    note = html.Div(
        "Usage older than the raw rows is answered from the hourly rollups: exact to the hour.",
        className="muted mt-2",
    )
    return html.Div([html.Table([header, *rows], className="table table-sm mb-0"), note])


# --- service levels (helicarrier.slo; the same figures as GET /api/v1/slo) ---------------------------------

SLO_WINDOWS = ("1h", "24h", "30d")


def _percent(ratio: str | None, places: int = 3) -> str:
    """ "0.998500" -> "99.850%"; no events -> an en dash."""
    if ratio is None:
        return "–"

    return f"{Decimal(ratio) * 100:.{places}f}%"


def _burn(rate: str | None) -> str:
    return "–" if rate is None else f"{float(rate):.1f}x"


def _alert_badge(slo: dict) -> html.Span | str:
    if not slo["recorded"]:
        return html.Span("not measured yet", className="muted")
    if slo["alert"] is None:
        return html.Span("ok", className="status-badge status-running")
    held = ", ".join(c["name"] for c in slo["conditions"] if c["holds"])
    badge = "status-killed" if slo["alert"] == "page" else "status-stalled"
    return html.Span(f"{slo['alert']}: {held}", className=f"status-badge {badge}")


def service_levels_table(slos: list[dict]) -> html.Table:
    """One row per SLO: target, SLI over 1 h / 24 h / 30 d, 30-day budget left, burn rate over 1 h and 6 h,
    and the burn condition holding (the workbook's page and ticket rules)."""
    head = ["SLO", "target", *(f"SLI {w}" for w in SLO_WINDOWS), "budget left", "burn 1h", "burn 6h", "alert"]
    rows = [
        html.Tr(
            [
                html.Td(html.Span(s["title"], title=s["good_means"])),
                html.Td(f"{s['target_percent']}%", className="num"),
                *(html.Td(_percent(s["windows"][w]["sli"]), className="num") for w in SLO_WINDOWS),
                html.Td(_percent(s["budget_left"], 1), className="num"),
                html.Td(_burn(s["windows"]["1h"]["burn_rate"]), className="num"),
                html.Td(_burn(s["windows"]["6h"]["burn_rate"]), className="num"),
                html.Td(_alert_badge(s)),
            ],
            id=f"{ID.SLO}-{s['name']}",
        )
        for s in slos
    ]
    return html.Table([html.Tr([html.Th(h) for h in head]), *rows], className="table table-sm mb-0")
