"""OpenTelemetry GenAI span attributes, flat (``{"gen_ai.usage.input_tokens": 5}``) or OTLP/JSON.

By the current registry gen_ai.usage.input_tokens INCLUDES cache reads/creation, but several
instrumentations export Anthropic/Bedrock's exclusive count; see ``attributes_usage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._base import Counts, UsageError, opt_count
from .names import canonical_provider

USAGE_PREFIX = "gen_ai.usage."
_EXCLUSIVE_PROVIDERS = frozenset({"anthropic", "aws.bedrock"})
_DEFAULT_TIERS = frozenset({"default", "auto", "standard"})


def _first(attrs: dict[str, Any], keys: tuple[str, ...], path: str) -> int | None:
    for k in keys:
        if attrs.get(k) is not None:
            return opt_count(attrs, k, path)
    return None


def attributes_usage(
    attrs: dict[str, Any], path: str, provider_hint: str | None, scope: str | None = None
) -> tuple[str | None, str | None, Counts]:
    """-> (canonical provider or None, response/request model, counts)."""
    raw_provider = attrs.get("gen_ai.provider.name")
    legacy = False
    if not raw_provider:
        raw_provider = attrs.get("gen_ai.system")
        legacy = bool(raw_provider)
    provider = (
        canonical_provider(raw_provider) if type(raw_provider) is str and raw_provider else provider_hint
    )
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    if model is not None and type(model) is not str:
        raise UsageError(path + ".gen_ai.response.model", "expected a string")

    inp = _first(attrs, ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"), path) or 0
    out = _first(attrs, ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"), path) or 0
    cr = (
        _first(attrs, ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"), path)
        or 0
    )
    cw = (
        _first(
            attrs,
            ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"),
            path,
        )
        or 0
    )
    reasoning = _first(attrs, ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"), path)
    total = _first(attrs, ("gen_ai.usage.total_tokens", "llm.usage.total_tokens"), path)

    warnings: tuple[str, ...] = ()
    who = f" (scope {scope})" if scope else ""
    if cr + cw > inp:
        inp += cr + cw
        warnings = (f"otel input_tokens smaller than cache tokens: input excluded cache, added back{who}",)
    elif legacy and cr + cw and provider in _EXCLUSIVE_PROVIDERS:
        inp += cr + cw
        warnings = (
            f"legacy gen_ai.system {provider} attributes: assumed input excluded cache, added back{who}",
        )

    ctx = None
    tier = attrs.get("openai.response.service_tier") or attrs.get("gen_ai.openai.response.service_tier")
    if type(tier) is str and tier.lower() not in _DEFAULT_TIERS:
        ctx = {"service_tier": tier.lower()}
    return provider, model, Counts(inp, out, cr, cw, None, None, reasoning, total, 0, ctx, warnings)


def _any_value(v: Any) -> Any:
    if type(v) is not dict:
        return v
    for k in ("stringValue", "intValue", "doubleValue", "boolValue"):
        if k in v:
            return v[k]
    return None


def otlp_attributes(kvs: Any) -> dict[str, Any]:
    if type(kvs) is dict:  # already flat
        return kvs
    out: dict[str, Any] = {}
    if type(kvs) is list:
        for kv in kvs:
            if type(kv) is dict and type(kv.get("key")) is str:
                out[kv["key"]] = _any_value(kv.get("value"))
    return out


def otlp_usage_spans(payload: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """Yield (path, flat attributes, "scope@version") for every span that carries gen_ai.usage.*."""
    for ri, rs in enumerate(payload.get("resourceSpans") or ()):
        if type(rs) is not dict:
            continue
        for si, ss in enumerate(rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ()):
            if type(ss) is not dict:
                continue
            scope_obj = ss.get("scope") or ss.get("instrumentationLibrary") or {}
            scope = None
            if type(scope_obj) is dict and scope_obj.get("name"):
                scope = f"{scope_obj.get('name')}@{scope_obj.get('version') or '?'}"
            for pi, span in enumerate(ss.get("spans") or ()):
                if type(span) is not dict:
                    continue
                attrs = otlp_attributes(span.get("attributes"))
                if any(k.startswith(USAGE_PREFIX) for k in attrs):
                    yield f"{path}.resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}].attributes", attrs, scope
