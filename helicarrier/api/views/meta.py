"""About the service itself: health and the API's description."""

from __future__ import annotations

from helicarrier.api.http import app_context, json_response


def healthz():
    """200 with the backend and schema revision while the database answers; 503 otherwise."""
    ctx = app_context()
    try:
        ctx.repo.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said in the body
        return json_response(
            {"status": "error", "database": ctx.repo.backend, "error": str(exc).splitlines()[0]}, 503
        )
    return json_response({"status": "ok", "database": ctx.repo.backend, "revision": ctx.schema.head})


def openapi():
    from helicarrier.api.openapi import openapi_document

    return json_response(openapi_document())
