"""The hook route's request and answer, for the OpenAPI document (Claude Code defines both; Helicarrier
reads and writes the fields below and keeps whatever else the input carries)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HookInput(BaseModel):
    """A Claude Code hook input, as Claude Code posts it."""

    model_config = ConfigDict(extra="allow")
    hook_event_name: str = Field(description="SessionStart, SessionEnd, UserPromptSubmit, PreToolUse, …")
    session_id: str = Field(max_length=128, description="Claude Code's session: the Helicarrier session.")
    transcript_path: str | None = None
    cwd: str | None = Field(None, description="The working folder (names the agent by default).")


class HookDecision(BaseModel):
    """Claude Code's hook output. Empty: allow, nothing to say."""

    model_config = ConfigDict(extra="allow")
    continue_: bool | None = Field(None, alias="continue", description="false: Claude stops (a kill).")
    stopReason: str | None = None
    decision: str | None = Field(None, description="`block` at Stop (a task) or UserPromptSubmit (a kill).")
    reason: str | None = None
    hookSpecificOutput: dict[str, Any] | None = Field(
        None, description="PreToolUse `permissionDecision: deny`; UserPromptSubmit `additionalContext`."
    )
