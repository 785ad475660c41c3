"""Anthropic Messages usage (also Claude on Bedrock InvokeModel / Vertex rawPredict, Claude Code logs).

``input_tokens`` EXCLUDES cache reads and writes; ``output_tokens`` INCLUDES thinking.
"""

from __future__ import annotations

from typing import Any

from ._base import Counts, count, opt_count, sub


def _cache_write_split(u: dict[str, Any], path: str) -> tuple[int, int | None, int | None, tuple[str, ...]]:
    cw = opt_count(u, "cache_creation_input_tokens", path)
    cc = sub(u, "cache_creation", path)
    if cc is None:
        return cw or 0, None, None, ()
    cpath = path + ".cache_creation"
    cw5 = count(cc, "ephemeral_5m_input_tokens", cpath)
    cw1 = count(cc, "ephemeral_1h_input_tokens", cpath)
    if cw is None:
        return cw5 + cw1, cw5, cw1, ()
    if cw5 + cw1 != cw:
        return cw, cw5, cw1, (f"cache_creation 5m+1h ({cw5 + cw1}) != cache_creation_input_tokens ({cw})",)
    return cw, cw5, cw1, ()


def _context(u: dict[str, Any]) -> dict[str, str] | None:
    ctx: dict[str, str] | None = None
    speed = u.get("speed")
    if speed == "fast":
        ctx = {"speed": "fast"}
    tier = u.get("service_tier")
    if tier == "batch":
        ctx = {**(ctx or {}), "processing": "batch"}
    elif tier == "priority":
        ctx = {**(ctx or {}), "service_tier": "priority"}
    return ctx


def messages_usage(u: dict[str, Any], path: str) -> Counts:
    uncached = count(u, "input_tokens", path)
    cache_read = count(u, "cache_read_input_tokens", path)
    cache_write, cw5, cw1, warnings = _cache_write_split(u, path)
    out = count(u, "output_tokens", path)
    od = sub(u, "output_tokens_details", path)
    reasoning = opt_count(od, "thinking_tokens", path + ".output_tokens_details") if od else None
    stu = sub(u, "server_tool_use", path)
    web = count(stu, "web_search_requests", path + ".server_tool_use") if stu else 0
    inp = uncached + cache_read + cache_write

    # Compaction iterations are billed but not folded into the top-level usage (BetaUsage.iterations).
    iterations = u.get("iterations")
    if type(iterations) is list:
        for i, it in enumerate(iterations):
            if type(it) is not dict or it.get("type") != "compaction":
                continue
            ipath = f"{path}.iterations[{i}]"
            i_read = count(it, "cache_read_input_tokens", ipath)
            i_write = count(it, "cache_creation_input_tokens", ipath)
            inp += count(it, "input_tokens", ipath) + i_read + i_write
            cache_read += i_read
            cache_write += i_write
            out += count(it, "output_tokens", ipath)
            warnings = (*warnings, f"added compaction iteration {i} from usage.iterations")
    return Counts(inp, out, cache_read, cache_write, cw5, cw1, reasoning, None, web, _context(u), warnings)


def merge_stream_usage(start: dict[str, Any] | None, deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """message_start usage overlaid with message_delta usage, which is CUMULATIVE: replace, never add."""
    merged = dict(start) if start else {}
    for d in deltas:
        for k, v in d.items():
            if v is not None:
                merged[k] = v
    return merged
