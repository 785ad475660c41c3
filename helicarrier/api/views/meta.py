"""About the service itself: health and the API's description."""

from __future__ import annotations

import logging

from helicarrier.api.http import app_context, json_response
from helicarrier.data.types import utcnow
from helicarrier.health import HEARTBEAT_FLAG, RETRY_AFTER_S, Readiness, scheduler_check

log = logging.getLogger("helicarrier.health")


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


def readyz():
    """200 when this instance can serve: the database answers, the schema is at the code's head, and a
    scheduler beat recently; 503 with Retry-After and what is wrong otherwise. Milliseconds either way."""
    ctx = app_context()
    now = utcnow()
    readiness = Readiness()
    try:
        revision = ctx.repo.schema_revision()
        beat = ctx.repo.flag(HEARTBEAT_FLAG)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said in the body
        # The cause goes to the log, not to the unauthenticated caller (it can name internal hosts).
        log.warning("readyz: database unreachable: %s", str(exc).splitlines()[0][:300])
        readiness.checks["database"] = "unreachable"
    else:
        readiness.checks["database"] = "ok"
        head = ctx.schema.head
        readiness.checks["schema"] = "ok" if revision == head else f"at {revision}, the code needs {head}"
        readiness.checks["scheduler"] = scheduler_check(beat and beat.updated_at, now)
    body = {"status": "ready" if readiness.ready else "unready", "checks": readiness.checks}
    if readiness.ready:
        return json_response(body)
    return json_response(body, 503, {"Retry-After": str(RETRY_AFTER_S)})


def metrics():
    """Prometheus text format: counters and histograms of every worker, gauges read from the database.

    curl -H "Authorization: Bearer $READ_TOKEN" http://127.0.0.1:8050/metrics
    """
    from flask import Response

    from helicarrier.observability.scrape import CONTENT_TYPE, exposition

    ctx = app_context()
    return Response(
        exposition(ctx.repo, ctx.settings.offline_after_s), mimetype=None, content_type=CONTENT_TYPE
    )


def openapi():
    from helicarrier.api.openapi import openapi_document

    return json_response(openapi_document())


def slo():
    """Each SLO over its windows: the SLI, the 30-day budget left, burn rates and the alert conditions.

    curl -H "Authorization: Bearer $READ_TOKEN" http://127.0.0.1:8050/api/v1/slo
    """
    from helicarrier.slo.service import report_json

    now = utcnow()
    reports = app_context().slo.report(now)
    return json_response({"at": now.isoformat(), "slos": [report_json(r) for r in reports]})
