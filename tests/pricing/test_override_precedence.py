"""Which operator override prices a call when several could: an exact model before any wildcard, the
longest wildcard stem first, and at the same stem the provider's own before the one for every provider
("*"), whatever order the overrides were configured in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from helicarrier.ingest.normalize import NormalizedUsage
from helicarrier.pricing import Cost, ModelPriceOverride, PriceBook

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)
Overrides = tuple[ModelPriceOverride, ...]


def _ov(provider: str, model: str, usd_per_mtok: int) -> ModelPriceOverride:
    """An override whose price tells it apart: one million input tokens cost `usd_per_mtok` dollars."""
    return ModelPriceOverride(
        provider, model, input_usd_per_mtok=Decimal(usd_per_mtok), output_usd_per_mtok=Decimal(0)
    )


def _cost(book: PriceBook, provider: str, model: str) -> Cost:
    """What a user sees for a call of one million input tokens of `model` through `provider`."""
    call = NormalizedUsage(
        provider=provider,
        model=model,
        input_tokens=1_000_000,
        output_tokens=0,
        total_tokens=1_000_000,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cache_write_5m_tokens=None,
        cache_write_1h_tokens=None,
        reasoning_tokens=None,
        reported_total_tokens=None,
        web_search_requests=0,
        reported_cost_usd=None,
        price_context={},
        warnings=(),
    )
    return book.price(call, TS)


def _nanos(book: PriceBook, provider: str, model: str) -> int | None:
    return _cost(book, provider, model).total_nanos


def _usd(dollars: int) -> int:
    return dollars * 1_000_000_000


def _both_orders(*overrides: ModelPriceOverride) -> list[Overrides]:
    """The overrides as configured and reversed. The books are built inside each test: mutmut counts a
    test as reaching PriceBook.__init__ only if the test itself calls it, so a book built while pytest
    collects the tests would leave these tests out of every __init__ mutant's run."""
    return [overrides, overrides[::-1]]


@pytest.mark.parametrize(
    "overrides", _both_orders(_ov("openai", "acme-*", 1), _ov("openai", "acme-pro-*", 5))
)
def test_the_longest_wildcard_stem_prices_the_model_whatever_order_they_were_configured_in(
    overrides: Overrides,
) -> None:
    book = PriceBook(overrides=overrides)
    assert _nanos(book, "openai", "acme-pro-7") == _usd(5)
    assert _nanos(book, "openai", "ACME-Pro-7") == _usd(5)  # model names are matched case-insensitively
    # The stem is everything before the "*": "acme-prox" is not an "acme-pro-" model, and "acme" alone
    # is not an "acme-" one.
    assert _nanos(book, "openai", "acme-prox") == _usd(1)
    assert _nanos(book, "openai", "acme-lite") == _usd(1)
    assert _nanos(book, "openai", "acme") is None
    # Neither override prices a model outside both stems, though it shares their first letters.
    assert _nanos(book, "openai", "acm") is None
    assert _nanos(book, "openai", "another-model") is None


@pytest.mark.parametrize("overrides", _both_orders(_ov("*", "acme-*", 7), _ov("openai", "acme-*", 2)))
def test_a_providers_own_wildcard_beats_the_one_for_every_provider_at_the_same_stem(
    overrides: Overrides,
) -> None:
    book = PriceBook(overrides=overrides)
    assert _nanos(book, "openai", "acme-1") == _usd(2)
    assert _nanos(book, "OpenAI", "acme-1") == _usd(2)  # the provider is matched by its canonical name
    assert _nanos(book, "anthropic", "acme-1") == _usd(7)


@pytest.mark.parametrize(
    "overrides", _both_orders(_ov("openai", "acme-*", 2), _ov("*", "acme-pro-*", 7), _ov("*", "acme-*", 9))
)
def test_a_longer_stem_for_every_provider_beats_a_providers_own_shorter_one(
    overrides: Overrides,
) -> None:
    book = PriceBook(overrides=overrides)
    assert _nanos(book, "openai", "acme-pro-1") == _usd(7)
    assert _nanos(book, "openai", "acme-1") == _usd(2)
    assert _nanos(book, "anthropic", "acme-1") == _usd(9)
    assert _nanos(book, "anthropic", "acme-pro-1") == _usd(7)


@pytest.mark.parametrize(
    "overrides",
    _both_orders(
        _ov("openai", "acme-*", 2),
        _ov("openai", "acme-pro-*", 3),
        _ov("*", "acme-pro-1", 4),
        _ov("openai", "acme-pro-2", 6),
    ),
)
def test_an_exact_model_beats_every_wildcard_even_one_for_every_provider(
    overrides: Overrides,
) -> None:
    book = PriceBook(overrides=overrides)
    assert _nanos(book, "openai", "acme-pro-1") == _usd(4)
    assert _nanos(book, "openai", "acme-pro-2") == _usd(6)
    assert _nanos(book, "openai", "acme-pro-3") == _usd(3)
    assert _nanos(book, "anthropic", "acme-pro-2") is None  # the exact override is openai's alone
    # An exact override names the model the cost is recorded under; a wildcard keeps the call's own.
    exact = _cost(book, "anthropic", "ACME-Pro-1")
    assert (exact.matched_provider, exact.matched_model, exact.provenance, exact.total_nanos) == (
        "anthropic",
        "acme-pro-1",
        "computed",
        _usd(4),
    )
    wildcard = _cost(book, "OpenAI", "ACME-Pro-3")
    assert (wildcard.matched_provider, wildcard.matched_model, wildcard.total_nanos) == (
        "openai",
        "ACME-Pro-3",
        _usd(3),
    )


def test_two_overrides_for_the_same_models_spelled_differently_the_first_configured_prices() -> None:
    """The CLI stores an override under the provider and model as typed, so "OpenAI"/"Acme-*" and
    "openai"/"acme-*" are two rows of one table that name the same models: the book still loads, and the
    first one configured prices them, for wildcards as for exact models."""
    book = PriceBook(
        overrides=[
            _ov("openai", "Acme-*", 2),
            _ov("OpenAI", "acme-*", 3),
            _ov("openai", "Acme-1", 4),
            _ov("OpenAI", "acme-1", 5),
        ]
    )
    assert _nanos(book, "openai", "acme-2") == _usd(2)
    assert _nanos(book, "openai", "acme-1") == _usd(4)
