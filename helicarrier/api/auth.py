"""Who may call a route: bearer tokens with scopes for the JSON API, a signed-in user for the HUD's downloads.
The route table calls these before each view; a refusal is a ``Refused`` (401 or 403), and a refused attempt
to act (scopes ``control`` and ``admin``) leaves an audit entry."""

from __future__ import annotations

from flask import g, request

from helicarrier.api.http import app_context
from helicarrier.auth.tokens import has_scope
from helicarrier.errors import Refused


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require_token_scope(scope: str) -> None:
    """401 without a live token, 403 when the token lacks ``scope``; the token is put in ``g.token``."""
    token = _bearer()
    if token is None:
        raise Refused(401, "unauthenticated", "missing `Authorization: Bearer <token>` header")
    repo = app_context().repo
    info = repo.authenticate_token(token)
    if info is None:
        raise Refused(401, "invalid_token", "the token is unknown or revoked")
    if not has_scope(info.scopes, scope):
        if scope in ("control", "admin"):
            # A refused attempt to act is itself worth knowing about.
            repo.record_audit(
                actor=f"token:{info.name}",
                actor_kind="token",
                action=f"api:{request.path}"[:64],
                outcome="refused",
                reason=f"token lacks the {scope} scope",
                remote_addr=request.remote_addr,
            )
        raise Refused(
            403,
            "insufficient_scope",
            f"this token lacks the `{scope}` scope",
            {"needed": scope, "granted": list(info.scopes)},
        )
    g.token = info


def require_user(_scope: str) -> None:
    """A signed-in user (the sign-in gate has already redirected anyone else; this is the second check)."""
    from helicarrier.auth.web import current_user

    if current_user() is None:
        raise Refused(401, "unauthenticated", "sign in first")
