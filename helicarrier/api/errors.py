"""Every refusal answered as JSON ``{"error": {code, message, details}}`` with its status code: a
``Refused`` raised anywhere, Flask's own HTTP errors under /api/, and anything unexpected (500, nothing
stored)."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from helicarrier.api.http import json_response
from helicarrier.api.views import otlp
from helicarrier.data.engine import DatabaseBusy
from helicarrier.errors import Refused
from helicarrier.health import RETRY_AFTER_S
from helicarrier.observability import tracing

log = logging.getLogger("helicarrier.api")


def error_response(err: Refused, headers: dict[str, str] | None = None):
    if otlp.is_otlp_request():  # OTLP/HTTP exporters expect a google.rpc.Status body
        return otlp.status_response(err, headers)
    return json_response(err.body(), err.status, headers or err.headers)


# Where the app config keeps the documented paths outside /api/ that answer errors in JSON too.
_JSON_PATHS = "HELICARRIER_JSON_PATHS"


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path in current_app.config.get(_JSON_PATHS, ())


def install(app: Flask, json_paths: frozenset[str] = frozenset()) -> None:
    """JSON errors under /api/ and on ``json_paths`` (documented routes outside it: ``/metrics``)."""
    app.config[_JSON_PATHS] = json_paths

    @app.errorhandler(Refused)
    def _refused(err: Refused):
        return error_response(err, err.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _is_api():
            return exc
        if exc.code == 405:  # outside /api/ the fallback below does not answer: Werkzeug's own 405
            return error_response(_method_not_allowed(_allowed_methods(request.path, None)))
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(Refused(exc.code or 500, code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        if database_unavailable(exc):
            return _unavailable(exc)
        log.exception("unhandled error on %s", request.path)
        tracing.record_error(exc)
        if not _is_api():
            raise exc
        return error_response(Refused(500, "internal_error", "the server failed; nothing was stored"))


# What says "away, busy or full" rather than "this statement is wrong" (which stays a 500 with its traceback:
# a retried bad query would fail for ever). SQLite by error name; PostgreSQL by SQLSTATE: connection
# exceptions (08), insufficient resources (53), lock not available, query canceled (the statement timeout),
# the server shutting down (57P01-57P03).
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_IOERR")
_PG_TRANSIENT_CLASSES = ("08", "53")
_PG_TRANSIENT_STATES = ("55P03", "57014", "57P01", "57P02", "57P03")


def database_unavailable(exc: BaseException) -> bool:
    """The database is away, busy past its timeout, or out of disk: nothing was done, and the same request
    may succeed later. (A constraint violation or a bug is not this.)"""
    if isinstance(exc, InterfaceError | PoolTimeout | DatabaseBusy):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, sqlite3.OperationalError):
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith(_SQLITE_TRANSIENT) or "database is locked" in str(exc)
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        # No SQLSTATE: the connection itself failed (refused, reset, timed out).
        return state is None or state[:2] in _PG_TRANSIENT_CLASSES or state in _PG_TRANSIENT_STATES
    return isinstance(exc, psycopg.InterfaceError)


UNAVAILABLE_PAGE = """<!doctype html><html lang="en" data-bs-theme="dark"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{retry}"><title>Database unreachable · Helicarrier</title>
<link rel="stylesheet" href="/assets/vendor/bootstrap/bootstrap.min.css">
<link rel="stylesheet" href="/assets/zz-theme/hud.css"></head><body><div class="hud-body">
<div class="alert alert-warning m-4" role="alert" id="db-unreachable">The database is unreachable, busy or
out of space. Nothing is lost: agents' events are kept by their clients until it is back. This page tries
again in {retry} seconds.</div></div></body></html>"""


def _unavailable(exc: BaseException):
    log.warning("database unavailable on %s: %s", request.path, str(exc).splitlines()[0][:300])
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if _is_api() or request.path.startswith("/_dash"):
        message = (
            "the database is unreachable, busy or out of space; nothing was stored; "
            f"retry after {RETRY_AFTER_S} s"
        )
        return error_response(Refused(503, "database_unavailable", message), headers)
    return Response(UNAVAILABLE_PAGE.format(retry=RETRY_AFTER_S), 503, headers=headers, mimetype="text/html")


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
            raise _method_not_allowed(allowed)
        raise Refused(404, "not_found", f"no API route /api/{unknown}")


def _method_not_allowed(allowed: list[str]) -> Refused:
    return Refused(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
        {"allowed": allowed},
        headers={"Allow": ", ".join(allowed)},
    )
