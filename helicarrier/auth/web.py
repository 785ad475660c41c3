"""Sign-in for the dashboard, sessions, role checks on every page and Dash callback, and the headers every
answer carries.

- ``/login`` (a plain server-rendered form: it works before any Dash JavaScript runs) and ``POST /logout``.
- A failed sign-in slows the next one for that username and client address (``auth.throttle``), counted
  atomically in the database before the password is checked, so parallel guesses cannot outrun it. The
  client address is the peer's, or ``X-Forwarded-For``'s when ``HELICARRIER_TRUSTED_PROXIES`` says how many
  proxies in front of the app to believe.
- A session cookie names its user's session generation; sign-out and a password change bump it, so every
  earlier cookie of that user stops working on every instance.
- A gate before every request: pages redirect to ``/login``; Dash callback requests without a user get 401.
  Callbacks that change something are registered with a role (``role_callback``); the gate reads the
  callback's output id from the request and refuses with 403, and an audit entry, when the signed-in user's
  role is too low. Hiding a button is never the only check.
- Every answer carries a Content-Security-Policy the app runs under (Dash's inline scripts by hash, no
  ``unsafe-eval``, ``frame-ancestors 'none'``), ``X-Content-Type-Options`` and ``Referrer-Policy``.
"""

from __future__ import annotations

import secrets
from collections import ChainMap
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
from werkzeug.middleware.proxy_fix import ProxyFix

from helicarrier.api.http import app_context
from helicarrier.auth.callback_body import callback_body_problem
from helicarrier.auth.passwords import role_allows
from helicarrier.auth.throttle import delay_after
from helicarrier.data.types import utcnow

SESSION_LIFETIME = timedelta(hours=12)

# Paths anyone may fetch: the sign-in page, health, static assets, the JSON API (it has bearer tokens), and
# the browser's reports of CSP violations.
_PUBLIC_PREFIXES = (
    "/login",
    "/healthz",
    "/readyz",
    "/assets/",
    "/_dash-component-suites/",
    "/api/",
    "/_favicon.ico",
    "/csp-report",
)
# The Prometheus scrape checks its own bearer token (or is open by setting); exactly this path, no prefix.
_PUBLIC_PATHS = frozenset({"/metrics"})
_CALLBACK_PATH = "/_dash-update-component"


@dataclass(frozen=True)
class CurrentUser:
    username: str
    role: str


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (as a trusted proxy says) or the
    public URL is https."""

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
 value="{{ username }}" required autofocus maxlength="100">
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


def csrf_token() -> str:
    """The session's CSRF token (made on first use): the sign-in and sign-out forms carry it."""
    return session.setdefault("csrf", secrets.token_urlsafe(24))


def _csrf_ok() -> bool:
    sent, kept = request.form.get("csrf") or "", session.get("csrf") or ""
    # Both must be there: a post with no session and no field would otherwise compare "" with "".
    return bool(sent) and bool(kept) and secrets.compare_digest(sent, kept)


def _login_form(error: str | None = None, username: str = "", status: int = 200, headers=None) -> Response:
    html = render_template_string(
        LOGIN_PAGE,
        error=error,
        username=username,
        csrf=csrf_token(),
        next=_safe_next(request.values.get("next")),
    )
    return Response(html, status=status, mimetype="text/html", headers=headers)


def _audit_login(username: str, outcome: str, reason: str | None = None, role: str | None = None) -> None:
    app_context().repo.record_audit(
        actor=(username or "?")[:100],
        actor_kind="user",
        role=role,
        action="login",
        outcome=outcome,
        reason=reason,
        remote_addr=request.remote_addr,
    )


def login_page():
    return _login_form()


def login():
    repo = app_context().repo
    username = (request.form.get("username") or "").strip()[:100]
    password = request.form.get("password") or ""
    if not _csrf_ok():
        return _login_form("Your sign-in form expired; please try again.", username, 400)
    addr = request.remote_addr or "?"
    wait_s = repo.claim_login_try(username, addr, utcnow(), delay_after)
    if wait_s:
        _audit_login(username, "refused", f"too many failed sign-ins: wait {wait_s} s")
        message = f"Too many failed sign-ins; wait {wait_s} seconds and try again."
        return _login_form(message, username, 429, {"Retry-After": str(wait_s)})
    user = repo.check_login(username, password)
    if user is None:
        _audit_login(username, "refused", "wrong username or password")
        return _login_form("Wrong username or password.", username, 401)
    repo.clear_login_tries(username, addr)
    session.clear()
    session.permanent = True
    session["user"] = user.username
    session["generation"] = user.session_generation
    session["csrf"] = secrets.token_urlsafe(24)  # a new token with the new session
    _audit_login(user.username, "ok", role=user.role)
    return redirect(_safe_next(request.form.get("next")))


def logout():
    """Sign out: every session of this user ends (on every instance), not only this browser's."""
    if not _csrf_ok():
        return redirect("/")
    user = current_user()
    if user is not None:
        app_context().repo.end_sessions(user.username)
    session.clear()
    return redirect("/login")


def _callbacks(server: Flask) -> ChainMap:
    """The app's callbacks, and those registered with ``dash.callback`` not yet moved into the app's map."""
    from dash._callback import GLOBAL_CALLBACK_MAP

    return ChainMap(server.config["HELICARRIER_DASH_CALLBACKS"], GLOBAL_CALLBACK_MAP)


def _gate(server: Flask):
    repo = app_context().repo
    path = request.path
    if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
        return None
    username = session.get("user")
    info = repo.get_user(username) if username else None
    if info is None or info.disabled or session.get("generation") != info.session_generation:
        session.pop("user", None)
        if path == _CALLBACK_PATH or path.startswith("/_dash"):
            return jsonify(error={"code": "unauthenticated", "message": "sign in first"}), 401
        return redirect(f"/login?next={request.full_path.rstrip('?')}")
    g.user = CurrentUser(info.username, info.role)
    if path == _CALLBACK_PATH and request.method == "POST":
        body = request.get_json(silent=True, cache=True)
        if not isinstance(body, dict):
            return jsonify(
                error={"code": "malformed_json", "message": "a callback request is a JSON object"}
            ), 400
        output = body.get("output")
        needed = server.config["HELICARRIER_CALLBACK_ROLES"].get(output) if isinstance(output, str) else None
        if needed and not role_allows(info.role, needed):
            repo.record_audit(
                actor=info.username,
                actor_kind="user",
                role=info.role,
                action="callback",
                target_kind="callback",
                target_id=str(output)[:128],
                outcome="refused",
                reason=f"{needed} role required",
                remote_addr=request.remote_addr,
            )
            return jsonify(error={"code": "forbidden", "message": f"{needed} role required"}), 403
        # After the role check: a user without the role learns nothing about the shape it wants.
        problem = callback_body_problem(body, _callbacks(server))
        if problem:
            return jsonify(error={"code": "invalid_callback", "message": problem}), 400
    return None


def content_security_policy(script_hashes: list[str]) -> str:
    """What the pages run under: everything from the app itself, Dash's inline scripts by hash, inline
    styles (Dash and Plotly set style attributes), no eval, no framing, no plugins."""
    scripts = " ".join(["'self'", *script_hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "report-uri /csp-report",
        ]
    )


def install(app: dash.Dash, ctx) -> None:
    server = app.server
    public_https = (ctx.settings.public_url or "").startswith("https://")
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="helicarrier_session",
        SESSION_COOKIE_SECURE=public_https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    server.session_interface = _SessionInterface()
    server.config.setdefault("HELICARRIER_CALLBACK_ROLES", {})
    # The map itself, filled as callbacks are registered (after this call).
    server.config["HELICARRIER_DASH_CALLBACKS"] = app.callback_map
    proxies = ctx.settings.trusted_proxies
    if proxies:
        # Believe X-Forwarded-For/Proto/Host only as far as the proxies we were told about.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    server.before_request(lambda: _gate(server))


def install_headers(app: dash.Dash) -> None:
    """Call last, once every callback (and so every inline script) is registered."""
    policy = content_security_policy(app.csp_hashes())

    @app.server.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", policy)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp
