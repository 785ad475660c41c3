"""Operations page: everyone reads; only admins create tokens, and the server enforces it."""

from __future__ import annotations

import re

import pytest

from helicarrier.layouts.operations import ID
from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"


@pytest.fixture
def app(settings):
    app = create_app(settings)
    repo = app.server.config["HELICARRIER"].repo
    repo.create_user("omar", PASSWORD, "operator")
    repo.create_user("ada", PASSWORD, "admin")
    return app


def signed_in(app, username):
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    return client


def create_token_request(name, agents=None):
    return {
        "output": f"{ID.TOKEN_RESULT}.children",
        "outputs": {"id": ID.TOKEN_RESULT, "property": "children"},
        "inputs": [{"id": ID.TOKEN_CREATE, "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ID.TOKEN_NAME, "property": "value", "value": name},
            {"id": ID.TOKEN_SCOPES, "property": "value", "value": ["ingest"]},
            {"id": ID.TOKEN_AGENTS, "property": "value", "value": agents},
        ],
        "changedPropIds": [f"{ID.TOKEN_CREATE}.n_clicks"],
    }


def test_only_admins_create_tokens(app):
    repo = app.server.config["HELICARRIER"].repo
    operator = signed_in(app, "omar")
    refused = operator.post("/_dash-update-component", json=create_token_request("sneaky"))
    assert refused.status_code == 403
    assert [t.name for t in repo.list_tokens()] == []
    assert list(repo.audit_entries(actor="omar", outcome="refused")["action"]) == ["callback"]

    admin = signed_in(app, "ada")
    ok = admin.post("/_dash-update-component", json=create_token_request("ci-host"))
    assert ok.status_code == 200
    token = re.search(r"hc_[A-Za-z0-9_-]+", ok.get_data(as_text=True)).group(0)
    assert repo.authenticate_token(token).name == "ci-host"
    assert list(repo.audit_entries(action="token.create")["target_id"]) == ["ci-host"]


def test_an_admin_creates_a_token_limited_to_some_agents(app):
    admin = signed_in(app, "ada")
    ok = admin.post("/_dash-update-component", json=create_token_request("builds", "build-*, ci-7"))
    assert ok.status_code == 200
    repo = app.server.config["HELICARRIER"].repo
    assert repo.token_named("builds").agents == ("build-*", "ci-7")
