"""Watchtower: the Hero Grid of agents and the System Pulse log tail."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.fleet.grid import SORTS
from helicarrier.fleet.status import STATUSES

GRID_REFRESH_MS = 2000
PULSE_REFRESH_MS = 500
PULSE_BUFFER = 500  # rows kept in the browser: the page never grows without limit
LEVEL_OPTIONS = [{"label": f"{lvl} and above", "value": lvl} for lvl in ("debug", "info", "warning", "error")]


def _grid_panel() -> html.Div:
    filters = html.Div(
        [
            dcc.Input(
                id="watchtower-search",
                type="search",
                placeholder="Search agents…",
                debounce=True,
                className="form-control form-control-sm",
                style={"maxWidth": "14rem"},
            ),
            dcc.Dropdown(
                id="watchtower-status-filter",
                options=[{"label": s.replace("_", " "), "value": s} for s in STATUSES],
                multi=True,
                placeholder="Status",
                style={"minWidth": "12rem"},
            ),
            dcc.Dropdown(
                id="watchtower-label-filter",
                options=[],
                multi=True,
                placeholder="Label",
                style={"minWidth": "12rem"},
            ),
            dcc.Dropdown(
                id="watchtower-sort",
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
                    html.Span(id="watchtower-count", className="muted num"),
                ],
                className="glass-header d-flex justify-content-between",
            ),
            filters,
            html.Div(id="watchtower-grid", className="hero-grid px-3 pb-3", children=[]),
            dcc.Store(id="watchtower-shown"),
            dcc.Store(id="watchtower-heartbeats", data={}),
            dcc.Interval(id="watchtower-interval", interval=GRID_REFRESH_MS),
        ],
        className="glass",
    )


def _pulse_panel() -> html.Div:
    controls = html.Div(
        [
            dcc.Dropdown(
                id="pulse-agent-filter", options=[], placeholder="All agents", style={"minWidth": "10rem"}
            ),
            dcc.Dropdown(
                id="pulse-level-filter",
                options=LEVEL_OPTIONS,
                value="debug",
                clearable=False,
                style={"minWidth": "10rem"},
            ),
            dcc.Input(
                id="pulse-text-filter",
                type="search",
                placeholder="Filter text…",
                debounce=True,
                className="form-control form-control-sm",
                style={"maxWidth": "12rem"},
            ),
            dbc.Button(
                [html.I(className="bi bi-pause-fill me-1", id="pulse-pause-icon"), "Pause"],
                id="pulse-pause",
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
                    html.Span("live", id="pulse-state", className="muted mono"),
                ],
                className="glass-header d-flex justify-content-between",
            ),
            controls,
            html.Div(
                id="pulse-log",
                className="pulse-log mx-3 mb-3",
                children=[],
                role="log",
                **{"aria-live": "polite"},
            ),
            dcc.Store(id="pulse-cursor", data={"seq": None, "n": 0}),
            dcc.Interval(id="pulse-interval", interval=PULSE_REFRESH_MS),
        ],
        className="glass",
    )


def _detail_drawer() -> dbc.Offcanvas:
    return dbc.Offcanvas(
        id="watchtower-detail",
        title="Agent",
        placement="end",
        is_open=False,
        className="hud-drawer",
        style={"width": "32rem"},
        children=html.Div(id="watchtower-detail-body"),
    )


def layout(subpath: str | None = None) -> html.Div:
    return html.Div(
        [
            html.H1("Watchtower", className="page-title"),
            html.Div(id="watchtower-summary", className="muted mb-2"),
            dbc.Row(
                [
                    dbc.Col(_grid_panel(), lg=8, className="mb-3"),
                    dbc.Col(_pulse_panel(), lg=4, className="mb-3"),
                ]
            ),
            _detail_drawer(),
        ],
        id="watchtower-page",
    )
