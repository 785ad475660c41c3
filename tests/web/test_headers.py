"""The headers every answer carries: a Content-Security-Policy the pages run under (Dash's inline scripts by
hash: no unsafe-inline, no unsafe-eval for scripts), no framing, no MIME sniffing, a referrer policy; on
pages, assets, the sign-in form and the API alike."""

from __future__ import annotations

import re

import pytest

from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"


@pytest.fixture
def signed_in(settings):
    app = create_app(settings)
    app.server.config["HELICARRIER"].repo.create_user("ada", PASSWORD, "admin")
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf": csrf})
    return app, client


@pytest.mark.parametrize(
    "path",
    ["/", "/command", "/login", "/assets/zz-theme/hud.css", "/api/v1/openapi.json", "/healthz", "/nope"],
)
def test_every_answer_carries_the_security_headers(signed_in, path):
    _app, client = signed_in
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-eval'" not in script_src and "'unsafe-inline'" not in script_src
    assert re.search(r"'sha256-[A-Za-z0-9+/=]+'", script_src)
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_the_page_inline_scripts_are_exactly_the_hashed_ones(signed_in):
    """Every inline script the index page serves has its hash in the policy (or the browser blocks it)."""
    import base64
    import hashlib

    app, client = signed_in
    page = re.sub(r"<!--.*?-->", "", client.get("/").get_data(as_text=True), flags=re.S)  # IE-only comments
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", page, re.S)
    assert inline
    csp = client.get("/").headers["Content-Security-Policy"]
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, script[:80]
