"""Intelligence page."""

from __future__ import annotations

from dash import html


def layout(subpath: str | None = None) -> html.Div:
    return html.Div([html.H1("Intelligence", className="page-title")], id="intelligence-page")
