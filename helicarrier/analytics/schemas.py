"""Response models of the analytics API: they document the answers in the OpenAPI document, and the tests
validate real answers against them so the two cannot drift.

Money is given twice: ``*_nanos`` (exact integer nano-dollars) and ``*_usd`` (the same as a decimal string,
because JSON numbers are floats to most clients). Timestamps are ISO 8601 with their offset.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionOut(_Out):
    id: str
    agent_id: str
    model: str | None
    provider: str | None
    task: str | None
    task_kind: str | None
    status: str = Field(description="running, succeeded, failed, timeout or killed")
    error: str | None
    labels: dict[str, str] | None
    started_at: str
    ended_at: str | None
    runtime_s: float | None = Field(description="A running session's runtime so far.")
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost_nanos: int
    cost_usd: str
    unpriced_events: int = Field(description="Usage events without a price: their cost is not in cost_*.")
    pricing_version: str | None = Field(description="The price table(s) of the session's usage events.")


class SessionsResponse(_Out):
    sessions: list[SessionOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class UsageEventOut(_Out):
    id: int
    ts: str
    provider: str
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int | None
    total_tokens: int
    cost_nanos: int | None
    cost_usd: str | None
    reported_cost_nanos: int | None
    reported_cost_usd: str | None
    pricing_version: str | None
    price_model: str | None
    cost_provenance: str = Field(description="reported, computed, estimated or unpriced")
    cost_confidence: str = Field(description="high, medium, low or none")
    warnings: list[str] | None


class LogOut(_Out):
    seq: int
    ts: str
    level: str
    message: str


class CostByProvenance(_Out):
    computed_nanos: int
    computed_usd: str
    reported_nanos: int
    reported_usd: str
    estimated_nanos: int
    estimated_usd: str
    unpriced_events: int


class Breakdown(_Out):
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_by_provenance: CostByProvenance


class SessionDetailResponse(_Out):
    session: SessionOut
    usage: list[UsageEventOut] = Field(description="In time order; at most 5000 (see usage_truncated).")
    logs: list[LogOut] = Field(description="In sequence order; at most 2000 (see logs_truncated).")
    commands: list[dict[str, Any]]
    breakdown: Breakdown
    usage_truncated: bool
    logs_truncated: bool


class UsageTotalsOut(_Out):
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost_nanos: int
    cost_usd: str
    reported_cost_nanos: int
    reported_cost_usd: str
    unpriced_events: int
    events: int
    sessions: int = Field(description="Sessions that ended in the range.")
    succeeded: int
    failed: int = Field(description="Ended without success: failed + timeout + killed.")
    failed_by_status: dict[str, int]
    runtime_s: float
    cost_per_success_nanos: int | None
    cost_per_success_usd: str | None


class UsagePointOut(_Out):
    bucket: str = Field(description="Start of the local day (or hour) in the requested time zone.")
    group: str
    cost_nanos: int
    cost_usd: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    events: int
    unpriced_events: int
    reported_cost_nanos: int
    reported_cost_usd: str


class UsageResponse(_Out):
    start: str = Field(alias="from")
    end: str = Field(alias="to", description="Exclusive.")
    tz: str
    group_by: str
    granularity: str
    raw_usage_pruned_before: str | None = Field(
        description="Set once retention has pruned raw usage events: the time before which they are gone. "
        "Before it the figures come from the rollups alone, exact where the range starts and ends on a "
        "quarter hour (the parts of a range off the quarter hour count nothing there)."
    )
    totals: UsageTotalsOut
    series: list[UsagePointOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FailureReason(_Out):
    reason: str
    count: int


class MatrixCellOut(_Out):
    model: str
    task_kind: str
    successes: int
    failures: int = Field(description="failed + timeout + killed")
    failed: int
    timeout: int
    killed: int
    total: int
    success_rate: float
    wilson_low: float = Field(description="Lower bound of the 95% Wilson score interval of the rate.")
    wilson_high: float
    insufficient: bool = Field(description="Fewer sessions than min_samples: not ranked.")
    median_runtime_s: float | None = Field(description="From a log-spaced histogram: within about 9%.")
    p95_runtime_s: float | None
    cost_nanos: int
    cost_usd: str
    cost_per_success_nanos: int | None
    cost_per_success_usd: str | None
    unpriced_events: int
    top_failure_reasons: list[FailureReason]


class RankedModelOut(_Out):
    key: str
    successes: int
    total: int
    rate: float | None
    low: float
    high: float
    insufficient: bool
    rank: int | None = Field(description="1 + the number of models whose interval lies wholly above.")
    tie_group: int | None
    tied_with: list[str]
    cost_nanos: int | None
    successes_per_usd: float | None
    successes_per_usd_low: float | None
    successes_per_usd_high: float | None


class ModelMatrixResponse(_Out):
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    min_samples: int
    cells: list[MatrixCellOut]
    models: list[RankedModelOut] = Field(description="Per model over all task kinds, by success rate.")
    value: list[RankedModelOut] = Field(description="Per model, by successes per dollar.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
