"""Every refusal answered as JSON ``{"error": {code, message, details}}`` with its status code: a
``Refused`` raised anywhere, Flask's own HTTP errors under /api/, and anything unexpected (500, nothing
stored)."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException

from helicarrier.api.http import json_response
from helicarrier.errors import Refused

log = logging.getLogger("helicarrier.api")


def error_response(err: Refused, headers: dict[str, str] | None = None):
    return json_response(err.body(), err.status, headers or err.headers)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def install(app: Flask) -> None:
    @app.errorhandler(Refused)
    def _refused(err: Refused):
        return error_response(err, err.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _is_api():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(Refused(exc.code or 500, code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.exception("unhandled error on %s", request.path)
        if not _is_api():
            raise exc
        return error_response(Refused(500, "internal_error", "the server failed; nothing was stored"))


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(path: str, fallback: str | None) -> list[str]:
    """The methods some route (not this fallback) answers on ``path``."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint != fallback:
            allowed.append(method)
    return sorted(allowed)


def install_api_fallback(app: Flask) -> None:
    """Unknown paths under /api/ answer a JSON 404, and known paths asked with the wrong method a 405 with
    ``Allow`` (without this, Dash's catch-all page route would answer them with HTML)."""

    @app.route("/api/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api_not_found(unknown: str):
        allowed = _allowed_methods(request.path, request.endpoint)
        if allowed:
            raise Refused(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
                {"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            )
        raise Refused(404, "not_found", f"no API route /api/{unknown}")
