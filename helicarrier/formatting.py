"""Formatting figures for people: token counts and durations (money: ``helicarrier.money``)."""

from __future__ import annotations


def format_tokens(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def plural(n: int, word: str) -> str:
    """``1 step``, ``2 steps``, ``0 agents``: a count with its noun (regular English plurals only)."""
    return f"{n} {word}{'' if n == 1 else 's'}"
