"""Fixtures for the analytics tests: the real app with the analytics API, and a token to read it."""

from __future__ import annotations

import pytest


@pytest.fixture
def api_app(settings, ctx):
    from helicarrier.webapp import create_app

    return create_app(settings, context=ctx)


@pytest.fixture
def client(api_app):
    return api_app.server.test_client()


@pytest.fixture
def read_headers(ctx) -> dict[str, str]:
    token, _ = ctx.repo.create_token("analyst", "read")
    return {"Authorization": f"Bearer {token}"}
