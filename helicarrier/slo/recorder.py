"""Counting SLI events in the process and writing them out a few seconds at a time.

A request's hook only adds to a dict under a lock (microseconds); a daemon thread hands what was counted to
``write`` (one upsert per minute and SLI) every ``every_s`` seconds, and at exit; ``write`` returning False
means "not now" (maintenance: a cutover's copy must not change under it). A failed write keeps the
counts for the next try (up to ``MAX_PENDING`` minute rows, then the oldest are dropped and said so): a
database that is down must neither fail requests nor grow memory without bound.

Under gunicorn each worker counts its own requests; the thread starts at the first event in the process
that has it (a fork does not copy threads), so the counts of every worker reach the table.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import threading
import weakref
from collections.abc import Callable
from datetime import datetime

log = logging.getLogger("helicarrier.slo")

Folded = dict[tuple[int, str], tuple[int, int]]
MAX_PENDING = 10_000  # minute x SLI rows: a week of the five SLIs


def minute_of(at: datetime) -> int:
    return int(at.timestamp()) // 60


class SliRecorder:
    """The thread and the exit hook hold the recorder, and the recorder its writer's owner (the SLO service,
    and through it the app's database pools), only weakly: an app that nobody uses any more is collected
    with its connections (every browser test's app kept its pool open, and the suite ran PostgreSQL out of
    connections)."""

    def __init__(self, write: Callable[[Folded], bool | None], every_s: float = 5.0):
        self._write = weakref.WeakMethod(write) if inspect.ismethod(write) else (lambda: write)
        self.every_s = every_s
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, str], list[int]] = {}
        self._pid: int | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, sli: str, bad: bool, at: datetime) -> None:
        """One event of ``sli`` at ``at``; ``bad`` when it missed its SLO."""
        key = (minute_of(at), sli)
        with self._lock:
            acc = self._counts.get(key)
            if acc is None:
                self._counts[key] = [1, int(bad)]
            else:
                acc[0] += 1
                acc[1] += int(bad)
            if self._pid != os.getpid():
                self._start()

    def flush(self) -> bool:
        """Write what was counted; False (and the counts kept) when the write failed."""
        with self._lock:
            taken, self._counts = self._counts, {}
        write = self._write()
        if not taken or write is None:  # nothing counted, or its app is gone
            return True
        try:
            written = write({k: (v[0], v[1]) for k, v in taken.items()})
        except Exception as exc:  # noqa: BLE001 - counted again at the next flush; never the request's problem
            log.warning("SLI counts not written (kept for the next try): %s", str(exc).splitlines()[0][:300])
            written = False
        if written is False:  # failed, or the writer said "not now" (maintenance): kept for the next flush
            self._restore(taken)
            return False
        return True

    def close(self) -> None:
        """Stop the thread, wait for it to end, and write what is left (tests, shutdown)."""
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()

    def _restore(self, taken: dict[tuple[int, str], list[int]]) -> None:
        with self._lock:
            for key, (total, bad) in taken.items():
                acc = self._counts.setdefault(key, [0, 0])
                acc[0] += total
                acc[1] += bad
            if len(self._counts) > MAX_PENDING:
                for key in sorted(self._counts)[: len(self._counts) - MAX_PENDING]:
                    del self._counts[key]
                log.warning("SLI counts: dropped the oldest minutes, more than %d unwritten", MAX_PENDING)

    def _start(self) -> None:
        # Called under the lock, in the first process (or forked worker) that records.
        self._pid = os.getpid()
        me = weakref.ref(self)
        self._thread = threading.Thread(
            target=_loop, args=(me, self._wake, self.every_s), name="sli-flush", daemon=True
        )
        self._thread.start()
        atexit.register(_flush, me)


def _flush(recorder: weakref.ref) -> None:
    live = recorder()
    if live is not None:
        live.flush()


def _loop(recorder: weakref.ref, wake: threading.Event, every_s: float) -> None:
    """Flush every ``every_s`` until closed or until the recorder is gone with its app."""
    while not wake.wait(every_s):
        if recorder() is None:
            return
        _flush(recorder)
