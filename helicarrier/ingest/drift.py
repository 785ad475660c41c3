"""Provider drift: usage fields the normalizer does not know. A provider that adds a billing field (a new
cache kind, a new per-request charge) would otherwise be priced without it in silence; listing the field
with the day it first appeared and an example lets someone notice and teach the normalizer.

Plain functions: which fields of a usage payload are unknown for its provider. The payload itself is always
kept whole (``raw``), so calls can be re-normalized once the field is understood.
"""

from __future__ import annotations

from typing import Any

import orjson

from helicarrier.ingest.normalize import canonical_provider

MAX_FIELDS = 20  # per payload: a payload of a thousand odd keys must not become a thousand rows
MAX_FIELD_CHARS = 200
MAX_EXAMPLE_CHARS = 300
MAX_DEPTH = 4

_OPENAI = frozenset(
    {
        # Chat Completions
        "prompt_tokens", "completion_tokens", "total_tokens",
        "prompt_tokens_details", "prompt_tokens_details.cached_tokens", "prompt_tokens_details.audio_tokens",
        "completion_tokens_details", "completion_tokens_details.reasoning_tokens",
        "completion_tokens_details.audio_tokens", "completion_tokens_details.accepted_prediction_tokens",
        "completion_tokens_details.rejected_prediction_tokens",
        # Responses
        "input_tokens", "output_tokens", "input_tokens_details", "input_tokens_details.cached_tokens",
        "output_tokens_details", "output_tokens_details.reasoning_tokens", "cache_write_tokens",
        "cache_write_tokens_details", "cache_write_tokens_details.ttl_30m",
        "cache_write_tokens_details.ttl_12h", "input_tokens_details.cache_write_tokens",
        "input_tokens_details.cache_write_tokens_details",
        "input_tokens_details.cache_write_tokens_details.ttl_30m_tokens",
        "input_tokens_details.cache_write_tokens_details.ttl_12h_tokens",
        # OpenAI-compatible providers' additions the normalizer reads or knows to ignore
        "reasoning_tokens", "prompt_cache_hit_tokens", "prompt_cache_miss_tokens", "num_sources_used",
        "queue_time", "prompt_time", "completion_time", "total_time",
    }
)  # fmt: skip
_ANTHROPIC = frozenset(
    {
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        "cache_creation", "cache_creation.ephemeral_5m_input_tokens",
        "cache_creation.ephemeral_1h_input_tokens",
        "server_tool_use", "server_tool_use.web_search_requests", "server_tool_use.web_fetch_requests",
        "service_tier", "inference_geo", "speed", "iterations", "output_tokens_details",
        "output_tokens_details.thinking_tokens",
    }
)  # fmt: skip
_GEMINI_CAMEL = (
    "promptTokenCount", "candidatesTokenCount", "totalTokenCount", "cachedContentTokenCount",
    "thoughtsTokenCount", "toolUsePromptTokenCount", "trafficType", "responseTokenCount",
    "promptTokensDetails", "candidatesTokensDetails", "cacheTokensDetails", "toolUsePromptTokensDetails",
    "responseTokensDetails",
)  # fmt: skip
_GEMINI_DETAILS = ("modality", "tokenCount")


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _gemini() -> frozenset[str]:
    names: set[str] = set()
    for style in (str, _snake):
        for field in _GEMINI_CAMEL:
            names.add(style(field))
            if field.endswith("Details"):
                names |= {f"{style(field)}[].{style(d)}" for d in _GEMINI_DETAILS}
    # The Interactions API
    names |= {"total_input_tokens", "total_output_tokens", "total_thought_tokens", "total_cached_tokens",
              "total_tokens", "total_tool_use_tokens"}  # fmt: skip
    for by in ("input", "output", "cached", "tool_use"):  # per-modality breakdowns of those totals
        names |= {f"{by}_tokens_by_modality", f"{by}_tokens_by_modality[].modality",
                  f"{by}_tokens_by_modality[].tokens"}  # fmt: skip
    return frozenset(names)


_BEDROCK = frozenset(
    {
        "inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens", "cacheWriteInputTokens",
        "cacheReadInputTokenCount", "cacheWriteInputTokenCount", "cacheDetails", "cacheDetails[].ttl",
        "cacheDetails[].inputTokens",
    }
)  # fmt: skip
_COHERE = frozenset(
    {
        "billed_units", "billed_units.input_tokens", "billed_units.output_tokens",
        "billed_units.search_units",
        "billed_units.classifications", "tokens", "tokens.input_tokens", "tokens.output_tokens",
        "cached_tokens",
    }
)  # fmt: skip

KNOWN: dict[str, frozenset[str]] = {
    "openai": _OPENAI,
    "azure.ai.openai": _OPENAI,
    "x_ai": _OPENAI,
    "groq": _OPENAI,
    "deepseek": _OPENAI,
    "mistral_ai": _OPENAI,
    "anthropic": _ANTHROPIC,
    "gcp.gemini": _gemini(),
    "gcp.vertex_ai": _gemini() | _OPENAI,  # Vertex also serves the OpenAI-compatible API
    # InvokeModel returns the model's own body: Claude on Bedrock answers with Anthropic's usage.
    "aws.bedrock": _BEDROCK | _ANTHROPIC,
    "cohere": _COHERE,
}


def usage_object(data: dict[str, Any]) -> dict[str, Any] | None:
    """The provider's usage object of a usage event's data, when there is one to compare (streams and OTel
    attributes are left out: their shapes are the OTLP helper's and the stream parsers' business)."""
    usage = data.get("usage")
    if isinstance(usage, dict):
        return None if any(isinstance(k, str) and k.startswith("gen_ai.") for k in usage) else usage
    resp = data.get("response")
    if isinstance(resp, dict):
        for key in ("usage", "usageMetadata", "usage_metadata"):
            if isinstance(resp.get(key), dict):
                return resp[key]
        meta = resp.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("billed_units"), dict):
            return meta
    return None


def _paths(obj: dict[str, Any], prefix: str = "", depth: int = 0):
    for key, value in obj.items():
        path = f"{prefix}{key}"
        yield path, value
        if depth >= MAX_DEPTH:
            continue
        if isinstance(value, dict):
            yield from _paths(value, path + ".", depth + 1)
        elif isinstance(value, list):
            for item in value[:5]:
                if isinstance(item, dict):
                    yield from _paths(item, path + "[].", depth + 1)


def _all_known(obj: dict[str, Any], known: frozenset[str], prefix: str = "", depth: int = 0) -> bool:
    """The common case, answered fast (this runs for every usage event ingested)."""
    for key, value in obj.items():
        path = prefix + key if prefix else key
        if path not in known:
            return False
        if depth < MAX_DEPTH and type(value) is dict and not _all_known(value, known, path + ".", depth + 1):
            return False
        if depth < MAX_DEPTH and type(value) is list:
            for item in value[:5]:
                if type(item) is dict and not _all_known(item, known, path + "[].", depth + 1):
                    return False
    return True


def unknown_fields(provider: str | None, data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(provider, field path, example) for each field of the payload's usage object the normalizer does not
    know; [] for providers it has no list for."""
    known = KNOWN.get(provider) if provider in KNOWN else None  # stored events name it canonically
    name = provider
    if known is None:
        name = canonical_provider(provider) if isinstance(provider, str) and provider.strip() else None
        known = KNOWN.get(name or "")
    usage = usage_object(data) if known is not None else None
    if usage is None or _all_known(usage, known):
        return []
    out: dict[str, tuple[str, str, str]] = {}
    for path, value in _paths(usage):
        if (
            path in known
            or path in out
            or any(path.startswith(p + ".") or path.startswith(p + "[]") for p in out)
        ):
            continue  # known, or inside an unknown field already listed
        example = orjson.dumps(value, default=str).decode()[:MAX_EXAMPLE_CHARS]
        out[path] = (name, path[:MAX_FIELD_CHARS], example)
        if len(out) >= MAX_FIELDS:
            break
    return list(out.values())
