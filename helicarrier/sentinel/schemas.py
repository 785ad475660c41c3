"""The sentinel API's request and response shapes, for the OpenAPI document (the tests validate real answers
against them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from helicarrier.sentinel.detectors import DETECTORS
from helicarrier.sentinel.ladder import LADDER


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExemptRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: str | None = Field(None, max_length=2000, description="Why; shown in the audit log.")


class FindingAction(_Out):
    step: Literal[LADDER]  # type: ignore[valid-type]
    at: str
    command_id: str | None = Field(description="The command a steer or kill issued (see /commands/{id}).")


class FindingOut(_Out):
    id: int
    agent_id: str
    session_id: str | None
    detector: Literal[DETECTORS] = Field(  # type: ignore[valid-type]
        description="repeat: the same line or tool call N times in a window; no_output: tokens spent with "
        "nothing new in the log; long_run: far past the task kind's p99 runtime; silent: says running, "
        "no model call"
    )
    state: Literal["open", "resolved"]
    step: Literal[LADDER] = Field(description="The ladder's rung reached: " + " -> ".join(LADDER))  # type: ignore[valid-type]
    policy: Literal[LADDER] = Field(description="The highest rung allowed for the agent's labels")  # type: ignore[valid-type]
    summary: str
    evidence: dict[str, Any] = Field(
        description="The detector's evidence (lines, counts, window) and thresholds."
    )
    actions: list[FindingAction] | None
    first_seen_at: str
    last_seen_at: str
    stepped_at: str
    acted_at: str | None
    resolved_at: str | None


class FindingsResponse(_Out):
    findings: list[FindingOut]


class ExemptionOut(_Out):
    agent_id: str
    reason: str | None
    created_by: str
    created_at: str


class ExemptionResponse(_Out):
    exemption: ExemptionOut
    created: bool = Field(description="false: the agent was exempt already (its first exemption stays).")


class ExemptionsResponse(_Out):
    exemptions: list[ExemptionOut]


class UnexemptResponse(_Out):
    agent_id: str
    exempt: Literal[False]
