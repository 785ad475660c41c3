"""Ingest requests counted and timed around the view: by the route table's rule (``/api/v1/ingest``, never the
raw path), the answer's status, and the envelope version the parser read."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from helicarrier.observability import metrics


def install(server: Flask, endpoints: frozenset[str]) -> None:
    """Count and time the requests of these Flask endpoints (the ingest routes)."""

    @server.before_request
    def _start() -> None:
        if request.endpoint in endpoints:
            metrics.start_request()
            g.metrics_started = time.perf_counter()

    @server.after_request
    def _finish(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None and request.url_rule is not None:
            metrics.finish_request(request.url_rule.rule, response.status_code, time.perf_counter() - started)
        return response
