"""The fleet API's shapes, for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentOut(_Out):
    id: str
    name: str
    status: str = Field(
        description="As the Hero Grid shows it: killing, killed, offline or what it reported."
    )
    reported_status: str = Field(description="What the agent last said: running, idle, stalled or waiting.")
    control_state: str = Field(description="active, killing or killed")
    model: str | None
    provider: str | None
    current_task: str | None
    current_session_id: str | None
    labels: dict[str, str] | None
    last_heartbeat_at: str | None
    owner: str | None = Field(
        description="The token that speaks for the agent; null: the next one to report."
    )


class AgentsResponse(_Out):
    agents: list[AgentOut]


class OwnerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(description="The token's name; null: the next token that reports claims it.")


class OwnerResponse(_Out):
    agent_id: str
    owner: str | None
