"""Sign-in for the dashboard, and role checks on every page and every Dash callback, on the server.

- ``/login`` (a plain server-rendered form: it must work before any Dash JavaScript runs) and ``/logout``.
- A gate before every request: pages redirect to ``/login``; Dash callback requests without a user get 401.
- Callbacks that change something are registered with a role (``role_callback``); the gate reads the
  callback's output id from the request and refuses with 403, and an audit entry, when the signed-in user's
  role is too low. Hiding a button is never the only check.
- Failed sign-ins are rate-limited per username and per address, in the database (shared by workers).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

import dash
from flask import (
    Flask,
    Response,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface

from helicarrier.auth.passwords import role_allows

SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDR = 20

# Paths anyone may fetch: the sign-in page, health, static assets, the JSON API (it has bearer tokens).
_PUBLIC_PREFIXES = ("/login", "/healthz", "/assets/", "/_dash-component-suites/", "/api/", "/_favicon.ico")
_CALLBACK_PATH = "/_dash-update-component"


@dataclass(frozen=True)
class CurrentUser:
    username: str
    role: str


class _AutoSecureSessions(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:  # noqa: ARG002 - Flask's signature
        return bool(request and request.is_secure) or bool(app.config.get("SESSION_COOKIE_SECURE"))


def current_user() -> CurrentUser | None:
    if not has_request_context():
        return None
    return getattr(g, "user", None)


def require_role(role: str) -> CurrentUser:
    """For use inside a callback, as a second line of defence behind the gate."""
    user = current_user()
    if user is None or not role_allows(user.role, role):
        raise PermissionError(f"{role} role required")
    return user


def role_callback(app: dash.Dash, role: str, *args, **kwargs):
    """``app.callback`` for a callback that needs at least ``role``; the gate enforces it per request."""
    before = set(app.callback_map)
    # Dash enters the callback in callback_map when app.callback() is called, keyed by its output id: the
    # same string a callback request names in "output".
    decorator = app.callback(*args, **kwargs)
    for key in set(app.callback_map) - before:
        app.server.config.setdefault("HELICARRIER_CALLBACK_ROLES", {})[key] = role
    return decorator


LOGIN_PAGE = """<!doctype html>
<html lang="en" data-bs-theme="dark"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · Helicarrier</title>
<link rel="stylesheet" href="/assets/vendor/bootstrap/bootstrap.min.css">
<link rel="stylesheet" href="/assets/vendor/bootstrap-icons/font/bootstrap-icons.min.css">
<link rel="stylesheet" href="/assets/zz-theme/hud.css"></head>
<body><div class="hud-body"><form class="login-card" method="post" action="/login">
<div class="hud-brand"><i class="bi bi-hexagon-half" aria-hidden="true"></i>Helicarrier</div>
{% if error %}<div class="alert alert-danger py-2" role="alert" id="login-error">{{ error }}</div>{% endif %}
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label class="form-label" for="login-username">Username</label>
<input class="form-control mb-3" id="login-username" name="username" autocomplete="username"
 value="{{ username }}" required autofocus>
<label class="form-label" for="login-password">Password</label>
<input class="form-control mb-4" id="login-password" name="password" type="password"
 autocomplete="current-password" required>
<button class="btn btn-primary" id="login-submit" type="submit">Sign in</button>
</form></div></body></html>"""


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after sign-in is a phishing tool.
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_form(error: str | None = None, username: str = "", status: int = 200) -> Response:
    session.setdefault("csrf", secrets.token_urlsafe(24))
    html = render_template_string(
        LOGIN_PAGE,
        error=error,
        username=username,
        csrf=session["csrf"],
        next=_safe_next(request.values.get("next")),
    )
    return Response(html, status=status, mimetype="text/html")


def install(app: dash.Dash, ctx) -> None:
    server = app.server
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="helicarrier_session",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    server.session_interface = _AutoSecureSessions()
    server.config.setdefault("HELICARRIER_CALLBACK_ROLES", {})
    repo = ctx.repo

    @server.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "GET":
            return _login_form()
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        if not secrets.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
            return _login_form("Your sign-in form expired; please try again.", username, 400)
        addr = request.remote_addr
        by_user, by_addr = repo.recent_login_failures(username, addr, FAILURE_WINDOW)
        if by_user >= MAX_FAILURES_PER_USER or by_addr >= MAX_FAILURES_PER_ADDR:
            repo.record_audit(
                actor=username or "?",
                actor_kind="user",
                action="login",
                outcome="refused",
                reason="rate limited",
                remote_addr=addr,
            )
            return _login_form("Too many failed sign-ins; wait 15 minutes and try again.", username, 429)
        user = repo.check_login(username, password)
        if user is None:
            repo.record_login_failure(username, addr)
            return _login_form("Wrong username or password.", username, 401)
        repo.clear_login_failures(username)
        session.clear()
        session.permanent = True
        session["user"] = user.username
        repo.record_audit(
            actor=user.username,
            actor_kind="user",
            role=user.role,
            action="login",
            outcome="ok",
            remote_addr=addr,
        )
        return redirect(_safe_next(request.form.get("next")))

    @server.route("/logout", methods=["POST", "GET"])
    def logout():
        session.clear()
        return redirect("/login")

    @server.before_request
    def gate():
        path = request.path
        if path.startswith(_PUBLIC_PREFIXES):
            return None
        username = session.get("user")
        info = repo.get_user(username) if username else None
        if info is None or info.disabled:
            session.pop("user", None)
            if path == _CALLBACK_PATH or path.startswith("/_dash"):
                return jsonify(error={"code": "unauthenticated", "message": "sign in first"}), 401
            return redirect(f"/login?next={request.full_path.rstrip('?')}")
        g.user = CurrentUser(info.username, info.role)
        if path == _CALLBACK_PATH and request.method == "POST":
            body = request.get_json(silent=True, cache=True) or {}
            needed = server.config["HELICARRIER_CALLBACK_ROLES"].get(body.get("output"))
            if needed and not role_allows(info.role, needed):
                repo.record_audit(
                    actor=info.username,
                    actor_kind="user",
                    role=info.role,
                    action="callback",
                    target_kind="callback",
                    target_id=str(body.get("output"))[:128],
                    outcome="refused",
                    reason=f"{needed} role required",
                    remote_addr=request.remote_addr,
                )
                return jsonify(error={"code": "forbidden", "message": f"{needed} role required"}), 403
        return None
