"""What a callback request must look like before the role gate or Dash reads it.

Dash's dispatcher trusts its own front end: ``{}``, an ``output`` that is a number, or ``inputs`` that are
not a list raise inside it (a 500). The gate answers those with a 400 naming the problem instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helicarrier.jsonio import DEPTH_MESSAGE, too_deep


def _is_dependency(item: Any) -> bool:
    return isinstance(item, dict) and "id" in item and isinstance(item.get("property"), str)


def _dependencies_problem(body: dict[str, Any], field: str, expected: int) -> str | None:
    items = body.get(field, [])
    if not isinstance(items, list):
        return f"{field}: a list is needed"
    if len(items) != expected:
        return f"{field}: this callback takes {expected}, not {len(items)}"
    for item in items:
        # A pattern-matching (ALL) dependency is a list of them.
        group = item if isinstance(item, list) else [item]
        if not all(_is_dependency(x) for x in group):
            return f"{field}: each item is an object with an id and a property"
    return None


def callback_body_problem(body: Any, callbacks: Mapping[str, Any]) -> str | None:
    """Why ``body`` is no callback request of this app (``callbacks``: Dash's callback map), or None."""
    if not isinstance(body, dict):
        return "a callback request is a JSON object"
    hit = too_deep(body)
    if hit is not None:
        return f"{hit}: {DEPTH_MESSAGE}"
    output = body.get("output")
    if not isinstance(output, str):
        return "output: the text naming a callback's outputs is needed"
    spec = callbacks.get(output)
    if spec is None:
        return f"output: no callback updates {output[:200]!r}"
    for field in ("inputs", "state"):
        problem = _dependencies_problem(body, field, len(spec.get(field) or []))
        if problem:
            return problem
    if not isinstance(body.get("outputs", []), dict | list):
        return "outputs: an object or a list is needed"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(x, str) for x in changed):
        return "changedPropIds: a list of texts is needed"
    return None
