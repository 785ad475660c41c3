"""Sign-in, the gate in front of every page and callback, role checks on the server, rate limiting."""

from __future__ import annotations

import re

import pytest
from dash import Input, Output, html

from helicarrier.auth.web import role_callback
from helicarrier.layouts.shell import ID
from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"


@pytest.fixture
def app(settings):
    app = create_app(settings)
    repo = app.server.config["HELICARRIER"].repo
    repo.create_user("vera", PASSWORD, "viewer")
    repo.create_user("omar", PASSWORD, "operator")
    return app


def login(client, username, password=PASSWORD, next_="/"):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf": csrf, "next": next_}
    )


def test_pages_and_callbacks_need_a_signed_in_user(app):
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert client.get("/_dash-layout").status_code == 401
    cb = client.post("/_dash-update-component", json={"output": f"{ID.PAGE}.children", "inputs": []})
    assert cb.status_code == 401 and cb.get_json()["error"]["code"] == "unauthenticated"
    # What must stay reachable without a session.
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/assets/zz-theme/hud.css").status_code == 200


def test_sign_in_sets_a_hardened_cookie_and_opens_pages(app):
    client = app.server.test_client()
    resp = login(client, "vera")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")
    assert client.get("/").status_code == 302


def test_cookie_is_secure_over_https(app):
    client = app.server.test_client()
    page = client.get("/login", base_url="https://hc.example").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    resp = client.post(
        "/login", base_url="https://hc.example", data={"username": "vera", "password": PASSWORD, "csrf": csrf}
    )
    assert "Secure" in resp.headers["Set-Cookie"]


def test_next_parameter_cannot_redirect_off_site(app):
    client = app.server.test_client()
    assert login(client, "vera", next_="https://evil.example/").headers["Location"] == "/"
    client2 = app.server.test_client()
    assert login(client2, "vera", next_="//evil.example").headers["Location"] == "/"


def test_user_input_on_the_login_page_is_escaped(app):
    client = app.server.test_client()
    resp = login(client, "<script>alert(1)</script>", "nope")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_failed_sign_ins_are_rate_limited_across_clients(app):
    for _ in range(5):
        assert login(app.server.test_client(), "vera", "wrong-password").status_code == 401
    # Even the right password is refused now, from a fresh client (another worker would see the same).
    limited = login(app.server.test_client(), "vera")
    assert limited.status_code == 429 and "Too many failed sign-ins" in limited.get_data(as_text=True)
    audit = app.server.config["HELICARRIER"].repo.audit_entries(action="login", outcome="refused")
    assert len(audit) == 1


def test_forged_operator_callback_from_a_viewer_is_refused_and_audited(settings):
    app = create_app(settings)
    repo = app.server.config["HELICARRIER"].repo
    repo.create_user("vera", PASSWORD, "viewer")
    repo.create_user("omar", PASSWORD, "operator")
    fired = []
    app.validation_layout.children.append(html.Div([html.Button(id="t-btn"), html.Div(id="t-out")]))

    @role_callback(
        app, "operator", Output("t-out", "children"), Input("t-btn", "n_clicks"), prevent_initial_call=True
    )
    def act(n):
        fired.append(n)
        return "done"

    payload = {
        "output": "t-out.children",
        "outputs": {"id": "t-out", "property": "children"},
        "inputs": [{"id": "t-btn", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["t-btn.n_clicks"],
    }
    viewer = app.server.test_client()
    login(viewer, "vera")
    refused = viewer.post("/_dash-update-component", json=payload)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert fired == []
    entries = repo.audit_entries(actor="vera", outcome="refused")
    assert list(entries["action"]) == ["callback"] and entries["target_id"][0] == "t-out.children"

    operator = app.server.test_client()
    login(operator, "omar")
    assert operator.post("/_dash-update-component", json=payload).status_code == 200
    assert fired == [1]
