"""Shell callbacks: the router, the KPI strip and the maintenance banner."""

from __future__ import annotations

import dash
from dash import Input, Output, html

from helicarrier.callbacks.registry import Callbacks
from helicarrier.context import AppContext
from helicarrier.layouts import PAGES, page_for, page_title
from helicarrier.layouts.shell import ID
from helicarrier.money import format_usd

CALLBACKS = Callbacks()


@CALLBACKS.on(
    Output(ID.PAGE, "children"),
    Output(ID.TITLE, "data"),
    *(Output(ID.NAV[p.name], "className") for p in PAGES),
    Input(ID.URL, "pathname"),
    # A link to the same page with other filters re-renders it. A page writing its own state into the URL
    # does so with history.replaceState, which this Location does not hear: no re-render for it.
    Input(ID.URL, "search"),
)
def route(_ctx: AppContext, pathname: str | None, search: str | None = None):
    page, subpath = page_for(pathname)
    classes = ["hud-nav-link active" if p is page else "hud-nav-link" for p in PAGES]
    if page is None:
        body = html.Div(
            [html.H1("Not found", className="page-title"), html.P(f"No page at {pathname}")],
            className="glass p-4",
        )
    else:
        body = page.layout(subpath, search)
    return body, page_title(page, subpath), *classes


# document.title is the one thing a callback cannot output: the browser sets it from the store. Assigning
# it escapes nothing and needs nothing escaped (a title is text, never markup).
CALLBACKS.clientside(
    "function(title) { if (title) { document.title = title; } return window.dash_clientside.no_update; }",
    Output(ID.TITLE, "modified_timestamp"),
    Input(ID.TITLE, "data"),
)


@CALLBACKS.on(
    Output(ID.KPI["agents_online"], "children"),
    Output(ID.KPI["sessions_running"], "children"),
    Output(ID.KPI["spend_today"], "children"),
    Output(ID.KPI["alerts_firing"], "children"),
    Input(ID.KPI_INTERVAL, "n_intervals"),
)
def kpis(ctx: AppContext, _n):
    k = ctx.repo.kpis(ctx.settings.offline_after_s)
    return (
        str(k["agents_online"]),
        str(k["sessions_running"]),
        format_usd(k["spend_today_nanos"]),
        str(k["alerts_firing"]),
    )


@CALLBACKS.on(
    Output(ID.MAINTENANCE, "children"),
    Output(ID.MAINTENANCE, "hidden"),
    Input(ID.KPI_INTERVAL, "n_intervals"),
)
def maintenance_banner(ctx: AppContext, _n):
    state = ctx.maintenance.state()
    if not state.on:
        return "", True
    why = f": {state.reason}" if state.reason else ""
    return f"Maintenance{why}. Ingest is paused; agents keep their events and send them afterwards.", False


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)
