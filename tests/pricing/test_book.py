"""PriceBook: known figures from the provider-usage notes (checked against genai-prices 0.2.3),
provenance/confidence rules, overrides, and equality with genai_prices.calc_price."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from helicarrier.ingest.normalize import NO_USAGE_WARNING, NormalizedUsage, normalize_usage
from helicarrier.pricing import (
    DEFAULT_PRICING_VERSION,
    GENAI_PROVIDER_IDS,
    NANOS_PER_USD,
    Cost,
    ModelPriceOverride,
    PriceBook,
    usd_to_nanos,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
TS = datetime(2026, 3, 1, 12, tzinfo=UTC)
BOOK = PriceBook()


def usage(
    provider: str,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    **kw: Any,
) -> NormalizedUsage:
    fields: dict[str, Any] = {
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_5m_tokens": None,
        "cache_write_1h_tokens": None,
        "reasoning_tokens": None,
        "reported_total_tokens": None,
        "web_search_requests": 0,
        "reported_cost_usd": None,
        "price_context": {},
        "warnings": (),
    }
    fields.update(kw)
    return NormalizedUsage(
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        **fields,
    )


def assert_no_float(cost: Cost) -> None:
    for f in dataclasses.fields(cost):
        value = getattr(cost, f.name)
        assert not isinstance(value, float), f.name
    for name in ("total_nanos", "input_nanos", "output_nanos", "reported_nanos"):
        value = getattr(cost, name)
        assert value is None or type(value) is int, name


def test_pricing_version_is_the_package_version() -> None:
    assert DEFAULT_PRICING_VERSION == "genai-prices-0.2.3"
    assert NANOS_PER_USD == 10**9
    assert PriceBook(DEFAULT_PRICING_VERSION + "+ops-1").version.endswith("+ops-1")
    with pytest.raises(ValueError) as err:
        PriceBook("genai-prices-9.9.9")
    # the operator who labelled a price table for other data reads what is installed and what is allowed
    assert str(err.value) == (
        "pricing version 'genai-prices-9.9.9' does not match installed 'genai-prices-0.2.3' "
        "(a local suffix such as '+overrides-2' is allowed)"
    )


def test_o3_dated_price_cut() -> None:
    u = usage("openai", "o3", 1_000_000, 100_000)
    before = BOOK.price(u, datetime(2025, 6, 1, tzinfo=UTC))
    after = BOOK.price(u, datetime(2025, 7, 1, tzinfo=UTC))
    assert before.total_nanos == 14 * NANOS_PER_USD
    assert after.total_nanos == 2_800_000_000
    assert before.price_ts == datetime(2025, 6, 1, tzinfo=UTC)
    assert (before.provenance, before.confidence, before.matched_model) == ("computed", "high", "o3")
    assert_no_float(before)


def test_timestamp_normalized_to_utc() -> None:
    u = usage("openai", "o3", 1_000_000, 100_000)
    # the o3 cut starts 2025-06-10 (UTC); 01:00 there in UTC+2 is still 2025-06-09 in UTC
    local = datetime(2025, 6, 10, 1, tzinfo=timezone(timedelta(hours=2)))
    cost = BOOK.price(u, local)
    assert cost.total_nanos == 14 * NANOS_PER_USD
    assert cost.price_ts.tzinfo is UTC and cost.price_ts.day == 9
    naive = BOOK.price(u, datetime(2025, 6, 10))  # naive = UTC, and the cost says so
    assert naive.total_nanos == 2_800_000_000
    assert naive.price_ts == datetime(2025, 6, 10, tzinfo=UTC) and naive.price_ts.tzinfo is UTC


@pytest.mark.parametrize(
    ("tier", "nanos"), [(None, 45_500_000), ("flex", 22_750_000), ("priority", 91_000_000)]
)
def test_gpt_5_2_service_tier_context(tier: str | None, nanos: int) -> None:
    ctx = {"service_tier": tier} if tier else {}
    cost = BOOK.price(
        usage("openai", "gpt-5.2", 10_000, 2_000, price_context=ctx), datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert cost.total_nanos == nanos


@pytest.mark.parametrize(("prompt", "nanos"), [(100_000, 135_000_000), (300_000, 765_000_000)])
def test_gemini_2_5_pro_long_context_tier(prompt: int, nanos: int) -> None:
    # tier keyed on TOTAL input, applies to the whole prompt and the output
    cost = BOOK.price(usage("gcp.gemini", "gemini-2.5-pro", prompt, 1_000), TS)
    assert cost.total_nanos == nanos
    assert cost.matched_provider == "google"


def test_unknown_model_is_unpriced_none_not_zero() -> None:
    cost = BOOK.price(usage("openai", "gpt-nonexistent-9", 100, 10), TS)
    assert cost.total_nanos is None and cost.input_nanos is None and cost.output_nanos is None
    assert (cost.provenance, cost.confidence) == ("unpriced", "none")
    assert cost.reason and "unknown model" in cost.reason
    assert not BOOK.knows_model("openai", "gpt-nonexistent-9")


def test_unknown_provider_and_missing_model_unpriced() -> None:
    assert BOOK.price(usage("ibm.watsonx.ai", "granite-3", 1, 1), TS).provenance == "unpriced"
    no_model = BOOK.price(usage("aws.bedrock", None, 1, 1), TS)
    assert no_model.total_nanos is None and no_model.reason == "usage has no model"


def test_inconsistent_usage_unpriced_with_reason() -> None:
    cost = BOOK.price(usage("openai", "gpt-4o", 10, 20, cache_read_tokens=30), TS)
    assert cost.total_nanos is None and cost.provenance == "unpriced"
    assert cost.reason and cost.reason.startswith("inconsistent usage")
    assert cost.matched_model == "gpt-4o"


def test_stream_without_usage_is_unpriced_not_zero() -> None:
    cost = BOOK.price(usage("openai", "gpt-4o", 0, 0, warnings=(NO_USAGE_WARNING,)), TS)
    assert cost.total_nanos is None and cost.provenance == "unpriced"


def test_a_call_without_a_model_or_usage_keeps_its_time_reason_and_reported_cost() -> None:
    """Nothing to price by: the cost still carries the request's time, why it is not priced, and what the
    provider billed (which then stands as the cost)."""
    billed = Decimal("0.25")
    no_model = BOOK.price(usage("aws.bedrock", None, 1, 1, reported_cost_usd=billed), TS)
    assert no_model == Cost(
        250_000_000,
        None,
        None,
        BOOK.version,
        None,
        None,
        TS,
        "reported",
        "medium",
        250_000_000,
        "usage has no model",
    )
    empty = usage("openai", "gpt-4o", 0, 0, warnings=(NO_USAGE_WARNING,), reported_cost_usd=billed)
    assert BOOK.price(empty, TS) == dataclasses.replace(no_model, reason="provider reported no usage")
    unbilled = BOOK.price(dataclasses.replace(empty, reported_cost_usd=None), TS)
    assert (unbilled.total_nanos, unbilled.provenance, unbilled.price_ts, unbilled.reason) == (
        None,
        "unpriced",
        TS,
        "provider reported no usage",
    )


def test_reported_cost_kept_beside_computed() -> None:
    u = usage("openai", "o3", 1_000_000, 100_000, reported_cost_usd=Decimal("2.799999999"))
    cost = BOOK.price(u, datetime(2025, 7, 1, tzinfo=UTC))
    assert cost.total_nanos == 2_800_000_000 and cost.reported_nanos == 2_799_999_999
    assert cost.provenance == "computed"
    only = BOOK.price(usage("openai", "my-finetune-x", 5, 5, reported_cost_usd=Decimal("0.0000012345")), TS)
    assert (only.total_nanos, only.reported_nanos, only.provenance) == (1234, 1234, "reported")
    assert only.reason and "unknown model" in only.reason
    assert_no_float(only)


def test_nanos_round_half_even() -> None:
    assert usd_to_nanos(Decimal("0.0000000005")) == 0
    assert usd_to_nanos(Decimal("0.0000000015")) == 2
    assert usd_to_nanos(Decimal("1.25")) == 1_250_000_000


def test_fuzzy_match_recorded_with_medium_confidence() -> None:
    cost = BOOK.price(usage("anthropic", "claude-3-5-haiku-20241022", 25, 7), TS)
    assert (cost.matched_provider, cost.matched_model) == ("anthropic", "claude-3-5-haiku-latest")
    assert cost.confidence == "medium" and cost.reason and "fuzzy" in cost.reason
    assert cost.total_nanos == 48_000
    assert BOOK.match("anthropic", "claude-3-5-haiku-20241022") == ("anthropic", "claude-3-5-haiku-latest")
    bedrock = BOOK.match("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert bedrock == ("aws", "regional.anthropic.claude-sonnet-4-5-20250929-v1:0")


def test_usage_warnings_lower_confidence() -> None:
    cost = BOOK.price(usage("openai", "gpt-4o", 100, 10, warnings=("total mismatch: x",)), TS)
    assert cost.provenance == "computed" and cost.confidence == "low"
    assert cost.reason and "total mismatch" in cost.reason


def test_provider_mapping() -> None:
    assert GENAI_PROVIDER_IDS["x_ai"] == "x-ai"
    assert BOOK.match("x_ai", "grok-4") == ("x-ai", "grok-4-0709")
    assert BOOK.match("xai", "grok-4") == ("x-ai", "grok-4-0709")
    assert BOOK.match("azure.ai.openai", "gpt-4o") is not None
    assert BOOK.match("mistral_ai", "mistral-large-latest") == ("mistral", "mistral-large")
    assert BOOK.knows_model("gcp.vertex_ai", "gemini-2.5-pro")
    assert BOOK.knows_model("openai", "GPT-4o")  # case-insensitive
    assert not BOOK.knows_model("openai", "")


def test_web_search_billed_per_request() -> None:
    doc = json.loads((FIXTURES / "anthropic_messages__full.json").read_text())
    u = normalize_usage({"provider": "anthropic", "response": doc["payload"]})
    assert BOOK.price(u, TS).total_nanos == 29_464_450  # notes: $0.029464 with, $0.019464 without
    assert BOOK.price(dataclasses.replace(u, web_search_requests=0), TS).total_nanos == 19_464_450


def test_explicit_override_prices_unknown_model() -> None:
    ov = ModelPriceOverride(
        provider="openai",
        model="acme-ft-*",
        input_usd_per_mtok=Decimal("2"),
        output_usd_per_mtok=Decimal("8"),
        cache_read_usd_per_mtok=Decimal("0.5"),
    )
    book = PriceBook(overrides=[ov])
    u = usage("openai", "acme-ft-2026-01", 1_000_000, 100_000, cache_read_tokens=400_000)
    cost = book.price(u, TS)
    # 600k * $2 + 400k * $0.5 + 100k * $8 per MTok
    assert cost.input_nanos == 1_400_000_000 and cost.output_nanos == 800_000_000
    assert cost.total_nanos == 2_200_000_000
    assert (cost.provenance, cost.confidence, cost.matched_provider) == ("computed", "high", "openai")
    assert book.knows_model("openai", "acme-ft-7") and not BOOK.knows_model("openai", "acme-ft-7")
    assert not book.knows_model("anthropic", "acme-ft-7")  # provider-scoped
    assert_no_float(cost)


def test_an_override_for_every_provider_prices_each_call_as_its_own_provider_and_model() -> None:
    """An operator's house price: cache writes at the input price unless given, every number exact, the
    call's own provider and model on the cost, and a confidence that says what the price leaves out."""
    ov = ModelPriceOverride("*", "house-*", input_usd_per_mtok=Decimal("3"), output_usd_per_mtok=Decimal("9"))
    book = PriceBook(overrides=[ov], version=f"{BOOK.version}+house-2")
    cost = book.price(usage("Anthropic", "house-7b", 1_000_000, 10_000, cache_write_tokens=1_000_000), TS)
    # All of the input was a cache write (none uncached): priced at the input price, not refused.
    assert (cost.input_nanos, cost.output_nanos, cost.total_nanos) == (
        3_000_000_000,
        90_000_000,
        3_090_000_000,
    )
    assert (cost.matched_provider, cost.matched_model) == ("anthropic", "house-7b")
    assert (cost.pricing_version, cost.price_ts, cost.provenance, cost.confidence, cost.reason) == (
        f"{BOOK.version}+house-2",
        TS,
        "computed",
        "high",
        None,
    )

    searched = book.price(usage("openai", "house-1", 1000, 10, web_search_requests=2), TS)
    assert (searched.confidence, searched.reason) == ("medium", "web searches are not priced by the override")
    warned = book.price(usage("openai", "house-1", 1000, 10, warnings=("odd", "odder")), TS)
    assert (warned.confidence, warned.reason) == ("low", "usage warnings: odd; odder")

    broken = book.price(usage("openai", "house-1", 100, 10, cache_read_tokens=101), TS)
    assert (broken.total_nanos, broken.provenance, broken.pricing_version) == (None, "unpriced", book.version)
    assert broken.reason == "inconsistent usage: cache tokens exceed input"
    assert (broken.matched_provider, broken.matched_model) == ("openai", "house-1")


def test_an_override_keeps_the_reported_cost_and_its_own_cache_write_price() -> None:
    """What the provider billed stays beside the house price, and stands in for it when the usage is
    inconsistent; a cache-write price, when given, is used for cache writes."""
    ov = ModelPriceOverride(
        "*",
        "house-*",
        input_usd_per_mtok=Decimal(3),
        output_usd_per_mtok=Decimal(9),
        cache_write_usd_per_mtok=Decimal(4),
    )
    book = PriceBook(overrides=[ov])
    written = usage(
        "openai", "house-1", 1_000_000, 0, cache_write_tokens=500_000, reported_cost_usd=Decimal("2.5")
    )
    cost = book.price(written, TS)
    # 500k uncached * $3 + 500k written * $4 per MTok
    assert (cost.total_nanos, cost.reported_nanos, cost.provenance) == (
        3_500_000_000,
        2_500_000_000,
        "computed",
    )

    broken = usage("openai", "house-1", 100, 10, cache_read_tokens=101, reported_cost_usd=Decimal("0.5"))
    assert book.price(broken, TS) == Cost(
        500_000_000,
        None,
        None,
        book.version,
        "openai",
        "house-1",
        TS,
        "reported",
        "medium",
        500_000_000,
        "inconsistent usage: cache tokens exceed input",
    )

    both = book.price(usage("openai", "house-1", 1000, 10, web_search_requests=1, warnings=("odd",)), TS)
    assert (both.confidence, both.reason) == (
        "low",
        "web searches are not priced by the override; usage warnings: odd",
    )


def test_a_reported_cost_stands_in_for_a_price_that_cannot_be_computed() -> None:
    """Inconsistent usage of a known model: the provider's own figure, marked reported, still names the
    model it was matched to and the request's time."""
    call = usage("openai", "gpt-4o", 10, 20, cache_read_tokens=30, reported_cost_usd=Decimal("0.000123"))
    cost = BOOK.price(call, TS)
    assert (cost.total_nanos, cost.input_nanos, cost.output_nanos, cost.reported_nanos) == (
        123_000,
        None,
        None,
        123_000,
    )
    assert (cost.pricing_version, cost.matched_provider, cost.matched_model, cost.price_ts) == (
        BOOK.version,
        "openai",
        "gpt-4o",
        TS,
    )
    assert (cost.provenance, cost.confidence) == ("reported", "medium")
    assert cost.reason and cost.reason.startswith("inconsistent usage: ")


def test_exact_override_beats_genai_prices_and_discount() -> None:
    book = PriceBook(
        overrides=[
            ModelPriceOverride(
                "openai", "o3", input_usd_per_mtok=Decimal("1"), output_usd_per_mtok=Decimal("4")
            ),
            ModelPriceOverride("*", "gpt-4o*", discount_pct=Decimal("25")),
        ]
    )
    o3 = book.price(usage("openai", "o3", 1_000_000, 100_000), datetime(2025, 7, 1, tzinfo=UTC))
    assert o3.total_nanos == 1_400_000_000
    base = BOOK.price(usage("azure.ai.openai", "gpt-4o", 1_000_000, 100_000), TS)
    discounted = book.price(usage("azure.ai.openai", "gpt-4o", 1_000_000, 100_000), TS)
    assert base.total_nanos is not None
    assert discounted.total_nanos == base.total_nanos * 3 // 4
    assert discounted.matched_model == base.matched_model
    # the discount applies to each side of the bill: $2.50 input and $1 output before it
    assert (base.input_nanos, base.output_nanos) == (2_500_000_000, 1_000_000_000)
    assert (discounted.input_nanos, discounted.output_nanos, discounted.total_nanos) == (
        1_875_000_000,
        750_000_000,
        2_625_000_000,
    )


def test_override_validation() -> None:
    with pytest.raises(TypeError):
        ModelPriceOverride("openai", "x", input_usd_per_mtok=1.5, output_usd_per_mtok=Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ModelPriceOverride("openai", "x", input_usd_per_mtok=Decimal(1))
    with pytest.raises(ValueError):
        ModelPriceOverride("openai", "x", discount_pct=Decimal(120))
    with pytest.raises(ValueError):
        ModelPriceOverride("openai", "x")


def test_a_model_its_provider_does_not_list_is_an_estimate_from_the_list_that_does() -> None:
    """Azure's own list has no gpt-4o: genai-prices falls back to OpenAI's. The operator sees OpenAI's
    price, marked estimated, and a reason naming both lists and the model as the call spelled it."""
    cost = BOOK.price(usage("azure.ai.openai", "GPT-4o", 1000, 100), TS)
    want = calc_price(
        Usage(input_tokens=1000, output_tokens=100), "gpt-4o", provider_id="azure", genai_request_timestamp=TS
    )
    assert cost.total_nanos == usd_to_nanos(want.total_price) == 3_500_000
    assert (cost.matched_provider, cost.matched_model) == ("openai", "gpt-4o")
    assert (cost.provenance, cost.confidence, cost.reason) == (
        "estimated",
        "medium",
        "azure lists no price for 'GPT-4o'; used openai price of 'gpt-4o'",
    )
    assert BOOK.match("azure.ai.openai", "GPT-4o") == ("openai", "gpt-4o")


def test_a_fallback_price_ignores_the_price_context_as_genai_prices_does() -> None:
    """A flex-tier call OpenAI would price at half is priced by Azure's fallback at the standard rate
    (genai-prices applies a price context only to a provider's own models)."""
    day = datetime(2026, 11, 1, tzinfo=UTC)
    flex = {"service_tier": "flex"}
    azure = BOOK.price(usage("azure.ai.openai", "gpt-5.2", 10_000, 2_000, price_context=flex), day)
    openai = BOOK.price(usage("openai", "gpt-5.2", 10_000, 2_000, price_context=flex), day)
    want = calc_price(
        Usage(input_tokens=10_000, output_tokens=2_000),
        "gpt-5.2",
        provider_id="azure",
        genai_request_timestamp=day,
        price_context=flex,
    )
    assert azure.total_nanos == usd_to_nanos(want.total_price) == 45_500_000
    assert openai.total_nanos == 22_750_000
    assert (azure.provenance, azure.confidence) == ("estimated", "medium")


@pytest.mark.parametrize(
    ("provider", "model", "matched"),
    [
        # the id itself, though the model's match rules are only "contains" rules
        ("gcp.vertex_ai", "claude-sonnet-4-5", ("google", "claude-sonnet-4-5")),
        # a curated alias among several, in the caller's capitals
        ("gcp.gemini", "Gemini-2.5-Flash-Latest", ("google", "gemini-2.5-flash")),
        # the model's only rule is one alias; a provider genai-prices knows though OTel names no such one
        ("fireworks", "accounts/fireworks/models/deepseek-r1-0528", ("fireworks", "deepseek-r1-0528")),
    ],
)
def test_an_id_or_a_curated_alias_is_an_exact_match_with_high_confidence(
    provider: str, model: str, matched: tuple[str, str]
) -> None:
    cost = BOOK.price(usage(provider, model, 1000, 100), TS)
    assert cost.total_nanos
    assert (cost.matched_provider, cost.matched_model) == matched
    assert (cost.provenance, cost.confidence, cost.reason) == ("computed", "high", None)
    assert BOOK.match(provider, model) == matched


def test_a_prefix_match_is_fuzzy_even_when_the_model_has_an_alias_too() -> None:
    cost = BOOK.price(usage("anthropic", "claude-haiku-5-5-20260101", 1000, 100), TS)
    assert (cost.matched_provider, cost.matched_model, cost.total_nanos) == (
        "anthropic",
        "claude-haiku-5-5",
        150_000,
    )
    assert (cost.provenance, cost.confidence, cost.reason) == (
        "computed",
        "medium",
        "fuzzy model match 'claude-haiku-5-5-20260101' -> 'claude-haiku-5-5'",
    )


def _vertex_call(model: str, traffic_type: str) -> NormalizedUsage:
    response = {
        "modelVersion": model,
        "usageMetadata": {
            "promptTokenCount": 1000,
            "candidatesTokenCount": 100,
            "totalTokenCount": 1100,
            "trafficType": traffic_type,
        },
    }
    return normalize_usage({"provider": "gcp.vertex_ai", "response": response})


def test_provisioned_throughput_keeps_the_list_price_with_low_confidence_and_says_why() -> None:
    """Vertex AI's prepaid capacity: the per-token list price is shown, but as a low-confidence estimate."""
    on_demand = BOOK.price(_vertex_call("gemini-2.5-pro", "ON_DEMAND"), TS)
    provisioned = BOOK.price(_vertex_call("gemini-2.5-pro", "PROVISIONED_THROUGHPUT"), TS)
    assert on_demand.total_nanos == provisioned.total_nanos == 2_250_000
    assert (on_demand.confidence, on_demand.reason) == ("high", None)
    assert (provisioned.provenance, provisioned.confidence, provisioned.reason) == (
        "computed",
        "low",
        "provisioned throughput: per-token list price is only an estimate",
    )


def test_a_low_confidence_reason_keeps_every_cause_in_order() -> None:
    """Fuzzy match, provisioned throughput and usage warnings together: the reason lists all three."""
    call = dataclasses.replace(
        _vertex_call("claude-sonnet-4@20250514", "PROVISIONED_THROUGHPUT"), warnings=("a", "b")
    )
    cost = BOOK.price(call, TS)
    assert (cost.matched_provider, cost.matched_model, cost.total_nanos) == (
        "google",
        "claude-4-sonnet",
        4_500_000,
    )
    assert (cost.provenance, cost.confidence) == ("computed", "low")
    assert cost.reason == (
        "fuzzy model match 'claude-sonnet-4@20250514' -> 'claude-4-sonnet'; "
        "provisioned throughput: per-token list price is only an estimate; usage warnings: a; b"
    )
    fallback = BOOK.price(usage("azure.ai.openai", "gpt-4o", 1000, 100, warnings=("odd",)), TS)
    assert (fallback.provenance, fallback.confidence, fallback.reason) == (
        "estimated",
        "low",
        "azure lists no price for 'gpt-4o'; used openai price of 'gpt-4o'; usage warnings: odd",
    )


def test_match_names_what_an_override_prices_as() -> None:
    """What "switch agent to model X" validates against: an override's provider and model as the price
    will carry them (the call's own for wildcards, the override's for an exact one)."""
    book = PriceBook(
        overrides=[
            ModelPriceOverride("*", "house-*", input_usd_per_mtok=Decimal(3), output_usd_per_mtok=Decimal(9)),
            ModelPriceOverride("openai", "o3", input_usd_per_mtok=Decimal(1), output_usd_per_mtok=Decimal(4)),
            ModelPriceOverride("*", "gpt-4o", discount_pct=Decimal(10)),
        ]
    )
    assert book.match("Anthropic", "house-7B") == ("anthropic", "house-7B")
    assert book.match("OpenAI", "O3") == ("openai", "o3")
    assert book.price(usage("OpenAI", "O3", 10, 10), TS).matched_model == "o3"
    # a discount prices through genai-prices: its match is genai-prices' own, at 10 % off for any provider
    assert book.match("azure.ai.openai", "gpt-4o") == ("openai", "gpt-4o")
    call = usage("azure.ai.openai", "gpt-4o", 1000, 100)
    assert book.price(call, TS).total_nanos == BOOK.price(call, TS).total_nanos * 9 // 10 == 3_150_000


def test_reasoning_tokens_are_priced_at_their_own_rate_where_the_list_has_one() -> None:
    """Perplexity's deep research lists reasoning at $3/MTok beside output at $8: of 1M output tokens,
    the 600k that were reasoning cost $1.80, not $4.80."""
    call = usage("perplexity", "sonar-deep-research", 100_000, 1_000_000, reasoning_tokens=600_000)
    cost = BOOK.price(call, TS)
    assert (cost.input_nanos, cost.output_nanos, cost.total_nanos) == (
        200_000_000,
        5_000_000_000,
        5_200_000_000,
    )
    assert (cost.matched_provider, cost.matched_model, cost.confidence) == (
        "perplexity",
        "sonar-deep-research",
        "high",
    )
    # without the split reported, all of it is output
    unsplit = BOOK.price(dataclasses.replace(call, reasoning_tokens=None), TS)
    assert unsplit.total_nanos == 8_200_000_000


def test_time_of_day_price_cached_per_window() -> None:
    u = usage("deepseek", "deepseek-chat", 1_000_000, 100_000)
    peak = BOOK.price(u, datetime(2026, 3, 1, 2, tzinfo=UTC))
    off = BOOK.price(u, datetime(2026, 3, 1, 20, tzinfo=UTC))
    assert (peak.total_nanos, off.total_nanos) == (380_000_000, 190_000_000)


CASES = [
    ("openai", "gpt-5.2"),
    ("openai", "o3"),
    ("openai", "gpt-5.6"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-opus-4-8"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("gcp.gemini", "gemini-2.5-pro"),
    ("gcp.gemini", "gemini-3.1-pro-preview"),
    ("gcp.vertex_ai", "claude-sonnet-4-5"),
    ("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("aws.bedrock", "amazon.nova-pro-v1:0"),
    ("deepseek", "deepseek-chat"),
    ("x_ai", "grok-4"),
    ("mistral_ai", "mistral-large-latest"),
    ("azure.ai.openai", "gpt-4o"),
    ("groq", "llama-3.3-70b-versatile"),
]
CONTEXTS = [
    {},
    {"service_tier": "flex"},
    {"service_tier": "priority"},
    {"processing": "batch"},
    {"speed": "fast"},
]


@st.composite
def priced_usages(draw: st.DrawFn) -> tuple[NormalizedUsage, datetime]:
    provider, model = draw(st.sampled_from(CASES))
    inp = draw(st.integers(0, 2_000_000))
    cache_read = draw(st.integers(0, inp))
    cache_write = draw(st.integers(0, inp - cache_read))
    cw1 = draw(st.none() | st.integers(0, cache_write))
    out = draw(st.integers(0, 200_000))
    reasoning = draw(st.none() | st.integers(0, out))
    ts = draw(st.datetimes(datetime(2024, 6, 1), datetime(2027, 6, 1), timezones=st.just(UTC)))
    u = usage(
        provider,
        model,
        inp,
        out,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=cw1,
        cache_write_5m_tokens=None if cw1 is None else cache_write - cw1,
        reasoning_tokens=reasoning,
        web_search_requests=draw(st.integers(0, 3)),
        price_context=draw(st.sampled_from(CONTEXTS)),
    )
    return u, ts


@settings(max_examples=400, deadline=None)
@given(priced_usages())
def test_compiled_plan_equals_calc_price(case: tuple[NormalizedUsage, datetime]) -> None:
    u, ts = case
    kwargs: dict[str, int] = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "web_searches": u.web_search_requests,
    }
    if u.cache_write_1h_tokens is not None:
        kwargs["cache_write_1h_tokens"] = u.cache_write_1h_tokens
        kwargs["cache_write_5m_tokens"] = u.cache_write_tokens - u.cache_write_1h_tokens
    if u.reasoning_tokens is not None:
        kwargs["output_reasoning_tokens"] = u.reasoning_tokens
    try:
        want = calc_price(
            Usage(**kwargs),
            u.model or "",
            provider_id=GENAI_PROVIDER_IDS[u.provider],
            genai_request_timestamp=ts,
            price_context=u.price_context or None,
        )
    except ValueError:
        assert BOOK.price(u, ts).total_nanos is None
        return
    got = BOOK.price(u, ts)
    assert got.total_nanos == usd_to_nanos(want.total_price)
    assert got.input_nanos == usd_to_nanos(want.input_price)
    assert got.output_nanos == usd_to_nanos(want.output_price)
    assert got.matched_model == want.model.id
    assert_no_float(got)


def test_integer_prices_give_the_decimal_figures_for_every_model() -> None:
    """The ingest path prices in integers (10^-15 USD per token): for every model and price period
    genai-prices knows, on usages that hit every unit, tiers and odd counts included, each figure equals the
    Decimal sum rounded by usd_to_nanos. A plan whose prices have no exact integer form keeps the Decimal
    path."""
    from genai_prices import data

    from helicarrier.pricing._plan import PricePlan

    rng = random.Random(17)
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "web_searches")
    compared = without = 0
    for provider in data.providers:
        for model in provider.models:
            for ts in (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 12, 4, 12, tzinfo=UTC)):
                try:
                    plan = PricePlan(model.get_prices(ts, None))
                except Exception:  # noqa: BLE001 - a model genai-prices itself cannot price then
                    continue
                for _ in range(3):
                    values = {k: rng.choice((0, 1, 7, rng.randrange(10**7))) for k in keys}
                    values["cache_read_tokens"] = min(values["cache_read_tokens"], values["input_tokens"])
                    try:
                        want = plan.usd(values)
                    except ValueError:
                        continue
                    got = plan.nanos(values)
                    if got is None:
                        without += 1
                        continue
                    assert got == tuple(usd_to_nanos(x) for x in want), (provider.id, model.id, values)
                    compared += 1
    assert compared > 3000 and without < compared / 20
