"""Cost of normalized usage: pinned genai-prices data, operator overrides, integer nano-dollars."""

from .book import (
    DEFAULT_PRICING_VERSION,
    GENAI_PROVIDER_IDS,
    NANOS_PER_USD,
    Cost,
    ModelPriceOverride,
    PriceBook,
    usd_to_nanos,
)

__all__ = [
    "DEFAULT_PRICING_VERSION",
    "GENAI_PROVIDER_IDS",
    "NANOS_PER_USD",
    "Cost",
    "ModelPriceOverride",
    "PriceBook",
    "usd_to_nanos",
]
