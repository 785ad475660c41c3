"""Actuators make a desired worker count so. Two implementations: ``CommandActuator`` runs a command
template with the count (``kubectl scale deployment/agents --replicas={count}``, a systemd template, a
script), here on the scheduler's leader; the demo fleet's local supervisor (``helicarrier.demo.fleet``)
starts and stops simulated agents itself, reading the count from ``GET /api/v1/fleet/scale``."""

from __future__ import annotations

import logging
import shlex
import subprocess
from dataclasses import dataclass
from typing import Protocol

from helicarrier.autoscale.policy import Decision

log = logging.getLogger("helicarrier.autoscale")


class Actuator(Protocol):
    def apply(self, decision: Decision) -> str:
        """Make the fleet ``decision.desired`` workers; returns what happened, for the audit."""


@dataclass(frozen=True)
class CommandActuator:
    template: str  # {count} is replaced by the desired count; run without a shell
    timeout_s: float = 60.0

    def argv(self, count: int) -> list[str]:
        # Split first, then fill in: a count is a number, and no part of the template is re-parsed.
        return [part.replace("{count}", str(count)) for part in shlex.split(self.template)]

    def apply(self, decision: Decision) -> str:
        argv = self.argv(decision.desired)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ActuatorFailed(f"{argv[0]}: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-300:]
            raise ActuatorFailed(f"{argv[0]} exited with {done.returncode}: {tail}")
        return f"ran {shlex.join(argv)}"


class ActuatorFailed(RuntimeError):
    """The actuator could not apply the count (the message says why); the decision stands."""
