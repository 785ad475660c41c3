"""A dashboard answer while another thread is inside pandas' first import: plotly's encoder used to find
the half-built module in ``sys.modules`` and fail on ``pd.NaT`` (a 500 in the browser tests)."""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest
from dash import html
from dash._utils import to_json

from helicarrier import plotly_json


@pytest.fixture
def pandas_half_imported(monkeypatch):
    """``sys.modules`` as another thread's ``import pandas`` leaves it half way: the module is there, marked
    as initializing, and has none of its names yet."""
    half = ModuleType("pandas")
    half.__spec__ = ModuleSpec("pandas", None)
    half.__spec__._initializing = True
    monkeypatch.setitem(sys.modules, "pandas", half)
    return half


def test_an_answer_is_encoded_while_pandas_is_still_being_imported(pandas_half_imported):
    plotly_json.install()
    # A component in the answer: orjson cannot take it as it is, so plotly cleans the whole answer, and
    # asks of every value whether it is pandas' NaT.
    answer = {"response": {"status": {"children": html.Span("Sent")}, "rows": [{"ok": True, "n": None}]}}
    assert '"children":"Sent"' in to_json(answer).replace(" ", "")


def test_a_module_fully_imported_is_still_used(monkeypatch):
    plotly_json.install()
    done = ModuleType("pandas")
    done.__spec__ = ModuleSpec("pandas", None)
    monkeypatch.setitem(sys.modules, "pandas", done)
    assert plotly_json.loaded_module("pandas", should_load=False) is done
