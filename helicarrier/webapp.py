"""The Dash app factory: the HUD shell and its pages, and the route table's routes beside them."""

from __future__ import annotations

import gc

import dash
from dash import html

from helicarrier import callbacks, layouts, plotly_json
from helicarrier.api import routes as api_routes
from helicarrier.auth import web as web_auth
from helicarrier.config import PROJECT_ROOT, Settings
from helicarrier.context import AppContext, build_context
from helicarrier.layouts.shell import shell_layout
from helicarrier.observability import web as observed_requests
from helicarrier.scheduler.runner import Scheduler, should_start_in_web_process


def create_app(
    settings: Settings | None = None, *, context: AppContext | None = None, start_scheduler: bool = False
) -> dash.Dash:
    """The Dash app. ``start_scheduler``: run background jobs here too (only the elected leader among all
    processes on the database actually runs them); servers pass True, tests and tools leave it off."""
    ctx = context or build_context(settings)
    plotly_json.install()  # before any callback answers: pandas' first import must not race an answer
    app = dash.Dash(
        __name__,
        title="Helicarrier",
        assets_folder=str(PROJECT_ROOT / "assets"),
        # Every script is served by the app itself: it must work on a closed network.
        serve_locally=True,
        suppress_callback_exceptions=False,
        update_title=None,
    )
    server = app.server
    server.secret_key = ctx.settings.secret_key
    server.config["HELICARRIER"] = ctx
    # A function, so each page load renders for the signed-in user (name, role, what they may do).
    app.layout = shell_layout
    # Pages are swapped in by the router; declaring them all here lets Dash validate every callback id.
    app.validation_layout = html.Div(
        [shell_layout(), *(c for page in layouts.PAGES for c in page.validation_layouts())]
    )

    observed_requests.install(server)  # first: a request id and span for every request, refused ones too
    web_auth.install(app, ctx)
    api_routes.install(server)
    callbacks.register_all(app, ctx)
    web_auth.install_headers(app)  # last: the policy names every inline script by its hash
    if start_scheduler and should_start_in_web_process(ctx.settings):
        scheduler = Scheduler(ctx)
        scheduler.start()
        server.config["HELICARRIER_SCHEDULER"] = scheduler
    return app


def settle_heap() -> None:
    """Once the process's app is built (the production entry ``app.py`` and ``serve``): move every object
    startup made (modules, Dash layouts, SQLAlchemy metadata, ~260k of them) out of the cyclic garbage
    collector's sight (``gc.freeze``). A full collection traversed them all, at random requests: at 1M
    sessions it was the slowest part of the analytics calls' p95, up to 375 ms CPU for one collection on 2
    busy cores; with them frozen a full collection took 19 ms at most (docs/performance.md, issue 17).
    Objects made later are collected as before; the frozen ones are still freed when nothing refers to
    them."""
    gc.collect()
    gc.freeze()
