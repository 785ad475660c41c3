"""Watchtower: the live view of the fleet."""

from __future__ import annotations

from dash import html


def layout() -> html.Div:
    return html.Div(
        [
            html.H1("Watchtower", className="page-title"),
            html.Div(id="watchtower-summary", className="glass p-3"),
        ],
        id="watchtower-page",
    )
