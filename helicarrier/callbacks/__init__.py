"""Dash callbacks, one module per page; each module has ``register(app, ctx)``."""

from __future__ import annotations

import dash

from helicarrier.callbacks import alerts, command, intelligence, ledger, operations, shell, watchtower
from helicarrier.context import AppContext


def register_all(app: dash.Dash, ctx: AppContext) -> None:
    for module in (shell, watchtower, command, ledger, intelligence, alerts, operations):
        module.register(app, ctx)
