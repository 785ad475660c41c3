"""Watchtower: the Hero Grid of agents and the System Pulse log tail. Cards and the agent drawer are built in
watchtower_cards.py and watchtower_detail.py; the page's ids are in watchtower_ids.py."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.fleet.grid import SORTS
from helicarrier.fleet.status import STATUSES
from helicarrier.layouts.controls import SEARCH_DEBOUNCE_S
from helicarrier.layouts.watchtower_ids import ID

GRID_REFRESH_MS = 2000
LOG_REFRESH_MS = 500
LOG_BUFFER = 500  # rows kept in the browser: the page never grows without limit
LEVEL_OPTIONS = [{"label": f"{lvl} and above", "value": lvl} for lvl in ("debug", "info", "warning", "error")]


def _grid_panel() -> html.Div:
    filters = html.Div(
        [
            dcc.Input(
                id=ID.SEARCH,
                type="search",
                placeholder="Search agents…",
                debounce=SEARCH_DEBOUNCE_S,
                className="form-control form-control-sm",
                style={"maxWidth": "14rem"},
            ),
            dcc.Dropdown(
                id=ID.STATUS_FILTER,
                options=[{"label": s.replace("_", " "), "value": s} for s in STATUSES],
                multi=True,
                placeholder="Status",
                style={"minWidth": "12rem"},
            ),
            dcc.Dropdown(
                id=ID.LABEL_FILTER,
                options=[],
                multi=True,
                placeholder="Label",
                style={"minWidth": "12rem"},
            ),
            dcc.Dropdown(
                id=ID.SORT,
                options=[{"label": v, "value": k} for k, v in SORTS.items()],
                value="name",
                clearable=False,
                style={"minWidth": "10rem"},
            ),
        ],
        className="d-flex flex-wrap gap-2 p-3",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(
                        [html.I(className="bi bi-grid-3x3-gap me-2", **{"aria-hidden": "true"}), "Hero Grid"]
                    ),
                    html.Span(id=ID.COUNT, className="muted num"),
                ],
                className="glass-header d-flex justify-content-between",
            ),
            filters,
            html.Div(id=ID.GRID, className="hero-grid px-3 pb-3", children=[]),
            dcc.Store(id=ID.SHOWN),
            dcc.Store(id=ID.HEARTBEATS, data={}),
            dcc.Interval(id=ID.INTERVAL, interval=GRID_REFRESH_MS),
        ],
        className="glass glass-live",
    )


def _log_panel() -> html.Div:
    controls = html.Div(
        [
            dcc.Dropdown(
                id=ID.LOG_AGENT_FILTER, options=[], placeholder="All agents", style={"minWidth": "10rem"}
            ),
            dcc.Dropdown(
                id=ID.LOG_LEVEL_FILTER,
                options=LEVEL_OPTIONS,
                value="debug",
                clearable=False,
                style={"minWidth": "10rem"},
            ),
            dcc.Input(
                id=ID.LOG_TEXT_FILTER,
                type="search",
                placeholder="Filter text…",
                debounce=SEARCH_DEBOUNCE_S,
                className="form-control form-control-sm",
                style={"maxWidth": "12rem"},
            ),
            dbc.Button(
                [html.I(className="bi bi-pause-fill me-1", id=ID.LOG_PAUSE_ICON), "Pause"],
                id=ID.LOG_PAUSE,
                size="sm",
                color="secondary",
                outline=True,
                n_clicks=0,
            ),
        ],
        className="d-flex flex-wrap gap-2 p-3",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(
                        [html.I(className="bi bi-activity me-2", **{"aria-hidden": "true"}), "System Pulse"]
                    ),
                    html.Span(
                        [
                            html.Span(id=ID.LOG_WAITING, className="me-2 text-warning mono"),
                            html.Span("live", id=ID.LOG_STATE, className="muted mono hud-live-only"),
                            # Shown instead while assets/connection.js finds the page is not updating.
                            html.Span("stale", className="text-warning mono hud-stale-only"),
                        ]
                    ),
                ],
                className="glass-header d-flex justify-content-between",
            ),
            controls,
            html.Div(
                id=ID.LOG,
                className="pulse-log mx-3 mb-3",
                children=[],
                role="log",
                **{"aria-live": "polite"},
            ),
            dcc.Store(id=ID.LOG_CURSOR, data={"seq": None, "n": 0}),
            dcc.Interval(id=ID.LOG_INTERVAL, interval=LOG_REFRESH_MS),
        ],
        className="glass glass-live",
    )


def _detail_drawer() -> dbc.Offcanvas:
    return dbc.Offcanvas(
        id=ID.DETAIL,
        title="Agent",
        placement="end",
        is_open=False,
        className="hud-drawer",
        style={"width": "32rem"},
        children=html.Div(id=ID.DETAIL_BODY),
    )


def layout(subpath: str | None = None, query: str | None = None) -> html.Div:
    return html.Div(
        [
            html.H1("Watchtower", className="page-title"),
            html.Div(id=ID.SUMMARY, className="muted mb-2"),
            dbc.Row(
                [
                    dbc.Col(_grid_panel(), lg=8, className="mb-3"),
                    dbc.Col(_log_panel(), lg=4, className="mb-3"),
                ]
            ),
            _detail_drawer(),
            dcc.Store(id=ID.DETAIL_SHOWN),
        ],
        id=ID.PAGE,
    )
