"""Ledger: the searchable history of sessions (/ledger) and one session in detail (/ledger/<session id>).
The grid, filters, detail and timeline are built in ledger_*.py; the page's ids are in ledger_ids.py."""

from __future__ import annotations

from urllib.parse import unquote

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.layouts.ledger_detail import detail_layout
from helicarrier.layouts.ledger_filters import filter_bar
from helicarrier.layouts.ledger_grid import sessions_grid
from helicarrier.layouts.ledger_ids import ID

EXPORT_CAP = 100_000  # rows in one CSV download; the UI says so


def list_layout(query: str | None = None) -> html.Div:
    header = html.Div(
        [
            html.Span([html.I(className="bi bi-journal-text", **{"aria-hidden": "true"}), "Sessions"]),
            html.Div(
                [
                    html.Span("…", id=ID.COUNT, className="muted num"),
                    dbc.Button(
                        [html.I(className="bi bi-download me-1", **{"aria-hidden": "true"}), "Download CSV"],
                        id=ID.DOWNLOAD_BUTTON,
                        size="sm",
                        color="primary",
                        outline=True,
                        n_clicks=0,
                        title=f"Sessions matching the filters, in grid order, up to {EXPORT_CAP:,} rows",
                    ),
                ],
                className="d-flex align-items-center gap-3",
            ),
        ],
        className="glass-header",
    )
    return html.Div(
        [
            html.H1("Ledger", className="page-title"),
            html.P(
                "Every session the fleet ran. Filter, search, sort any column; click a row for its detail.",
                className="muted mb-3",
            ),
            html.Div(
                [
                    header,
                    filter_bar(query),
                    html.Div(sessions_grid(), className="px-3"),
                    html.Div(
                        f"CSV downloads hold at most {EXPORT_CAP:,} rows; narrow the filters for more.",
                        id=ID.DOWNLOAD_NOTE,
                        className="muted small px-3 py-2",
                    ),
                ],
                className="glass",
            ),
            dcc.Download(id=ID.DOWNLOAD),
            dcc.Store(id=ID.OPTIONS_LOAD, data=0),
            dcc.Store(id=ID.REFRESH),
            dcc.Store(id=ID.URL_STATE),
            dcc.Location(id=ID.NAV, refresh="callback-nav"),
        ],
        id=ID.PAGE,
    )


def layout(subpath: str | None = None, query: str | None = None) -> html.Div:
    if subpath:
        return detail_layout(unquote(subpath))
    return list_layout(query)


def validation_layouts() -> list[html.Div]:
    return [list_layout(), detail_layout("validation")]
