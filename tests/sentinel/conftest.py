"""The sentinel tests' app: see tests/sentinel/looping.py."""

from __future__ import annotations

import pytest

from tests.sentinel.looping import looping_api


@pytest.fixture
def sen(make_api, make_token):
    return looping_api(make_api, make_token)
