"""Every repository and unit-of-work method timed into ``helicarrier_db_query_duration_seconds``, by name, and
inside a trace a span of its own (``repo.sessions_page``, ``tx.store_batch``).

Applied once to the assembled classes (``Repository``, ``Tx``), so a new query method is timed and traced
without anyone remembering to: its name is the label, bounded by the code. Generators (chunked reads) are
left as they are: timing their creation would measure nothing. A method called outside any trace (the
scheduler's housekeeping) makes no span: each would be a trace of its own, every few seconds (the check
comes first here, before the span's attributes are built: these wrappers run on every query).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any

from opentelemetry.trace import SpanKind

from helicarrier.observability import tracing
from helicarrier.observability.metrics import DB_QUERY, timed

_MIXIN_PACKAGES = ("helicarrier.data.queries.", "helicarrier.data.unit")


def time_methods(cls: type, prefix: str) -> type:
    """``cls`` with each public method of its query mixins wrapped in a timer labelled ``prefix.name``."""
    names = {
        name
        for klass in cls.__mro__
        if klass.__module__.startswith(_MIXIN_PACKAGES)
        for name, member in vars(klass).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }
    for name in sorted(names):
        func = inspect.getattr_static(cls, name)
        if inspect.isfunction(func) and not inspect.isgeneratorfunction(func):
            label = f"{prefix}.{name}"
            setattr(cls, name, timed(DB_QUERY, label, traced(label, func)))
    return cls


def traced(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` in a CLIENT span ``name`` when called inside a trace; as it is otherwise."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not tracing.in_trace():
            return func(*args, **kwargs)
        with tracing.span(name, SpanKind.CLIENT, db__operation__name=name):
            return func(*args, **kwargs)

    return run
