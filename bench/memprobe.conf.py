"""gunicorn settings for ``bench/soak.py --probe DIR``: the production ones (``gunicorn.conf.py``), plus a
probe in every worker that writes what its memory is made of, to tell where a growing worker's RSS goes.

Every ``HELICARRIER_PROBE_EVERY_S`` seconds each worker appends one JSON line to ``DIR/<pid>.jsonl``:
its RSS; whether it runs the scheduler; what Python's allocator holds (``tracemalloc``, if
``HELICARRIER_PROBE_TRACE`` is set: it slows the worker); and glibc's heap (``mallinfo2``: bytes in use by
``malloc`` against bytes it keeps free but has not returned to the system). RSS that grows while the
Python and in-use figures stay flat is the allocator keeping freed memory, not a leak. With tracing on,
the worker also writes the 25 lines whose allocations grew most since the first sample.
"""

from __future__ import annotations

import ctypes
import json
import os
import runpy
import threading
import time
import tracemalloc
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
globals().update(
    {k: v for k, v in runpy.run_path(str(_ROOT / "gunicorn.conf.py")).items() if not k.startswith("__")}
)
_production_post_fork = post_fork  # noqa: F821 - defined by the production file just read

_DIR = Path(os.environ["HELICARRIER_PROBE_DIR"])
_EVERY = float(os.environ.get("HELICARRIER_PROBE_EVERY_S", "10"))
_TRACE = bool(os.environ.get("HELICARRIER_PROBE_TRACE"))


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> dict:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    m = libc.mallinfo2()
    mib = 1024 * 1024
    return {
        "heap_mib": m.arena / mib,
        "mmap_mib": m.hblkhd / mib,
        "in_use_mib": m.uordblks / mib,
        "free_kept_mib": m.fordblks / mib,
    }


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _probe(scheduler: bool) -> None:
    out = _DIR / f"{os.getpid()}.jsonl"
    first = tracemalloc.take_snapshot() if _TRACE else None
    t0 = time.monotonic()
    while True:
        time.sleep(_EVERY)
        row = {
            "t": round(time.monotonic() - t0),
            "pid": os.getpid(),
            "scheduler": scheduler,
            "rss_mib": _rss_mib(),
            "threads": threading.active_count(),
            **_mallinfo(),
        }
        if _TRACE:
            row["python_mib"] = tracemalloc.get_traced_memory()[0] / (1024 * 1024)
            top = tracemalloc.take_snapshot().compare_to(first, "lineno")[:25]
            (_DIR / f"{os.getpid()}.top.txt").write_text("\n".join(str(s) for s in top))
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")


def post_fork(server, worker) -> None:
    _production_post_fork(server, worker)
    if _TRACE:
        tracemalloc.start(1)
    threading.Thread(target=_probe, args=(worker.runs_scheduler,), daemon=True, name="memprobe").start()
