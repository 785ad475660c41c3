"""JSON errors for everything under /api/: the status code and ``{"error": {code, message, details}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from helicarrier.ingest.errors import ApiError

log = logging.getLogger("helicarrier.api")


def error_response(err: ApiError) -> Response:
    import orjson

    return Response(orjson.dumps(err.body()), status=err.status, mimetype="application/json")


def install(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(ApiError(exc.code or 500, code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.exception("unhandled error on %s", request.path)
        if not request.path.startswith("/api/"):
            raise exc
        return error_response(ApiError(500, "internal_error", "the server failed; nothing was stored"))
