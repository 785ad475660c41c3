"""Gemini / Vertex AI ``usageMetadata`` in REST camelCase or SDK-dump snake_case.

promptTokenCount includes cached content; candidatesTokenCount EXCLUDES thoughts and may be absent;
toolUsePromptTokenCount is billable input outside promptTokenCount.
"""

from __future__ import annotations

from typing import Any

from ._base import Counts, count, opt_count

# (prompt, cached, candidates, thoughts, tool_use_prompt, total, traffic_type)
CAMEL = (
    "promptTokenCount",
    "cachedContentTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
    "trafficType",
)
SNAKE = (
    "prompt_token_count",
    "cached_content_token_count",
    "candidates_token_count",
    "thoughts_token_count",
    "tool_use_prompt_token_count",
    "total_token_count",
    "traffic_type",
)

_TRAFFIC_CONTEXT = {
    "ON_DEMAND_FLEX": {"service_tier": "flex"},
    "ON_DEMAND_PRIORITY": {"service_tier": "priority"},
    # Prepaid capacity: the per-token list price does not apply; pricing flags it.
    "PROVISIONED_THROUGHPUT": {"traffic_type": "PROVISIONED_THROUGHPUT"},
}

_PRE_2025_THOUGHTS = (
    "candidatesTokenCount already included thoughtsTokenCount (total says so); not added twice"
)


def usage_metadata(u: dict[str, Any], path: str, names: tuple[str, ...]) -> Counts:
    prompt = count(u, names[0], path)
    cached = count(u, names[1], path)
    candidates = count(
        u, names[2], path
    )  # absent when thinking used the whole budget: 0, thoughts still added
    thoughts = opt_count(u, names[3], path)
    tool = count(u, names[4], path)
    total = opt_count(u, names[5], path)
    inp = prompt + tool
    out = candidates + (thoughts or 0)
    warnings: tuple[str, ...] = ()
    # Accounting changed around 2025-04: older responses folded thoughts into candidates.
    if thoughts and total is not None and total != inp + out and total == inp + candidates:
        out = candidates
        warnings = (_PRE_2025_THOUGHTS,)
    traffic = u.get(names[6])
    ctx = _TRAFFIC_CONTEXT.get(traffic) if type(traffic) is str else None
    return Counts(inp, out, cached, 0, None, None, thoughts, total, 0, dict(ctx) if ctx else None, warnings)


def grounding_searches(resp: dict[str, Any], model: str | None) -> int:
    """Grounding with Google Search: Gemini 3 bills per search query, Gemini 1.x/2.x per grounded prompt."""
    cands = resp.get("candidates")
    if type(cands) is not list:
        return 0
    queries = 0
    for c in cands:
        if type(c) is not dict:
            continue
        gm = c.get("groundingMetadata") or c.get("grounding_metadata")
        if type(gm) is dict:
            q = gm.get("webSearchQueries") or gm.get("web_search_queries")
            if type(q) is list:
                queries += len(q)
    if queries and model and model.startswith(("gemini-1", "gemini-2")):
        return 1
    return queries
