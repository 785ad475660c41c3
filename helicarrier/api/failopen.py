"""Failing open, for routes an agent calls in its own critical path (Claude Code's hooks): the request runs in
a worker thread with a deadline, and when the server fails (a bug, the database away or busy) or is too
slow, the caller gets ``200 {}`` — "nothing to say, go on" — instead of an error it would have to wait for.

Refusals of the request itself (401, 403, 4xx) are still answered as such: Claude Code takes any non-2xx
answer as a non-blocking error, so they never block either, and the developer can see why in its debug log.

Work that misses the deadline is abandoned, not left to act later: a queued one is cancelled, a running one
sees ``abandoned()`` and must not commit a decision the caller never heard (a kill "delivered" to a session
that was told "go on"). At most ``SLOTS`` requests work at once; past that the answer is an allow at once,
so a dead database cannot pile requests up behind it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import copy_current_request_context, request

from helicarrier.api.http import json_response
from helicarrier.errors import Refused

log = logging.getLogger("helicarrier.api")

DEADLINE_S = 2.5  # well inside Claude Code's hook timeout, and short enough not to be felt
SLOTS = 8
_POOL = ThreadPoolExecutor(max_workers=SLOTS, thread_name_prefix="fail-open")
_SLOTS = threading.BoundedSemaphore(SLOTS)
_ABANDONED = "helicarrier.fail_open.abandoned"  # in the WSGI environ, which both threads share


def abandoned() -> bool:
    """True once the caller was answered without this request's work: it must commit no decision."""
    return bool(request.environ.get(_ABANDONED))


def _run(work: Callable, args, kwargs):
    try:
        return work(*args, **kwargs)
    finally:
        _SLOTS.release()


def guard(view: Callable) -> Callable:
    def guarded(*args, **kwargs):
        if not _SLOTS.acquire(blocking=False):
            return _allow("busy")
        future = _POOL.submit(_run, copy_current_request_context(view), args, kwargs)
        try:
            return future.result(timeout=DEADLINE_S)
        except Refused as refused:
            if refused.status < 500:
                raise
            reason = refused.code
        except FutureTimeout:
            request.environ[_ABANDONED] = True
            if future.cancel():  # never started: its slot is still taken
                _SLOTS.release()
            reason = "deadline"
        except Exception as exc:  # noqa: BLE001 - failing open is the point
            log.exception("failing open on %s", request.path)
            reason = type(exc).__name__
        return _allow(reason)

    return guarded


def _allow(reason: str):
    log.warning("answered %s with an allow: %s", request.path, reason)
    return json_response({}, headers={"X-Helicarrier-Fail-Open": reason[:64]})
