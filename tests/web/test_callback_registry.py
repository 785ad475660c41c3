"""The callback registry: a page's callbacks are plain module-level functions of (context, values...); the
registry hands them the context, registers role-gated ones with the gate and checks the role again inside."""

from __future__ import annotations

import json

import dash
import pytest
from dash import Input, Output, html, no_update
from flask import g
from plotly.utils import PlotlyJSONEncoder

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
    shown, digest = command.history(ctx, 0, None)
    assert shown.id == COMMAND.HISTORY_EMPTY
    assert command.history(ctx, 1, digest) == (no_update, no_update)  # drawn as it is: not sent again
    assert shell.kpis(ctx, 0) == ("0", "0", "$0.0000", "0")


def test_an_admin_gives_an_agent_to_another_token_from_the_drawer(settings):
    """The drawer shows who reports for the agent; an admin re-assigns it (audited), others may not."""
    from datetime import UTC, datetime

    from dash import ctx as dash_ctx
    from sqlalchemy import insert

    from helicarrier.data.models import Agent
    from helicarrier.layouts.watchtower import ID as WATCHTOWER
    from tests.web.test_page_ids import component_ids

    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    ctx.repo.create_token("host-2", "ingest")
    with ctx.repo.engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(insert(Agent).values(id="atlas-01", name="Atlas", status="idle", updated_at=now))
    detail = ctx.repo.agent_detail("atlas-01")
    from helicarrier.layouts.watchtower_detail import agent_detail

    as_viewer = set(component_ids(agent_detail(detail, datetime.now(UTC), 60)))
    assert WATCHTOWER.DETAIL_OWNER in as_viewer and WATCHTOWER.DETAIL_OWNER_PICK not in as_viewer
    as_admin = set(component_ids(agent_detail(detail, datetime.now(UTC), 60, tokens=["host-2"])))
    assert WATCHTOWER.DETAIL_OWNER_PICK in as_admin

    give = bind_context(watchtower.give_agent, ctx, "admin")
    trigger = {"type": WATCHTOWER.DETAIL_OWNER_SET, "agent": "atlas-01"}
    with app.server.test_request_context():
        g.user = CurrentUser("vera", "viewer")
        with pytest.raises(PermissionError):
            give(1, "host-2")
        g.user = CurrentUser("ada", "admin")
        dash_ctx_patch = pytest.MonkeyPatch()
        dash_ctx_patch.setattr(type(dash_ctx), "triggered_id", property(lambda _self: trigger))
        try:
            give(1, "host-2")
        finally:
            dash_ctx_patch.undo()
    assert ctx.repo.agent_owner("atlas-01")[2] == "host-2"
    assert list(ctx.repo.audit_entries(action="agent.owner")["actor"]) == ["ada"]
    pattern = {"agent": ["MATCH"], "type": WATCHTOWER.DETAIL_OWNER_RESULT}
    output = json.dumps(pattern, separators=(",", ":"), sort_keys=True) + ".children"
    assert app.server.config["HELICARRIER_CALLBACK_ROLES"][output] == "admin"


def test_token_names_and_the_user_list_are_shown_to_admins_only(settings):
    """Operations' tokens and users panels: a viewer and an operator get a note naming neither."""
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    ctx.repo.create_token("ci-runner-secret-name", "ingest")
    ctx.repo.create_user("maria", "correct-horse-battery", "operator")
    refresh = bind_context(operations.refresh, ctx, None)

    def panels(role: str) -> str:
        with app.server.test_request_context():
            g.user = CurrentUser("someone", role)
            _system, _pricing, tokens, users, _drift = refresh(1)
        return json.dumps([tokens, users], cls=PlotlyJSONEncoder)

    for role in ("viewer", "operator"):
        shown = panels(role)
        assert "ci-runner-secret-name" not in shown and "maria" not in shown, role
        assert "admins only" in shown
    shown = panels("admin")
    assert "ci-runner-secret-name" in shown and "maria" in shown
