"""Reading JSON a client sent: one parser for every body (orjson: parsing is the largest single cost of
ingest), one refusal for what is not JSON, and the nesting limit.

orjson parses up to 1,024 levels but writes at most 254: a body nested in between would parse, then fail
when it is stored or echoed. Bodies are therefore limited to ``MAX_JSON_DEPTH`` levels (documented in
docs/api.md, Limits): in ingest per event, elsewhere per body.
"""

from __future__ import annotations

from typing import Any

import orjson

from helicarrier.errors import Refused

# An object or array is one level; the v2 event object itself is level 1. Real provider payloads (OTLP
# spans included) stay under 15.
MAX_JSON_DEPTH = 32
DEPTH_MESSAGE = f"nested more than {MAX_JSON_DEPTH} levels deep (the limit for JSON objects and arrays)"


NUL_MESSAGE = "the NUL character (\\u0000) cannot be stored; remove or replace it"


def find_nul(value: Any, path: str) -> str | None:
    """The path of the first string or key carrying U+0000 (PostgreSQL text cannot hold it), or None."""
    kind = type(value)
    if kind is str:
        return path if "\x00" in value else None
    if kind is dict:
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return sub.replace("\x00", "\\u0000")
            hit = find_nul(item, sub)
            if hit is not None:
                return hit
    elif kind is list:
        for i, item in enumerate(value):
            hit = find_nul(item, f"{path}[{i}]")
            if hit is not None:
                return hit
    return None


def parse_json(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "malformed_json", f"request body is not valid JSON: {exc}") from None


def _within(value: Any, budget: int) -> bool:
    """True when ``value`` nests at most ``budget`` levels (the fast check: no paths built)."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return True
    if budget <= 0:
        return False
    budget -= 1
    # A plain loop: every ingest event passes here, and a generator in all() costs three times as much.
    for item in items:
        t = type(item)
        if (t is dict or t is list) and not _within(item, budget):
            return False
    return True


def each_within(items: list[Any], limit: int = MAX_JSON_DEPTH) -> bool:
    """True when every item of ``items`` nests at most ``limit`` levels: one walk of the whole list, the
    common case of an ingest batch, instead of one check per event (each is then checked only when this
    says some item is too deep, to name it)."""
    return _within(items, limit + 1)


def _first_too_deep(value: Any, path: str, budget: int) -> str | None:
    kind = type(value)
    if kind not in (dict, list):
        return None
    if budget <= 0:
        return path
    items = enumerate(value) if kind is list else value.items()
    for key, item in items:
        sub = f"{path}[{key}]" if kind is list else (f"{path}.{key}" if path else str(key))
        hit = _first_too_deep(item, sub, budget - 1)
        if hit is not None:
            return hit
    return None


def too_deep(value: Any, path: str = "", level: int = 1, limit: int = MAX_JSON_DEPTH) -> str | None:
    """The path of the first object or array past ``limit`` levels (``value`` itself at ``level``), or None.

    Only containers are visited, and paths are built only once something is too deep."""
    budget = limit - level + 1
    if _within(value, budget):
        return None
    return _first_too_deep(value, path, budget)


def refuse_deep(value: Any, path: str = "") -> None:
    """A 422 naming the field when ``value`` (a whole request body) nests past the limit."""
    hit = too_deep(value, path)
    if hit is not None:
        field = hit or "body"
        raise Refused(422, "schema_violation", f"{field}: {DEPTH_MESSAGE}", {"field": field})
