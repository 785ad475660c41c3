"""The control API's request and response shapes, for the OpenAPI document. The requests are checked by
``ControlService`` (its refusals name the field); the tests validate real answers against these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from helicarrier.control.lifecycle import AGENT_CONTROL_STATES, KILL_STRENGTHS, STATES, VERIFICATION_STATES

Reason = Field(None, max_length=2000, description="Why; shown in the audit log and to the agent.")


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KillRequest(_In):
    reason: str = Field(min_length=1, max_length=2000, description="Required: why the agent is stopped.")
    strength: Literal["graceful", "force"] = Field(
        "graceful", description="graceful: finish the current step, then stop; force: stop at once."
    )


class InjectRequest(_In):
    task: str = Field(
        min_length=1, description="The task or instruction (at most HELICARRIER_MAX_TASK_BYTES)."
    )
    mode: Literal["steer", "follow_up", "queue"] = Field(
        "steer",
        description="steer: at the next step boundary; follow_up: after the current turn; queue: next run.",
    )
    reason: str | None = Reason


class ModelRequest(_In):
    model: str = Field(min_length=1, max_length=200, description="A model in the active price table.")
    provider: str | None = Field(None, description="Default: the provider the agent reported.")
    reason: str | None = Reason


class PauseRequest(_In):
    reason: str | None = Reason


class CommandRequest(_In):
    kind: Literal["kill", "inject", "model", "pause", "resume"] = Field(
        description="Then the fields of that kind's request."
    )


class ReleaseRequest(_In):
    reason: str | None = Reason


class AckRequest(_In):
    agent_id: str = Field(
        min_length=1, max_length=128, description="The agent answering: the command's agent."
    )
    state: Literal["accepted", "rejected", "completed", "failed"]
    message: str | None = Field(None, max_length=2000)


class CommandOut(_Out):
    id: str
    agent_id: str
    session_id: str | None = Field(description="The agent's session when the command was issued.")
    kind: Literal["kill", "inject", "model", "pause", "resume"]
    payload: dict[str, Any] | None
    state: str = Field(description=" -> ".join(STATES))
    strength: Literal[KILL_STRENGTHS] | None  # type: ignore[valid-type]
    verification: str | None = Field(description="Kills only: " + ", ".join(VERIFICATION_STATES))
    reason: str | None
    issued_by: str
    result_message: str | None
    created_at: str
    expires_at: str
    updated_at: str
    delivered_at: str | None
    answered_at: str | None
    finished_at: str | None


class IssuedResponse(_Out):
    command: CommandOut
    created: bool = Field(description="false: this Idempotency-Key was seen before; the first command.")


class CommandResponse(_Out):
    command: CommandOut


class BudgetLock(_Out):
    id: int
    name: str
    scope: str
    lock_reason: str | None


class CommandsResponse(_Out):
    commands: list[CommandOut]
    budget_locked: bool = Field(
        description="true: a locked budget holds this agent; start no new work until it is false again."
    )
    budget_locks: list[BudgetLock]


class AgentControlResponse(_Out):
    agent_id: str
    control_state: Literal[AGENT_CONTROL_STATES] = Field(  # type: ignore[valid-type]
        description="active, killing (a kill is on its way), killed or paused"
    )
