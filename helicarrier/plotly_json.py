"""Dash answers callbacks through plotly's JSON encoder, which looks for pandas and numpy in ``sys.modules``
without importing them (``get_module(..., should_load=False)``). pandas is imported lazily, on the first
dashboard call that needs it (an API-only worker never loads it). While one request thread is inside that
first ``import pandas``, the module is already in ``sys.modules`` but half built, and another thread's
answer then failed on ``pd.NaT`` with a 500 (seen in the browser tests: the audit CSV's first import racing
a Command page callback).

``install`` makes the encoder treat a module that is still being imported as absent: no object of a module
still being imported can be in another thread's answer."""

from __future__ import annotations

import sys
from types import ModuleType


def loaded_module(name: str, should_load: bool = True) -> ModuleType | None:
    """``_plotly_utils.optional_imports.get_module``, except that a module still being imported counts as
    not loaded when the caller did not ask to load it."""
    from _plotly_utils.optional_imports import get_module

    if should_load:
        return get_module(name)
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if spec is not None and getattr(spec, "_initializing", False):
        return None
    return module


def install() -> None:
    """Point plotly's two JSON encoders at ``loaded_module`` (they bound ``get_module`` by name)."""
    import _plotly_utils.utils
    import plotly.io._json

    plotly.io._json.get_module = loaded_module  # noqa: SLF001 - see the module docstring
    _plotly_utils.utils.get_module = loaded_module
