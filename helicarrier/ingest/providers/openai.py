"""OpenAI-shaped usage: Chat Completions (also Mistral, DeepSeek, x.ai, Groq, Azure) and Responses API."""

from __future__ import annotations

from typing import Any

from ._base import Counts, count, opt_count, sub

# Tiers that are the provider's default price; anything else is a price variant worth keeping.
_DEFAULT_TIERS = frozenset({"default", "auto", "standard", "on_demand"})

_FIXED_REASONING = (
    "completion_tokens excluded reasoning_tokens (total = prompt + completion + reasoning); "
    "reasoning added to output"
)


def chat_usage(u: dict[str, Any], path: str) -> Counts:
    """Chat Completions ``usage``: prompt includes cached, completion includes reasoning (normally)."""
    prompt = opt_count(u, "prompt_tokens", path)
    completion = count(u, "completion_tokens", path)
    cache_read = cache_write = 0
    pd = sub(u, "prompt_tokens_details", path)
    if pd is not None:
        dpath = path + ".prompt_tokens_details"
        cache_read = count(pd, "cached_tokens", dpath)
        cache_write = count(pd, "cache_write_tokens", dpath)
    # DeepSeek reports flat hit/miss counts instead of prompt_tokens_details.
    hit = opt_count(u, "prompt_cache_hit_tokens", path)
    if hit is not None:
        if prompt is None:
            prompt = hit + count(u, "prompt_cache_miss_tokens", path)
        if not cache_read:
            cache_read = hit
    if prompt is None:
        prompt = 0
    cd = sub(u, "completion_tokens_details", path)
    reasoning = opt_count(cd, "reasoning_tokens", path + ".completion_tokens_details") if cd else None
    # Some OpenAI-compatible endpoints (Vertex OpenAI-compat) put reasoning_tokens at top level.
    top_reasoning = opt_count(u, "reasoning_tokens", path)
    total = opt_count(u, "total_tokens", path)
    output = completion
    warnings: tuple[str, ...] = ()
    r = reasoning if reasoning is not None else top_reasoning
    # Only the reported total tells whether completion already contains reasoning (pitfall 6,
    # also x.ai): trust OpenAI semantics unless the total proves otherwise.
    if r and total is not None and total != prompt + completion and total == prompt + completion + r:
        output = completion + r
        warnings = (_FIXED_REASONING,)
    return Counts(
        prompt,
        output,
        cache_read,
        cache_write,
        None,
        None,
        r,
        total,
        0,
        None,
        warnings,
    )


def responses_usage(u: dict[str, Any], path: str) -> Counts:
    """Responses API ``usage``: input includes cached and cache writes; output includes reasoning."""
    inp = count(u, "input_tokens", path)
    out = count(u, "output_tokens", path)
    cache_read = cache_write = 0
    idt = sub(u, "input_tokens_details", path)
    if idt is not None:
        dpath = path + ".input_tokens_details"
        cache_read = count(idt, "cached_tokens", dpath)
        cache_write = count(idt, "cache_write_tokens", dpath)
    odt = sub(u, "output_tokens_details", path)
    reasoning = opt_count(odt, "reasoning_tokens", path + ".output_tokens_details") if odt else None
    total = opt_count(u, "total_tokens", path)
    return Counts(inp, out, cache_read, cache_write, None, None, reasoning, total)


def service_tier_context(resp: dict[str, Any]) -> dict[str, str] | None:
    tier = resp.get("service_tier")
    if type(tier) is str and tier.lower() not in _DEFAULT_TIERS:
        return {"service_tier": tier.lower()}
    return None


def responses_web_searches(resp: dict[str, Any]) -> int:
    """Responses API bills hosted web search per call; calls only show up as output items."""
    output = resp.get("output")
    if type(output) is not list:
        return 0
    n = 0
    for item in output:
        if type(item) is dict and item.get("type") == "web_search_call":
            n += 1
    return n
