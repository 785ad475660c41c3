"""Price normalized usage with the pinned genai-prices snapshot plus operator overrides.

Money is integer nano-dollars end to end; Decimal only in between; never float.

Measured on the dev container (Python 3.11, genai-prices 0.2.3, timeit, best of 3):
  * ``genai_prices.calc_price``: ~53-65 µs per call even when its own lookup cache hits (registry
    walk, price validation and ``Usage`` construction on every call) -- too slow for 25,000 events/s.
  * So the matched model (misses too) and each resolved (model, price period, price context) price
    are cached, and the arithmetic runs on a compiled :class:`~helicarrier.pricing._plan.PricePlan`:
    ``PriceBook.price`` costs ~3.5-5 µs on a cache hit, ~1 µs for a cached unknown model, ~30 µs
    when only the day's plan is new, ~55 µs for a first sight of a model (up to ~200 µs to learn
    that a model is unknown to a large provider list such as openrouter).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genai_prices.data import providers as _BUNDLED_PROVIDERS  # the bundled snapshot, never the updater's
from genai_prices.types import ClauseEquals, ClauseOr, ModelInfo, Provider, TimeOfDateConstraint

from helicarrier.ingest.normalize import NO_USAGE_WARNING, NormalizedUsage, canonical_provider
from helicarrier.money import NANOS_PER_USD, usd_to_nanos

from ._plan import PricePlan
from .records import DEFAULT_PRICING_VERSION, Cost, ModelPriceOverride

__all__ = [
    "DEFAULT_PRICING_VERSION",
    "GENAI_PROVIDER_IDS",
    "NANOS_PER_USD",
    "Cost",
    "ModelPriceOverride",
    "PriceBook",
    "usd_to_nanos",
]

# OTel provider name -> genai-prices provider id. Explicit, because genai-prices' own provider
# matcher is fuzzy ("azure.ai.openai" contains "openai" and would price Azure as OpenAI).
GENAI_PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "mistral_ai": "mistral",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "groq": "groq",
    "perplexity": "perplexity",
}

_HUNDRED = Decimal(100)
_MTOK = 1_000_000
_MAX_CACHE = 65_536  # entries; cleared wholesale when exceeded (keys are few in practice)
_MISS: Any = object()


class _Match:
    """A resolved genai-prices model plus what is needed to key and grade its prices."""

    __slots__ = (
        "provider_id",
        "model_id",
        "model",
        "in_own_list",
        "tod",
        "provenance",
        "confidence",
        "reason",
    )

    def __init__(
        self, provider_id: str, model: ModelInfo, in_own_list: bool, exact: bool, ref: str, via: str
    ):
        self.provider_id = provider_id  # owner of the price list actually used
        self.model_id = model.id
        self.model = model
        self.in_own_list = in_own_list  # genai-prices ignores price_context for fallback-provider models
        self.tod = _time_of_day_constraints(model)
        if not in_own_list:
            self.provenance, self.confidence = "estimated", "medium"
            self.reason: str | None = (
                f"{via} lists no price for {ref!r}; used {provider_id} price of {model.id!r}"
            )
        elif exact:
            self.provenance, self.confidence, self.reason = "computed", "high", None
        else:
            self.provenance, self.confidence = "computed", "medium"
            self.reason = f"fuzzy model match {ref!r} -> {model.id!r}"


def _time_of_day_constraints(model: ModelInfo) -> tuple[TimeOfDateConstraint, ...]:
    found: list[TimeOfDateConstraint] = []
    if isinstance(model.prices, list):
        found += [c.constraint for c in model.prices if isinstance(c.constraint, TimeOfDateConstraint)]
    for v in model.price_variants or ():
        if isinstance(v.constraint, TimeOfDateConstraint):
            found.append(v.constraint)
    return tuple(found)


def _is_exact(model: ModelInfo, ref: str) -> bool:
    """The id itself, or a curated ``equals`` alias; prefix/contains/regex matches are fuzzy."""
    if model.id.lower() == ref:
        return True
    clause = model.match
    clauses = clause.or_ if isinstance(clause, ClauseOr) else [clause]
    return any(isinstance(c, ClauseEquals) and c.equals.lower() == ref for c in clauses)


def _utc(ts: datetime) -> datetime:
    tz = ts.tzinfo
    if tz is UTC:
        return ts
    if tz is None:  # naive timestamps are UTC, as in genai-prices
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


class PriceBook:
    """Prices :class:`NormalizedUsage` records; thread-safe enough (caches are idempotent dicts)."""

    def __init__(
        self, version: str = DEFAULT_PRICING_VERSION, overrides: Sequence[ModelPriceOverride] = ()
    ) -> None:
        # The label must name the installed data: the package version IS the data version.
        if version != DEFAULT_PRICING_VERSION and not version.startswith(DEFAULT_PRICING_VERSION + "+"):
            raise ValueError(
                f"pricing version {version!r} does not match installed {DEFAULT_PRICING_VERSION!r} "
                "(a local suffix such as '+overrides-2' is allowed)"
            )
        self.version = version
        self.overrides = tuple(overrides)
        self._providers: dict[str, Provider] = {p.id: p for p in _BUNDLED_PROVIDERS}
        self._exact_ov: dict[tuple[str, str], ModelPriceOverride] = {}
        prefix: list[tuple[int, int, str, str, ModelPriceOverride]] = []
        for ov in self.overrides:
            if ov.model.endswith("*"):
                stem = ov.model[:-1]
                prefix.append((-len(stem), ov.provider == "*", ov.provider, stem, ov))
            else:
                self._exact_ov.setdefault((ov.provider, ov.model), ov)
        prefix.sort(key=lambda t: (t[0], t[1]))  # longest prefix first, provider-specific before "*"
        self._prefix_ov = [(p, stem, ov) for _, _, p, stem, ov in prefix]
        self._ov_cache: dict[tuple[str, str], ModelPriceOverride | None] = {}
        self._match_cache: dict[tuple[str, str], _Match | str] = {}
        self._plans: dict[tuple[Any, ...], PricePlan] = {}

    # -- lookups ---------------------------------------------------------------------------------

    def _override(self, provider: str, model: str) -> ModelPriceOverride | None:
        key = (provider, model)
        ov = self._ov_cache.get(key, _MISS)
        if ov is _MISS:
            if not self.overrides:
                ov = None
            else:
                ov = self._find_override(canonical_provider(provider), model.lower())
            if len(self._ov_cache) > _MAX_CACHE:
                self._ov_cache.clear()
            self._ov_cache[key] = ov
        return ov

    def _find_override(self, provider: str, model: str) -> ModelPriceOverride | None:
        for prov in (provider, "*"):
            ov = self._exact_ov.get((prov, model))
            if ov is not None:
                return ov
        for prov, stem, ov in self._prefix_ov:
            if (prov == provider or prov == "*") and model.startswith(stem):
                return ov
        return None

    def _match(self, provider: str, model: str) -> _Match | str:
        """Cached genai-prices model match, or the reason there is none (misses are cached too)."""
        key = (provider, model)
        m = self._match_cache.get(key)
        if m is None:
            m = self._lookup(provider, model)
            if len(self._match_cache) > _MAX_CACHE:
                self._match_cache.clear()
            self._match_cache[key] = m
        return m

    def _lookup(self, provider: str, model: str) -> _Match | str:
        canonical = canonical_provider(provider)
        gp_id = GENAI_PROVIDER_IDS.get(canonical) or (canonical if canonical in self._providers else None)
        if gp_id is None or gp_id not in self._providers:
            return f"no genai-prices provider for {canonical!r}"
        gp = self._providers[gp_id]
        ref = model.lower()
        info = gp.find_model(ref, all_providers=_BUNDLED_PROVIDERS)
        if info is None:
            return f"unknown model {model!r} for genai-prices provider {gp_id!r}"
        own = any(info is m for m in gp.models)
        owner = gp_id
        if not own:
            owner = next((p.id for p in _BUNDLED_PROVIDERS if any(info is m for m in p.models)), gp_id)
        return _Match(owner, info, own, _is_exact(info, ref), model, gp_id)

    def _plan(self, m: _Match, ts: datetime, ctx_key: tuple[tuple[str, str], ...]) -> PricePlan:
        period: Any = ts.date()
        if m.tod:
            period = (period, tuple(c.active(ts) for c in m.tod))
        key = (m.provider_id, m.model_id, period, ctx_key)
        plan = self._plans.get(key)
        if plan is None:
            plan = PricePlan(m.model.get_prices(ts, dict(ctx_key) if ctx_key else None))
            if len(self._plans) > _MAX_CACHE:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def match(self, provider: str, model: str) -> tuple[str, str] | None:
        """(provider_id, model_id) that would price this model, or None."""
        ov = self._override(provider, model)
        if ov is not None and ov.explicit:
            return (
                canonical_provider(provider) if ov.provider == "*" else ov.provider,
                model if "*" in ov.model else ov.model,
            )
        m = self._match(provider, model)
        return None if isinstance(m, str) else (m.provider_id, m.model_id)

    def knows_model(self, provider: str, model: str) -> bool:
        """Whether usage for this model would be priced (validates "switch agent to model X")."""
        return bool(model) and self.match(provider, model) is not None

    # -- pricing ---------------------------------------------------------------------------------

    def _no_price(
        self,
        ts: datetime,
        reported: int | None,
        reason: str,
        provider_id: str | None = None,
        model_id: str | None = None,
    ) -> Cost:
        if reported is not None:
            return Cost(
                reported,
                None,
                None,
                self.version,
                provider_id,
                model_id,
                ts,
                "reported",
                "medium",
                reported,
                reason,
            )
        return Cost(
            None, None, None, self.version, provider_id, model_id, ts, "unpriced", "none", None, reason
        )

    def price(self, usage: NormalizedUsage, ts: datetime) -> Cost:
        """Price one record at its request timestamp ``ts``.

        ~3.5-5 µs on cache hits, ~30-55 µs on the first event of a (model, day, price context);
        see the module docstring.
        """
        ts = _utc(ts)
        reported_usd = usage.reported_cost_usd
        reported = usd_to_nanos(reported_usd) if reported_usd is not None else None
        model = usage.model
        if not model:
            return self._no_price(ts, reported, "usage has no model")
        warnings = usage.warnings
        if warnings and NO_USAGE_WARNING in warnings:
            return self._no_price(ts, reported, "provider reported no usage")
        provider = usage.provider

        ov = self._override(provider, model) if self.overrides else None
        if ov is not None and ov.explicit:
            return self._price_override(usage, ov, ts, reported)

        m = self._match(provider, model)
        if type(m) is str:
            return self._no_price(ts, reported, m)
        ctx = usage.price_context
        ctx_key = tuple(sorted(ctx.items())) if ctx and m.in_own_list else ()
        plan = self._plan(m, ts, ctx_key)
        values = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "web_searches": usage.web_search_requests,
        }
        if usage.cache_write_1h_tokens is not None:
            values["cache_write_1h_tokens"] = usage.cache_write_1h_tokens
        if usage.cache_write_5m_tokens is not None:
            values["cache_write_5m_tokens"] = usage.cache_write_5m_tokens
        if usage.reasoning_tokens is not None:
            values["output_reasoning_tokens"] = usage.reasoning_tokens
        try:
            nanos = plan.nanos(values) if ov is None else None
            if nanos is None:
                total, inp, out = plan.usd(values)
                if ov is not None:  # discount off the genai-prices price
                    factor = (_HUNDRED - ov.discount_pct) / _HUNDRED  # type: ignore[operator]
                    total, inp, out = total * factor, inp * factor, out * factor
                nanos = usd_to_nanos(total), usd_to_nanos(inp), usd_to_nanos(out)
        except ValueError as e:
            return self._no_price(ts, reported, f"inconsistent usage: {e}", m.provider_id, m.model_id)

        confidence, reason = m.confidence, m.reason
        if warnings or (ctx and ctx.get("traffic_type") == "PROVISIONED_THROUGHPUT"):
            confidence, reason = "low", _low_reason(reason, warnings, ctx)
        return Cost(
            *nanos,
            self.version,
            m.provider_id,
            m.model_id,
            ts,
            m.provenance,
            confidence,
            reported,
            reason,
        )

    def _price_override(
        self, usage: NormalizedUsage, ov: ModelPriceOverride, ts: datetime, reported: int | None
    ) -> Cost:
        provider_id = canonical_provider(usage.provider) if ov.provider == "*" else ov.provider
        model_id = usage.model if "*" in ov.model else ov.model
        in_p = ov.input_usd_per_mtok
        out_p = ov.output_usd_per_mtok
        assert in_p is not None and out_p is not None  # enforced in __post_init__
        cr, cw = usage.cache_read_tokens, usage.cache_write_tokens
        uncached = usage.input_tokens - cr - cw
        if uncached < 0:
            return self._no_price(
                ts, reported, "inconsistent usage: cache tokens exceed input", provider_id, model_id
            )
        cr_p = ov.cache_read_usd_per_mtok if ov.cache_read_usd_per_mtok is not None else in_p
        cw_p = ov.cache_write_usd_per_mtok if ov.cache_write_usd_per_mtok is not None else in_p
        inp = (uncached * in_p + cr * cr_p + cw * cw_p) / _MTOK
        out = usage.output_tokens * out_p / _MTOK
        confidence, reason = "high", None
        if usage.web_search_requests:
            confidence, reason = "medium", "web searches are not priced by the override"
        if usage.warnings:
            confidence, reason = "low", _low_reason(reason, usage.warnings, None)
        return Cost(
            usd_to_nanos(inp + out),
            usd_to_nanos(inp),
            usd_to_nanos(out),
            self.version,
            provider_id,
            model_id,
            ts,
            "computed",
            confidence,
            reported,
            reason,
        )


def _low_reason(reason: str | None, warnings: tuple[str, ...], ctx: dict[str, str] | None) -> str:
    parts = [reason] if reason else []
    if ctx and ctx.get("traffic_type") == "PROVISIONED_THROUGHPUT":
        parts.append("provisioned throughput: per-token list price is only an estimate")
    if warnings:
        parts.append("usage warnings: " + "; ".join(warnings))
    return "; ".join(parts)
