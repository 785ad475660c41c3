"""Operations: the health of Helicarrier itself — schema, scheduler, price tables, tokens and users."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html


def _panel(title: str, icon: str, body, panel_id: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [html.I(className=f"bi {icon} me-2", **{"aria-hidden": "true"}), title],
                className="glass-header",
            ),
            html.Div(body, id=panel_id, className="p-3"),
        ],
        className="glass mb-3",
    )


def layout(subpath: str | None = None) -> html.Div:
    token_form = html.Div(
        [
            dbc.Input(id="operations-token-name", placeholder="token name", size="sm", className="mb-2"),
            dcc.Checklist(
                id="operations-token-scopes",
                options=["ingest", "read", "control", "admin"],
                value=["ingest"],
                inline=True,
                inputClassName="me-1",
                labelClassName="me-3",
            ),
            dbc.Button("Create token", id="operations-token-create", size="sm", className="mt-2", n_clicks=0),
            html.Div(id="operations-token-result", className="mono mt-2"),
        ],
        id="operations-token-form",
    )
    return html.Div(
        [
            html.H1("Operations", className="page-title"),
            dcc.Interval(id="operations-interval", interval=5000),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            _panel("System", "bi-hdd-stack", [], "operations-system"),
                            _panel("Price tables", "bi-currency-dollar", [], "operations-pricing"),
                        ],
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            _panel(
                                "API tokens",
                                "bi-key",
                                [html.Div(id="operations-tokens"), token_form],
                                "operations-tokens-panel",
                            ),
                            _panel("Users", "bi-people", [], "operations-users"),
                        ],
                        lg=6,
                    ),
                ]
            ),
        ],
        id="operations-page",
    )
