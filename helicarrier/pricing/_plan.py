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
# Integer prices in 10^-15 USD per unit (10^-6 nano-dollar): a price of up to 15 decimal places per unit is a
# whole number of them, so a cost is an exact integer sum, rounded to nano-dollars once, as usd_to_nanos
# rounds the Decimal sum.
_FEMTO_DIGITS = 6
_FEMTO = 10**_FEMTO_DIGITS
_FEMTO_PER_USD = 10 ** (9 + _FEMTO_DIGITS)


def _femto(price: Decimal, per: int) -> int | None:
    """``price`` per ``per`` units as a whole number of 10^-15 USD per unit, or None when it is not one
    (worked out on the exact fraction: no Decimal context can round it into looking whole)."""
    num, den = price.as_integer_ratio()
    whole, rest = divmod(num * _FEMTO_PER_USD, den * per)
    return whole if rest == 0 else None


def _to_nanos(femto: int) -> int:
    """10^-15 USD -> whole nano-dollars, rounding half to even (as money.usd_to_nanos)."""
    q, r = divmod(femto, _FEMTO)
    if 2 * r > _FEMTO or (2 * r == _FEMTO and q % 2):
        q += 1
    return q


class PricePlan:
    """Leaf decomposition + unit prices of one resolved ModelPrice."""

    __slots__ = ("_femto_terms", "_leaves", "_terms", "_tiered")

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
        self._femto_terms = _femto_terms(self._terms)

    def nanos(self, values: dict[str, int]) -> tuple[int, int, int] | None:
        """-> (total, input, output) in whole nano-dollars, the same figures as ``usd`` rounded by
        ``usd_to_nanos``, in integer arithmetic (a third of the Decimal path's cost on the ingest path); None
        when a price of this plan is not a whole number of 10^-15 USD per unit. ValueError as ``usd``."""
        if self._femto_terms is None:
            return None
        total, inp, out = self._sum(self._femto_terms, values, 0)
        return _to_nanos(total), _to_nanos(inp), _to_nanos(out)

    def usd(self, values: dict[str, int]) -> tuple[Decimal, Decimal, Decimal]:
        """-> (total, input, output) USD, unrounded; ValueError on inconsistent usage (as genai-prices)."""
        return self._sum(self._terms, values, _ZERO)

    def _sum(self, terms, values: dict[str, int], zero):
        """Each term's price times its count over its unit (the femto terms' unit is 1), summed: (total,
        input, output)."""
        leaf = self._leaf(values)
        total_input = values.get("input_tokens", 0) if self._tiered else 0
        total = inp = out = zero
        for key, price, tiers, per, direction in terms:
            n = leaf[key]
            if not n:
                continue
            if tiers is not None:
                # cliff tiers keyed on TOTAL input tokens, applied to the whole count
                for start, tier_price in tiers:
                    if total_input > start:
                        price = tier_price
                        break
            amount = price * n if per == 1 else price * n / per
            total += amount
            if direction == 0:
                inp += amount
            elif direction == 1:
                out += amount
        return total, inp, out

    def _leaf(self, values: dict[str, int]) -> dict[str, int]:
        """Each priced unit's own count: its usage less the more specific units priced apart."""
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
        return leaf


def _femto_terms(terms) -> tuple[tuple[str, int, tuple[tuple[int, int], ...] | None, int, int], ...] | None:
    """The plan's terms with integer prices per single unit (``_femto``), or None if one price has no exact
    integer form."""
    out = []
    for key, price, tiers, per, direction in terms:
        base = _femto(price, per)
        steps = None if tiers is None else tuple((start, _femto(p, per)) for start, p in tiers)
        if base is None or (steps is not None and any(p is None for _, p in steps)):
            return None
        out.append((key, base, steps, 1, direction))
    return tuple(out)
