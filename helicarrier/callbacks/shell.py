"""Shell callbacks: the router and the KPI strip."""

from __future__ import annotations

import dash
from dash import Input, Output, html

from helicarrier.context import AppContext
from helicarrier.formatting import format_usd
from helicarrier.layouts import PAGES, page_for


def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("shell-page", "children"),
        *(Output(f"shell-nav-{p.name.lower()}", "className") for p in PAGES),
        Input("shell-url", "pathname"),
    )
    def route(pathname: str | None):
        page, subpath = page_for(pathname)
        classes = ["hud-nav-link active" if p is page else "hud-nav-link" for p in PAGES]
        if page is None:
            body = html.Div(
                [html.H1("Not found", className="page-title"), html.P(f"No page at {pathname}")],
                className="glass p-4",
            )
        else:
            body = page.layout(subpath)
        return body, *classes

    @app.callback(
        Output("shell-kpi-agents_online", "children"),
        Output("shell-kpi-sessions_running", "children"),
        Output("shell-kpi-spend_today", "children"),
        Output("shell-kpi-alerts_firing", "children"),
        Input("shell-kpi-interval", "n_intervals"),
    )
    def kpis(_n):
        k = ctx.repo.kpis(ctx.settings.offline_after_s)
        return (
            str(k["agents_online"]),
            str(k["sessions_running"]),
            format_usd(k["spend_today_nanos"]),
            str(k["alerts_firing"]),
        )
