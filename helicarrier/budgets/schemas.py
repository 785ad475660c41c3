"""The budgets API's shapes, for the OpenAPI document; ``BudgetService`` checks the requests (its refusals
name the field). Money is decimal text in USD, never a float."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from helicarrier.budgets.lifecycle import PERIODS, POLICIES, SCOPES, STATES


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetIn(_In):
    name: str = Field(min_length=1, max_length=200)
    scope: Literal[SCOPES] = Field(description="fleet, label (key=value), agent or model")  # type: ignore[valid-type]
    scope_value: str | None = Field(
        None, description="The label key=value, agent id or model; none for the fleet."
    )
    period: Literal[PERIODS] = "day"  # type: ignore[valid-type]
    limit_usd: str = Field(pattern=r"^\d+(\.\d+)?$", description="The hard limit in USD, decimal text.")
    soft_percent: int = Field(80, ge=1, le=100, description="The soft alert's threshold, % of the limit.")
    policy: Literal[POLICIES] = Field(  # type: ignore[valid-type]
        "pause", description="What a lock does to running agents: pause them, kill them, or let them finish."
    )


class OverrideIn(_In):
    reason: str = Field(min_length=1, max_length=2000, description="Why the lock is lifted (audited).")


class BudgetOut(_Out):
    id: int
    name: str
    scope: str
    scope_value: str | None
    period: str
    limit_usd: str
    soft_percent: int
    policy: str
    state: Literal[STATES]  # type: ignore[valid-type]
    period_start: str | None
    spent_usd: str = Field(description="Spent in the current period (from the rollups).")
    burn_rate_usd_per_h: str = Field(description="Spend over the last hour.")
    projected_exhaustion_at: str | None = Field(description="When the burn rate would spend the limit.")
    lock_reason: str | None
    locked_at: str | None
    evaluated_at: str | None


class BudgetResponse(_Out):
    budget: BudgetOut


class BudgetsResponse(_Out):
    budgets: list[BudgetOut]


class BudgetDeleted(_Out):
    deleted: int
