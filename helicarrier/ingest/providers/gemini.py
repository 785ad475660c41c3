"""Gemini / Vertex AI ``usageMetadata`` in REST camelCase or SDK-dump snake_case.

promptTokenCount includes cached content; candidatesTokenCount EXCLUDES thoughts and may be absent;
toolUsePromptTokenCount is billable input outside promptTokenCount. The Live API's usageMetadata says
responseTokenCount where generateContent says candidatesTokenCount; the Interactions API has its own
snake_case ``usage`` (``interactions_usage``).
"""

from __future__ import annotations

from typing import Any

from ._base import Counts, count, opt_count

# (prompt, cached, candidates, thoughts, tool_use_prompt, total, traffic_type, live_response)
CAMEL = (
    "promptTokenCount",
    "cachedContentTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
    "trafficType",
    "responseTokenCount",
)
SNAKE = (
    "prompt_token_count",
    "cached_content_token_count",
    "candidates_token_count",
    "thoughts_token_count",
    "tool_use_prompt_token_count",
    "total_token_count",
    "traffic_type",
    "response_token_count",
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
    # Absent when thinking used the whole budget: 0, thoughts still added. The Live API
    # (BidiGenerateContentServerMessage.usageMetadata) names the same count responseTokenCount.
    candidates = count(u, names[2] if names[2] in u else names[7], path)
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


def interactions_usage(u: dict[str, Any], path: str) -> Counts:
    """The Interactions API's ``usage``: the generateContent counts under other names, so the same rules
    hold (total_input_tokens includes total_cached_tokens; total_output_tokens EXCLUDES total_thought_tokens;
    total_tool_use_tokens is billable input outside total_input_tokens)."""
    inp = count(u, "total_input_tokens", path) + count(u, "total_tool_use_tokens", path)
    thoughts = opt_count(u, "total_thought_tokens", path)
    out = count(u, "total_output_tokens", path) + (thoughts or 0)
    total = opt_count(u, "total_tokens", path)
    return Counts(inp, out, count(u, "total_cached_tokens", path), 0, None, None, thoughts, total)


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
