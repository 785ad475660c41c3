"""A log line reduced to its shape, so that "retry 3 of /tmp/x/41.json" and "retry 4 of /tmp/y/42.json" count
as the same line: uuids, paths, hex and numbers are masked. Plain functions."""

from __future__ import annotations

import re
from typing import Any

_MASKS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    # A path: two segments or more, Unix or Windows (a lone "/" in prose is left alone).
    (re.compile(r"(?:[A-Za-z]:\\|~?/)?(?:[\w.@-]+[/\\]){1,}[\w.@-]*"), "<path>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:[.,:]\d+)*"), "<n>"),
)
_SPACE = re.compile(r"\s+")
MAX_KEY = 300


def normalize(message: str) -> str:
    out = message
    for pattern, mask in _MASKS:
        out = pattern.sub(mask, out)
    return _SPACE.sub(" ", out).strip()[:MAX_KEY]


def line_key(message: str, attrs: dict[str, Any] | None) -> str:
    """What a repeat is counted by: the normalized message, and the tool it calls if it names one (the
    Claude Code hook path logs each tool call with ``attrs.tool``)."""
    tool = (attrs or {}).get("tool")
    key = normalize(message)
    return f"tool:{tool} {key}" if isinstance(tool, str) and tool else key
