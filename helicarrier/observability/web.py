"""Every HTTP request gets a request id and, when tracing is on, a SERVER span: Flask hooks around it.

The request id is the caller's ``X-Request-Id`` when it is a sane token (1-128 characters of
``[A-Za-z0-9._-]``: it goes into log lines and headers), else a new one; the answer carries it back. The span
is named by the route rule (``POST /api/v1/agents/<agent_id>/kill``, never the raw path: names stay bounded)
and continues the caller's W3C ``traceparent``. Static files, health checks and scrapes get no span (they
would bury the traces worth reading); they still get a request id.

Installed first, so its ``before_request`` runs before the sign-in gate's and its teardown always runs.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from helicarrier.observability import logs, tracing

HEADER = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_UNTRACED_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon")
_UNTRACED = frozenset({"/metrics", "/healthz", "/readyz", "/_reload-hash"})


def request_id(sent: str | None) -> str:
    """The caller's id if it is a sane token, else a new one."""
    if sent and _SANE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def _traced(rule: str | None) -> bool:
    return rule is not None and rule not in _UNTRACED and not rule.startswith(_UNTRACED_PREFIXES)


def install(server: Flask) -> None:
    @server.before_request
    def _start() -> None:
        g.request_id = request_id(request.headers.get(HEADER))
        g.request_id_token = logs.REQUEST_ID.set(g.request_id)
        rule = request.url_rule.rule if request.url_rule is not None else None
        if not _traced(rule):
            return
        attributes = {}
        if tracing.enabled():  # else only a caller's traceparent is taken in (for the log lines)
            attributes = {"http.request.method": request.method, "url.path": request.path}
            attributes |= {"http.route": rule, "request.id": g.request_id}
        name = f"{request.method} {rule}" if rule else request.method
        handle = tracing.start_request(name, request.headers, attributes)
        if handle is not None:
            g.trace_handle = handle

    @server.after_request
    def _answer(response: Response) -> Response:
        handle = g.get("trace_handle")
        if handle is not None:
            tracing.answered(handle, response.status_code)
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response

    @server.teardown_request
    def _finish(_exc: BaseException | None) -> None:
        handle = g.pop("trace_handle", None)
        if handle is not None:
            tracing.finish_request(handle)
        token = g.pop("request_id_token", None)
        if token is not None:
            logs.REQUEST_ID.reset(token)
