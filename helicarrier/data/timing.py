"""Every repository and unit-of-work method timed into ``helicarrier_db_query_duration_seconds``, by name.

Applied once to the assembled classes (``Repository``, ``Tx``), so a new query method is timed without
anyone remembering to: its name (``repo.sessions_page``, ``tx.store_batch``) is the label, bounded by the
code. Generators (chunked reads) are left as they are: timing their creation would measure nothing.
"""

from __future__ import annotations

import inspect

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
            setattr(cls, name, timed(DB_QUERY, f"{prefix}.{name}", func))
    return cls
