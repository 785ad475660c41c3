"""A compiled genai-prices ``ModelPrice``: the same arithmetic as ``ModelPrice.calc_price`` without
its per-call registry walk, validation and ``Usage`` construction (which dominate its ~65 µs cost).

Compiled once per (model, price period, price context) and reused; ``tests/unit/test_pricing.py``
checks it against ``genai_prices.calc_price`` on random usages so an upgrade that changes the
arithmetic fails loudly instead of drifting.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genai_prices.decompose import is_descendant_or_self
from genai_prices.types import ModelPrice, TieredPrices
from genai_prices.units import _get_registry  # pinned genai-prices; the plan mirrors its internals
from genai_prices.validation import validate_priced_units

_ZERO = Decimal(0)
_DIRECTION = {"input": 0, "output": 1}


class PricePlan:
    """Leaf decomposition + unit prices of one resolved ModelPrice."""

    __slots__ = ("_leaves", "_terms", "_tiered")

    def __init__(self, model_price: ModelPrice) -> None:
        registry = _get_registry()
        resolved: list[tuple[Any, Decimal | TieredPrices]] = []
        for key, value in model_price.__dict__.items():
            if key.startswith("_") or value is None:
                continue
            try:
                unit = registry.unit_for_price_key(key)
            except KeyError:
                continue  # genai-prices skips unknown price keys too (with a warning)
            resolved.append((unit, value))
        validate_priced_units(tuple(unit for unit, _ in resolved), registry)

        leaf_units = sorted(
            (unit for unit, _ in resolved if unit.usage_key != "requests"),
            key=lambda unit: (-len(unit.dimensions), unit.usage_key),
        )
        # (usage_key, usage keys of more specific priced units whose leaves are subtracted)
        self._leaves: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (
                unit.usage_key,
                tuple(d.usage_key for d in leaf_units if d is not unit and is_descendant_or_self(unit, d)),
            )
            for unit in leaf_units
        )
        terms = []
        tiered = False
        for unit, value in resolved:
            direction = _DIRECTION.get(unit.dimensions.get("direction", ""), 2)
            if isinstance(value, TieredPrices):
                tiered = True
                tiers = tuple((t.start, t.price) for t in reversed(value.tiers))
                terms.append((unit.usage_key, value.base, tiers, unit.per, direction))
            else:
                terms.append((unit.usage_key, value, None, unit.per, direction))
        self._terms: tuple[tuple[str, Decimal, tuple[tuple[int, Decimal], ...] | None, int, int], ...] = (
            tuple(terms)
        )
        self._tiered = tiered

    def usd(self, values: dict[str, int]) -> tuple[Decimal, Decimal, Decimal]:
        """-> (total, input, output) USD, unrounded; ValueError on inconsistent usage (as genai-prices)."""
        leaf: dict[str, int] = {"requests": 1}
        for key, descendants in self._leaves:
            n = values.get(key, 0)
            for d in descendants:
                n -= leaf[d]
            if n < 0:
                raise ValueError(
                    f"Invalid usage data: more-specific usage for {', '.join(descendants)} exceeds {key} "
                    f"({values.get(key, 0)})"
                )
            leaf[key] = n
        total_input = values.get("input_tokens", 0) if self._tiered else 0
        total = inp = out = _ZERO
        for key, price, tiers, per, direction in self._terms:
            n = leaf[key]
            if not n:
                continue
            if tiers is not None:
                # cliff tiers keyed on TOTAL input tokens, applied to the whole count
                for start, tier_price in tiers:
                    if total_input > start:
                        price = tier_price
                        break
            amount = price * n / per
            total += amount
            if direction == 0:
                inp += amount
            elif direction == 1:
                out += amount
        return total, inp, out
