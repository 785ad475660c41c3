"""Ingest requests counted and timed around the view: by the route table's rule (``/api/v1/ingest``, never the
raw path), the answer's status, and the envelope version the parser read. ``on_answer`` also sees each
answer (the SLO recorder): its failure is logged, never the request's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Flask, Response, g, request

from helicarrier.observability import metrics

log = logging.getLogger("helicarrier.observability")


def install(
    server: Flask, endpoints: frozenset[str], on_answer: Callable[[int, float], None] | None = None
) -> None:
    """Count and time the requests of these Flask endpoints (the ingest routes); ``on_answer(status,
    seconds)`` for each of them too."""

    @server.before_request
    def _start() -> None:
        if request.endpoint in endpoints:
            metrics.start_request()
            g.metrics_started = time.perf_counter()

    @server.after_request
    def _finish(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None and request.url_rule is not None:
            seconds = time.perf_counter() - started
            metrics.finish_request(request.url_rule.rule, response.status_code, seconds)
            if on_answer is not None:
                try:
                    on_answer(response.status_code, seconds)
                except Exception:  # noqa: BLE001 - measuring must never fail the answer
                    log.exception("recording an ingest answer for the SLOs failed")
        return response
