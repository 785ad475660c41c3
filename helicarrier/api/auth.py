"""Bearer-token authentication for the JSON API, with scope checks on every route."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from helicarrier.auth.tokens import has_scope
from helicarrier.ingest.errors import ApiError


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require_scope(scope: str) -> Callable:
    """401 without a live token, 403 when the token lacks ``scope``; the token is put in ``g.token``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = _bearer()
            if token is None:
                raise ApiError(401, "unauthenticated", "missing `Authorization: Bearer <token>` header")
            info = current_app.config["HELICARRIER"].repo.authenticate_token(token)
            if info is None:
                raise ApiError(401, "invalid_token", "the token is unknown or revoked")
            if not has_scope(info.scopes, scope):
                if scope in ("control", "admin"):
                    # A refused attempt to act is itself worth knowing about.
                    current_app.config["HELICARRIER"].repo.record_audit(
                        actor=f"token:{info.name}",
                        actor_kind="token",
                        action=f"api:{request.path}"[:64],
                        outcome="refused",
                        reason=f"token lacks the {scope} scope",
                        remote_addr=request.remote_addr,
                    )
                raise ApiError(
                    403,
                    "insufficient_scope",
                    f"this token lacks the `{scope}` scope",
                    {"needed": scope, "granted": list(info.scopes)},
                )
            g.token = info
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # type: ignore[attr-defined]
        return wrapped

    return decorator
