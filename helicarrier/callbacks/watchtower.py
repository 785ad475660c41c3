"""Watchtower callbacks."""

from __future__ import annotations

import dash
from dash import Input, Output

from helicarrier.context import AppContext


def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(Output("watchtower-summary", "children"), Input("shell-kpi-interval", "n_intervals"))
    def summary(_n):
        n = ctx.repo.count_agents()
        return f"{n} agents known" if n else "No agents have reported yet."
