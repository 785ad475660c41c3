"""Command page."""

from __future__ import annotations

from dash import html


def layout(subpath: str | None = None) -> html.Div:
    return html.Div([html.H1("Command", className="page-title")], id="command-page")
