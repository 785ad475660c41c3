"""Waiting on a condition, never on the clock: tests poll what they expect, with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def wait_for(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition", ignore: tuple = ()
) -> Any:
    """``predicate()``'s first true value, polled every 50 ms; AssertionError naming ``what`` at the
    deadline. Exceptions of the types in ``ignore`` count as "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class InFlight:
    """WSGI middleware that counts the requests being served, by path: a test waits until a long poll is
    really waiting on the server, or until nothing is in flight before the server stops."""

    def __init__(self, app):
        self.app = app
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        with self._lock:
            self.paths.append(path)
        try:
            yield from self.app(environ, start_response)
        finally:
            with self._lock:
                self.paths.remove(path)

    def active(self, containing: str = "") -> int:
        with self._lock:
            return sum(containing in p for p in self.paths)


SERVED: dict[str, InFlight] = {}  # a live test server's base URL -> what it is serving now
