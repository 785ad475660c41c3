"""Dash callbacks, one module per page (named as its layout module); each declares its callbacks as
module-level functions with ``CALLBACKS = Callbacks()`` (helicarrier.callbacks.registry) and has
``register(app, ctx)``."""

from __future__ import annotations

import dash

from helicarrier.callbacks import alerts, command, intelligence, ledger, operations, shell, watchtower
from helicarrier.context import AppContext


def register_all(app: dash.Dash, ctx: AppContext) -> None:
    for module in (shell, watchtower, command, ledger, intelligence, alerts, operations):
        module.register(app, ctx)
