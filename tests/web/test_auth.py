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
    with client.session_transaction() as sess:
        token = sess["csrf"]
    client.post("/logout", data={"csrf": token})
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


def _csrf(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def test_failed_sign_ins_slow_that_user_from_that_address_only(app):
    for _ in range(3):  # three quick tries
        assert login(app.server.test_client(), "vera", "wrong-password").status_code == 401
    # Now the next try must wait, from any client of this address...
    limited = login(app.server.test_client(), "vera")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in limited.get_data(as_text=True)
    # ...but not the real user from another address, nor another user from this one.
    elsewhere = app.server.test_client()
    page = elsewhere.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.9"}).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    ok = elsewhere.post(
        "/login",
        data={"username": "vera", "password": PASSWORD, "csrf": token},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert ok.status_code == 302
    assert login(app.server.test_client(), "omar").status_code == 302
    audit = app.server.config["HELICARRIER"].repo.audit_entries(action="login", outcome="refused")
    assert len(audit) == 4 and set(audit["actor"]) == {"vera"}  # 3 wrong passwords, 1 told to wait


def test_parallel_guesses_are_counted_before_the_password_is_checked(app):
    import threading

    results: list[int] = []
    clients = [app.server.test_client() for _ in range(12)]
    forms = [(c, _csrf(c)) for c in clients]
    start = threading.Barrier(len(forms))

    def guess(client, token):
        start.wait()
        resp = client.post("/login", data={"username": "vera", "password": "guess", "csrf": token})
        results.append(resp.status_code)

    threads = [threading.Thread(target=guess, args=f) for f in forms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A handful at most reach the password check; the rest are told to wait.
    assert results.count(401) <= 3 and results.count(429) >= 9


def test_a_login_post_without_a_session_or_csrf_field_is_refused(app):
    client = app.server.test_client()
    resp = client.post("/login", data={"username": "vera", "password": PASSWORD})
    assert resp.status_code == 400
    empty = app.server.test_client().post(
        "/login", data={"username": "vera", "password": PASSWORD, "csrf": ""}
    )
    assert empty.status_code == 400


def test_unknown_and_known_users_take_the_same_work_to_refuse(app, monkeypatch):
    from helicarrier.auth import passwords

    checked = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    assert login(app.server.test_client(), "nobody-here", "whatever").status_code == 401
    assert len(checked) == 1 and checked[0].startswith("scrypt:")  # the dummy hash was checked


def test_sign_out_is_a_post_and_ends_every_session_of_the_user(app):
    laptop, phone = app.server.test_client(), app.server.test_client()
    login(laptop, "vera")
    login(phone, "vera")
    laptop.get("/logout")  # a GET (a link any page could fire) signs nobody out
    assert laptop.get("/").status_code == 200
    with laptop.session_transaction() as sess:
        token = sess["csrf"]
    assert laptop.post("/logout", data={"csrf": "forged"}).status_code == 302
    assert laptop.get("/").status_code == 200  # a forged sign-out does nothing
    assert laptop.post("/logout", data={"csrf": token}).headers["Location"] == "/login"
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302  # the other cookie stopped working too
    assert phone.get("/_dash-layout").status_code == 401


def test_a_password_change_ends_the_users_sessions(app):
    client = app.server.test_client()
    login(client, "vera")
    assert client.get("/").status_code == 200
    app.server.config["HELICARRIER"].repo.set_password("vera", "a-new-long-password")
    assert client.get("/").status_code == 302


def test_a_deactivated_users_cookie_stays_dead_after_reactivation(app):
    """Reactivating a user gives back the account, not the sessions it had: whoever held a cookie then
    (the reason it was deactivated, perhaps) signs in again."""
    repo = app.server.config["HELICARRIER"].repo
    client = app.server.test_client()
    login(client, "vera")
    assert client.get("/").status_code == 200
    # The cookie is not shown while the user is off (a request then would end its session anyway).
    repo.set_user_disabled("vera", True)
    repo.set_user_disabled("vera", False)
    assert client.get("/").status_code == 302
    assert login(app.server.test_client(), "vera").headers["Location"] == "/"


def test_the_real_client_address_is_taken_from_a_trusted_proxy_only(make_app):
    def address_seen(app, forwarded: str) -> str | None:
        client = app.server.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        client.post(
            "/login",
            data={"username": "nobody", "password": "x", "csrf": token},
            headers={"X-Forwarded-For": forwarded},
        )
        entries = app.server.config["HELICARRIER"].repo.audit_entries(action="login")
        return entries["remote_addr"][0]

    assert address_seen(make_app(), "203.0.113.7") == "127.0.0.1"  # not believed by default
    assert address_seen(make_app(trusted_proxies=1), "203.0.113.8") == "203.0.113.8"


def test_the_cookie_is_secure_when_the_public_url_is_https(make_app):
    app = make_app(public_url="https://hc.example.com")
    app.server.config["HELICARRIER"].repo.create_user("ann", PASSWORD, "viewer")
    resp = login(app.server.test_client(), "ann")
    assert "Secure" in resp.headers["Set-Cookie"]


def test_a_json_array_posted_to_the_callback_endpoint_is_a_400(app):
    client = app.server.test_client()
    login(client, "vera")
    resp = client.post("/_dash-update-component", json=[1, 2, 3])
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "malformed_json"


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
