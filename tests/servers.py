"""What tests that start real servers share: a free port, and the environment a child server starts with."""

from __future__ import annotations

import os
import socket

# The browser tests' Werkzeug servers leave these in this process's environment; a gunicorn started with
# them takes itself for the reloader's watcher and runs no scheduler.
_WERKZEUG = ("WERKZEUG_SERVER_FD", "WERKZEUG_RUN_MAIN", "FLASK_RUN_FROM_CLI")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**settings: str) -> dict[str, str]:
    """This process's environment without what the Werkzeug servers left in it, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in _WERKZEUG}
    env.update(settings)
    return env
