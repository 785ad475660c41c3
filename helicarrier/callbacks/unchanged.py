"""Answer "no update" when a polled panel would be drawn exactly as it is.

A panel polled every second and redrawn each time costs the browser a re-render and, under the glass's
blur, a repaint, though nothing changed (the Command page used 8% of a core doing that while idle,
bench/browser_cpu.py). The page keeps a digest of what it shows in a dcc.Store; the callback sends the
panel only when the digest differs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dash import no_update
from plotly.utils import PlotlyJSONEncoder


def digest(value: Any) -> str:
    """A digest of a callback's output (Dash components, figures and plain data alike)."""
    text = json.dumps(value, cls=PlotlyJSONEncoder, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def if_changed(value: Any, shown: str | None) -> tuple[Any, Any]:
    """``(value, its digest)``, or two ``no_update`` when ``shown`` is already its digest."""
    new = digest(value)
    return (no_update, no_update) if new == shown else (value, new)
