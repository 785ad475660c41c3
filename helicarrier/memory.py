"""Keep a long-running worker's resident memory to what it uses: glibc's allocator in a threaded process.

Measured with ``bench/soak.py --probe`` (docs/performance.md, issue 17): after an hour the worker that runs
the scheduler held 500 MiB, yet its Python objects and the memory ``malloc`` had handed out stayed flat
(about 95 and 118 MiB). The rest was memory freed but kept by the allocator: each thread that allocates at
the same time as another gets its own arena (up to 8 per core), the scheduler's jobs and the request
threads leave freed holes in all of them, and glibc returns only the top of a heap to the system. Two
remedies, both glibc's own: fewer arenas (``M_ARENA_MAX``, what ``MALLOC_ARENA_MAX`` sets) and, every few
seconds, ``malloc_trim(0)``, which hands the free pages inside every arena back (``madvise``).

Elsewhere (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def bound_malloc(arenas: int, trim_every_s: float) -> threading.Thread | None:
    """In a process about to start its threads: cap glibc's arenas at ``arenas`` (0: glibc's default) and,
    with ``trim_every_s`` > 0, trim the heap that often from a daemon thread (returned; it lives as long as
    the process). ctypes releases the GIL around ``malloc_trim``, so requests go on while it runs."""
    libc = _libc()
    if libc is None:
        log.info("not glibc: the allocator is left as it is")
        return None
    if arenas > 0:
        libc.mallopt(M_ARENA_MAX, arenas)
    if trim_every_s <= 0:
        return None

    def loop() -> None:
        while True:
            time.sleep(trim_every_s)
            libc.malloc_trim(0)

    thread = threading.Thread(target=loop, name="malloc-trim", daemon=True)
    thread.start()
    return thread
