"""Helicarrier: ``gunicorn app:server`` in production, ``python app.py`` (or ``python -m helicarrier serve``)
for development.

``app`` and ``server`` are built on first access, so importing ``create_app`` from here does not touch the
default database.
"""

from __future__ import annotations

import sys
from functools import cache

from helicarrier.webapp import create_app, settle_heap

__all__ = ["create_app", "app", "server"]  # noqa: F822 - app and server are built lazily by __getattr__


@cache
def _default_app():
    from helicarrier.config import ConfigError, load_settings
    from helicarrier.data.schema import SchemaError
    from helicarrier.memory import bound_malloc

    try:
        settings = load_settings()
        # Before the worker starts its threads (the scheduler's among them): each would get its own arena.
        bound_malloc(settings.malloc_arenas, settings.malloc_trim_s)
        app = create_app(settings, start_scheduler=True)
    except (SchemaError, ConfigError) as exc:
        # Fail closed with one line: gunicorn's worker exits, and the master with it.
        print(f"helicarrier: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    settle_heap()
    return app


def __getattr__(name: str):
    if name == "app":
        return _default_app()
    if name == "server":
        return _default_app().server
    raise AttributeError(name)


if __name__ == "__main__":
    from helicarrier.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
