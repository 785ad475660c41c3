"""Who acts: a signed-in user, an API token, an agent, or the system itself (the scheduler, a guard)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str
    kind: str  # user | token | agent | system
    role: str | None = None
    remote_addr: str | None = None


SYSTEM = Actor("system", "system")
# The stuck-loop sentinel (helicarrier.sentinel): its findings, steers and kills are audited under this name.
SENTINEL = Actor("sentinel", "system")
