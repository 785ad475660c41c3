"""Value types of the pricing package: the pricing version label, overrides and the Cost record."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import genai_prices

from helicarrier.ingest.normalize import canonical_provider

# The package version IS the data version: genai-prices has no separate data id.
DEFAULT_PRICING_VERSION = (
    f"genai-prices-{genai_prices.__version__ or importlib.metadata.version('genai-prices')}"
)
_HUNDRED = Decimal(100)


def _decimal_or_none(value: Any, name: str) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if type(value) is int:
        return Decimal(value)
    raise TypeError(f"{name} must be a Decimal (never float), got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ModelPriceOverride:
    """An operator's own price (negotiated discount, self-hosted or fine-tuned model).

    Either per-MTok prices (input and output required; cache prices default to the input price;
    web searches are not priced) or ``discount_pct`` off the genai-prices price, not both.
    """

    provider: str
    model: str
    input_usd_per_mtok: Decimal | None = None
    output_usd_per_mtok: Decimal | None = None
    cache_read_usd_per_mtok: Decimal | None = None
    cache_write_usd_per_mtok: Decimal | None = None
    discount_pct: Decimal | None = None

    def __post_init__(self) -> None:
        for name in (
            "input_usd_per_mtok",
            "output_usd_per_mtok",
            "cache_read_usd_per_mtok",
            "cache_write_usd_per_mtok",
            "discount_pct",
        ):
            value = _decimal_or_none(getattr(self, name), name)
            if value is not None and (not value.is_finite() or value < 0):
                raise ValueError(f"{name} must be finite and >= 0")
            object.__setattr__(self, name, value)
        if not self.model or not self.provider:
            raise ValueError("provider and model are required ('*' for any provider)")
        if self.provider != "*":
            object.__setattr__(self, "provider", canonical_provider(self.provider))
        object.__setattr__(self, "model", self.model.lower())
        if self.explicit:
            if self.input_usd_per_mtok is None or self.output_usd_per_mtok is None:
                raise ValueError("explicit override needs input_usd_per_mtok and output_usd_per_mtok")
            if self.discount_pct is not None:
                raise ValueError("give either per-MTok prices or discount_pct, not both")
        elif self.discount_pct is None:
            raise ValueError("override needs per-MTok prices or discount_pct")
        elif self.discount_pct > _HUNDRED:
            raise ValueError("discount_pct must be <= 100")

    @property
    def explicit(self) -> bool:
        return any(
            v is not None
            for v in (
                self.input_usd_per_mtok,
                self.output_usd_per_mtok,
                self.cache_read_usd_per_mtok,
                self.cache_write_usd_per_mtok,
            )
        )


@dataclass(frozen=True, slots=True)
class Cost:
    total_nanos: int | None
    input_nanos: int | None
    output_nanos: int | None
    pricing_version: str
    matched_provider: str | None
    matched_model: str | None
    price_ts: datetime
    provenance: str  # "reported" | "computed" | "estimated" | "unpriced"
    confidence: str  # "high" | "medium" | "low" | "none"
    reported_nanos: int | None
    reason: str | None
