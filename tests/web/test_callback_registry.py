"""The callback registry: a page's callbacks are plain module-level functions of (context, values...); the
registry hands them the context, registers role-gated ones with the gate and checks the role again inside."""

from __future__ import annotations

import dash
import pytest
from dash import Input, Output, html
from flask import g

from helicarrier.auth.web import CurrentUser
from helicarrier.callbacks import alerts, command, intelligence, ledger, operations, shell, watchtower
from helicarrier.callbacks.registry import Callbacks, bind_context
from helicarrier.layouts.command import ID as COMMAND
from helicarrier.webapp import create_app


def test_a_role_is_enforced_by_the_gate_and_checked_again_when_the_callback_runs():
    app = dash.Dash(__name__)
    app.layout = html.Div([html.Button(id="button"), html.Div(id="out"), html.Div(id="echo")])
    callbacks = Callbacks()
    calls = []

    @callbacks.on(Output("out", "children"), Input("button", "n_clicks"), role="operator")
    def act(ctx, n):
        calls.append((ctx, n))
        return "done"

    @callbacks.on(Output("echo", "children"), Input("button", "n_clicks"))
    def echo(_ctx, n):
        return n

    callbacks.register(app, "the context")
    assert set(app.callback_map) == {"out.children", "echo.children"}
    assert app.server.config["HELICARRIER_CALLBACK_ROLES"] == {"out.children": "operator"}

    assert act("a test's context", 1) == "done"  # declared functions stay plain: tests call them directly
    bound = bind_context(act, "the context", "operator")
    assert bound.__name__ == "act"
    with app.server.test_request_context():
        g.user = CurrentUser("vera", "viewer")
        with pytest.raises(PermissionError):
            bound(2)
        g.user = CurrentUser("omar", "operator")
        assert bound(3) == "done"
    assert calls == [("a test's context", 1), ("the context", 3)]


def test_every_page_registers_its_callbacks_through_the_registry():
    for module in (shell, watchtower, command, ledger, intelligence, alerts, operations):
        assert isinstance(module.CALLBACKS, Callbacks), module.__name__


def test_a_callback_called_directly_with_the_apps_context(settings):
    ctx = create_app(settings).server.config["HELICARRIER"]
    assert command.history(ctx, 0).id == COMMAND.HISTORY_EMPTY
    assert shell.kpis(ctx, 0) == ("0", "0", "$0.0000", "0")
