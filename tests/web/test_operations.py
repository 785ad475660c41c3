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


def create_user_request(name, password, role):
    return {
        "output": f"..{ID.USER_RESULT}.children...{ID.USER_PASSWORD}.value..",
        "outputs": [
            {"id": ID.USER_RESULT, "property": "children"},
            {"id": ID.USER_PASSWORD, "property": "value"},
        ],
        "inputs": [{"id": ID.USER_CREATE, "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ID.USER_NAME, "property": "value", "value": name},
            {"id": ID.USER_PASSWORD, "property": "value", "value": password},
            {"id": ID.USER_ROLE, "property": "value", "value": role},
        ],
        "changedPropIds": [f"{ID.USER_CREATE}.n_clicks"],
    }


def can_sign_in(app, username, password=PASSWORD) -> bool:
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": username, "password": password, "csrf": csrf})
    return resp.status_code == 302 and "/login" not in resp.headers.get("Location", "")


def test_only_admins_create_users_and_a_new_user_can_sign_in(app):
    repo = app.server.config["HELICARRIER"].repo
    refused = signed_in(app, "omar").post(
        "/_dash-update-component", json=create_user_request("nina", PASSWORD, "admin")
    )
    assert refused.status_code == 403 and repo.get_user("nina") is None

    admin = signed_in(app, "ada")
    short = admin.post("/_dash-update-component", json=create_user_request("nina", "short", "operator"))
    assert "at least 8 characters" in short.get_data(as_text=True) and repo.get_user("nina") is None
    bad = admin.post("/_dash-update-component", json=create_user_request("<b>x</b>", PASSWORD, "viewer"))
    assert "A user name is letters" in bad.get_data(as_text=True)
    ok = admin.post("/_dash-update-component", json=create_user_request("nina", PASSWORD, "operator"))
    body = ok.get_json()["response"]
    assert "Created operator nina." in str(body[ID.USER_RESULT]) and body[ID.USER_PASSWORD]["value"] == ""
    assert can_sign_in(app, "nina")
    again = admin.post("/_dash-update-component", json=create_user_request("nina", PASSWORD, "viewer"))
    assert "already exists" in again.get_data(as_text=True) and repo.get_user("nina").role == "operator"
    audit = repo.audit_entries(action="user.create")
    assert list(zip(audit["target_id"], audit["outcome"], strict=True))[::-1] == [
        ("nina", "refused"), ("<b>x</b>", "refused"), ("nina", "ok"), ("nina", "refused"),
    ]  # fmt: skip


def test_deactivating_a_user_ends_their_sessions_and_the_last_admin_stays(app):
    from helicarrier.actors import Actor
    from helicarrier.auth import users

    repo = app.server.config["HELICARRIER"].repo
    ada = Actor("ada", "user", "admin")
    omar = signed_in(app, "omar")
    assert omar.get("/command").status_code == 200

    users.set_active(repo, ada, "omar", False)
    assert repo.get_user("omar").disabled and not can_sign_in(app, "omar")
    assert omar.get("/command").status_code == 302  # the open session ended with it
    users.set_active(repo, ada, "omar", True)
    assert can_sign_in(app, "omar")

    with pytest.raises(users.UserAdminError, match="cannot deactivate yourself"):
        users.set_active(repo, ada, "ada", False)
    repo.create_user("zed", PASSWORD, "admin")
    zed = Actor("zed", "user", "admin")
    users.set_active(repo, zed, "ada", False)  # another admin remains: allowed
    with pytest.raises(users.UserAdminError, match="last active admin"):
        users.set_active(repo, Actor("root", "user", "admin"), "zed", False)
    assert not repo.get_user("zed").disabled
    assert list(repo.audit_entries(action="user.deactivate")["outcome"])[:2] == ["refused", "ok"]
