"""Money, in one place: amounts are integer nano-dollars (10^-9 USD) everywhere they are stored or added up,
``Decimal`` where they are converted, and never a float.

- ``usd_text``: exact fixed-point text for machines (APIs, CSV): 12345678901 -> "12.345678901".
- ``format_usd``: rounded text for people (the HUD, CLI reports): "$12.35", "$0.0123", "unpriced".
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANOS_PER_USD = 1_000_000_000
_NANOS = Decimal(NANOS_PER_USD)
_ONE = Decimal(1)


def nanos_to_usd(nanos: int | None) -> Decimal | None:
    return None if nanos is None else Decimal(int(nanos)) / _NANOS


def usd_to_nanos(usd: Decimal) -> int:
    """Whole nano-dollars, rounding half to even (a price times a token count has more digits)."""
    return int(usd.scaleb(9).quantize(_ONE, rounding=ROUND_HALF_EVEN))


def usd_text(nanos: int | None) -> str | None:
    """Exact decimal USD in fixed point, never exponent notation: 150 -> "0.00000015", 0 -> "0"."""
    if nanos is None:
        return None
    text = format(Decimal(int(nanos)) / _NANOS, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_usd(nanos: int | None) -> str:
    """For people: whole dollars from $100, cents from $1, four places below."""
    if nanos is None:
        return "unpriced"
    usd = Decimal(int(nanos)) / _NANOS
    if abs(usd) >= 100:
        return f"${usd:,.0f}"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    return f"${usd:,.4f}"
