"""The Dash app factory: the HUD shell, its pages, and the Flask routes beside them."""

from __future__ import annotations

import dash
from dash import html
from flask import jsonify

from helicarrier import callbacks, layouts
from helicarrier.alerts import routes as alert_routes
from helicarrier.analytics import routes as analytics_routes
from helicarrier.api import errors as api_errors
from helicarrier.auth import web as web_auth
from helicarrier.config import PROJECT_ROOT, Settings
from helicarrier.context import AppContext, build_context
from helicarrier.control import routes as control_routes
from helicarrier.ingest import routes as ingest_routes
from helicarrier.layouts.shell import shell_layout
from helicarrier.reports import routes as report_routes
from helicarrier.scheduler.runner import Scheduler, should_start_in_web_process


def create_app(
    settings: Settings | None = None, *, context: AppContext | None = None, start_scheduler: bool = False
) -> dash.Dash:
    """The Dash app. ``start_scheduler``: run background jobs here too (only the elected leader among all
    processes on the database actually runs them); servers pass True, tests and tools leave it off."""
    ctx = context or build_context(settings)
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

    @server.get("/healthz")
    def healthz():
        try:
            ctx.repo.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said in the body
            return jsonify(status="error", database=ctx.repo.backend, error=str(exc).splitlines()[0]), 503
        return jsonify(status="ok", database=ctx.repo.backend, revision=ctx.schema.head)

    web_auth.install(app, ctx)
    api_errors.install(server)
    server.register_blueprint(ingest_routes.bp)
    server.register_blueprint(control_routes.bp)
    server.register_blueprint(report_routes.bp)
    server.register_blueprint(alert_routes.bp)
    server.register_blueprint(analytics_routes.bp)
    callbacks.register_all(app, ctx)
    if start_scheduler and should_start_in_web_process():
        scheduler = Scheduler(ctx)
        scheduler.start()
        server.config["HELICARRIER_SCHEDULER"] = scheduler
    return app
