"""Failing open, for routes an agent calls in its own critical path (Claude Code's hooks): the request runs in
a worker thread with a deadline, and when the server fails (a bug, the database away or busy) or is too
slow, the caller gets ``200 {}`` — "nothing to say, go on" — instead of an error it would have to wait for.

Refusals of the request itself (401, 403, 4xx) are still answered as such: Claude Code takes any non-2xx
answer as a non-blocking error, so they never block either, and the developer can see why in its debug log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import copy_current_request_context, request

from helicarrier.api.http import json_response
from helicarrier.errors import Refused

log = logging.getLogger("helicarrier.api")

DEADLINE_S = 2.5  # well inside Claude Code's hook timeout, and short enough not to be felt
# Bounded: when every worker is stuck on a dead database, later requests time out and fail open too.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fail-open")


def guard(view: Callable, deadline_s: float | None = None) -> Callable:
    def guarded(*args, **kwargs):
        work = copy_current_request_context(view)
        try:
            return _POOL.submit(work, *args, **kwargs).result(timeout=deadline_s or DEADLINE_S)
        except Refused as refused:
            if refused.status < 500:
                raise
            reason = refused.code
        except FutureTimeout:
            reason = "deadline"
        except Exception as exc:  # noqa: BLE001 - failing open is the point
            log.exception("failing open on %s", request.path)
            reason = type(exc).__name__
        log.warning("answered %s with an allow: %s", request.path, reason)
        return json_response({}, headers={"X-Helicarrier-Fail-Open": reason[:64]})

    return guarded
