"""Dash callbacks, one module per page; each module has ``register(app, ctx)``."""

from __future__ import annotations

import dash

from helicarrier.callbacks import shell, watchtower
from helicarrier.context import AppContext


def register_all(app: dash.Dash, ctx: AppContext) -> None:
    shell.register(app, ctx)
    watchtower.register(app, ctx)
