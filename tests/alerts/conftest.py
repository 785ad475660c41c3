"""Fixtures for the alert engine tests (both backends): app contexts on the database under test and local
webhook receivers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alerting_helpers import Hook

from helicarrier.context import AppContext, build_context


@pytest.fixture
def make_ctx(settings):
    """Another context on the same database: a restarted process, or a second one."""
    made: list[AppContext] = []

    def make() -> AppContext:
        c = build_context(settings)
        made.append(c)
        return c

    yield make
    for c in made:
        c.repo.dispose()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def hook2() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()
