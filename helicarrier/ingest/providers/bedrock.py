"""Bedrock Converse / ConverseStream ``usage`` (camelCase).

inputTokens EXCLUDES cacheRead/cacheWrite; totalTokens includes them. No model in the response.
"""

from __future__ import annotations

from typing import Any

from ._base import Counts, UsageError, count, opt_count

_FOLDED_WRITE = "inputTokens already included cacheWriteInputTokens (ConverseStream anomaly); not added twice"
_FOLDED_READ = "inputTokens already included cacheReadInputTokens; not added twice"
_DEFAULT_TIERS = frozenset({"default", "standard"})


def _ttl_split(u: dict[str, Any], path: str) -> tuple[int | None, int | None]:
    details = u.get("cacheDetails")
    if details is None:
        return None, None
    if type(details) is not list:
        raise UsageError(path + ".cacheDetails", "expected a list")
    cw5 = cw1 = 0
    for i, d in enumerate(details):
        if type(d) is not dict:
            continue
        n = count(d, "inputTokens", f"{path}.cacheDetails[{i}]")
        ttl = d.get("ttl")
        if ttl == "1h":
            cw1 += n
        else:  # Bedrock's default TTL is 5 minutes
            cw5 += n
    return cw5, cw1


def converse_usage(u: dict[str, Any], path: str) -> Counts:
    base = count(u, "inputTokens", path)
    out = count(u, "outputTokens", path)
    cache_read = count(u, "cacheReadInputTokens", path)
    cache_write = count(u, "cacheWriteInputTokens", path)
    total = opt_count(u, "totalTokens", path)
    cw5, cw1 = _ttl_split(u, path)
    inp = base + cache_read + cache_write
    warnings: tuple[str, ...] = ()
    if total is not None and total != inp + out:
        # Streams have been seen folding cache writes into inputTokens (bifrost#6942); the total tells.
        if cache_write and base >= cache_write and total == base + cache_read + out:
            inp = base + cache_read
            warnings = (_FOLDED_WRITE,)
        elif cache_read and base >= cache_read and total == base + cache_write + out:
            inp = base + cache_write
            warnings = (_FOLDED_READ,)
    return Counts(inp, out, cache_read, cache_write, cw5, cw1, None, total, 0, None, warnings)


def service_tier_context(resp: dict[str, Any]) -> dict[str, str] | None:
    tier = resp.get("serviceTier")
    if type(tier) is dict:
        t = tier.get("type")
        if type(t) is str and t.lower() not in _DEFAULT_TIERS:
            return {"service_tier": t.lower()}
    return None
