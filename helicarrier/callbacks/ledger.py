"""Ledger callbacks."""

from __future__ import annotations

import dash

from helicarrier.context import AppContext


def register(app: dash.Dash, ctx: AppContext) -> None:
    """No callbacks yet."""
