"""Cohere v2 ``usage`` / v1 ``meta``: ``billed_units`` (what is charged) preferred over ``tokens``.

Counts arrive as floats (8.0); integral floats are accepted by the shared coercion.
"""

from __future__ import annotations

from typing import Any

from ._base import Counts, count, sub


def usage(u: dict[str, Any], path: str) -> Counts:
    billed = sub(u, "billed_units", path)
    if billed is not None and (
        billed.get("input_tokens") is not None or billed.get("output_tokens") is not None
    ):
        bpath = path + ".billed_units"
        # billed_units are already the charged amounts, so cached_tokens is not subtracted again.
        return Counts(count(billed, "input_tokens", bpath), count(billed, "output_tokens", bpath))
    tokens = sub(u, "tokens", path) or {}
    tpath = path + ".tokens"
    return Counts(
        count(tokens, "input_tokens", tpath),
        count(tokens, "output_tokens", tpath),
        count(u, "cached_tokens", path),
        warnings=("cohere: no billed_units, priced on processed tokens",),
    )
