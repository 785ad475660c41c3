"""The answer of ``GET /api/v1/slo``: documents it in the OpenAPI document; the tests validate real answers
against it. Ratios and burn rates are decimal strings (exact; JSON numbers are floats to most clients)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowOut(_Out):
    total: int = Field(description="Events in the window.")
    bad: int = Field(description="Events that missed the SLO.")
    sli: str | None = Field(description="Share of good events, 6 decimals; null without events.")
    burn_rate: str | None = Field(
        description="(bad / total) / (1 - target), 3 decimals; 1 spends the budget in 30 days."
    )


class ConditionOut(_Out):
    name: str = Field(description="page_fast, page_slow or ticket")
    severity: str = Field(description="page or ticket")
    burn_rate: str = Field(description="The threshold, reached over both windows.")
    long_window: str
    short_window: str
    holds: bool


class SloOut(_Out):
    name: str
    title: str
    target_percent: str
    good_means: str
    threshold_ms: int | None
    recorded: bool = Field(description="False: the SLO is declared but its events are not recorded yet.")
    windows: dict[str, WindowOut] = Field(description="5m, 30m, 1h, 6h, 24h, 3d and 30d.")
    budget_left: str | None = Field(
        description="Share of the 30-day error budget left (negative: overspent)."
    )
    conditions: list[ConditionOut]
    alert: str | None = Field(description="The most urgent condition holding: page, ticket or null.")


class SloResponse(_Out):
    at: str = Field(description="When the figures were computed (windows end at this minute).")
    slos: list[SloOut]
