"""The production entry freezes the objects startup made, so that a full garbage collection at a random
request does not walk them all (issue 17: up to 375 ms of one analytics call's CPU at 1M sessions)."""

from __future__ import annotations

import gc
import time

import pytest

import app as entry
from helicarrier.webapp import settle_heap


@pytest.fixture
def unfrozen():
    """Each test starts and ends with nothing frozen (frozen objects outlive the test otherwise)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def _full_collection_ms() -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        gc.collect()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def test_a_full_collection_no_longer_walks_what_startup_made(unfrozen):
    startup = [{"i": i, "row": [i]} for i in range(300_000)]  # what an app's startup leaves alive
    before = _full_collection_ms()
    settle_heap()
    after = _full_collection_ms()
    assert gc.get_freeze_count() >= len(startup)
    assert after < before / 3, (before, after)


def test_the_production_entry_settles_the_heap_of_the_app_it_builds(unfrozen, monkeypatch):
    built = object()
    monkeypatch.setattr(entry, "create_app", lambda *args, **kwargs: built)
    # The allocator's bound (tests/memory/test_malloc_bound.py) is not this test's: no trim thread here.
    monkeypatch.setattr("helicarrier.memory.bound_malloc", lambda *args: None)
    assert entry._default_app.__wrapped__() is built
    assert gc.get_freeze_count() > 0
