"""The fleet API's shapes, for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentOut(_Out):
    id: str
    name: str
    status: str = Field(
        description="As the Hero Grid shows it: killing, killed, paused, offline or what it reported."
    )
    reported_status: str = Field(description="What the agent last said: running, idle, stalled or waiting.")
    control_state: str = Field(description="active, killing, killed or paused")
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


class ScaleSignals(_Out):
    open_tasks: int = Field(description="Injected tasks pending, delivered or accepted.")
    running_agents: int = Field(description="Agents heard from recently whose heartbeat says running.")
    online_agents: int = Field(description="Agents heard from recently: the workers there are now.")
    busiest_agent_tasks: int = Field(description="The most open tasks queued on one agent.")
    locked: bool = Field(description="A budget lock holds the fleet: the count does not grow.")


class ScaleBounds(_Out):
    min_workers: int
    max_workers: int
    tasks_per_worker: int
    cooldown_s: int


class ScaleResponse(_Out):
    desired: int = Field(description="How many agent workers the fleet should run now.")
    current: int = Field(description="Agents heard from recently (the signals' online_agents).")
    reason: str = Field(description="How the count was reached, cool-down and lock included.")
    decided_at: str
    changed_at: str = Field(description="When the count last changed; the cool-down runs from here.")
    signals: ScaleSignals
    bounds: ScaleBounds
