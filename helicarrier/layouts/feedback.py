"""What an action said, as every page shows it: one line in the tone of its outcome."""

from __future__ import annotations

from dash import html

TONES = {"ok": "text-success", "warning": "text-warning", "error": "text-danger"}


def said(text: str, tone: str = "ok", *, block: bool = False) -> html.Span | html.Div:
    """``text`` in the tone's colour; ``block``: on a line of its own (lists of outcomes)."""
    return (html.Div if block else html.Span)(text, className=TONES[tone])
