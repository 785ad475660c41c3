"""The reports API's answers, for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="usage-YYYY-MM-DD.csv or sessions-YYYY-MM-DD.csv (a local day).")
    size: int = Field(description="Bytes.")
    modified: str


class ReportsResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: list[ReportOut] = Field(description="Newest day first.")
