"""The command lifecycle, written once as a table of transitions. Every caller goes through ``transition``.

pending --deliver--> delivered --accept--> accepted --complete--> completed
   |                    |  \\--reject--> rejected        \\--fail--> failed
   |                    \\--complete/fail (an agent may answer without accepting first)
   |--expire--> expired   (not fetched within its TTL)
   \\--cancel--> cancelled (by an operator, while still pending)
"""

from __future__ import annotations

STATES = ("pending", "delivered", "accepted", "rejected", "completed", "failed", "expired", "cancelled")
TERMINAL = frozenset({"rejected", "completed", "failed", "expired", "cancelled"})

TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "deliver"): "delivered",
    ("pending", "expire"): "expired",
    ("pending", "cancel"): "cancelled",
    ("delivered", "accept"): "accepted",
    ("delivered", "reject"): "rejected",
    ("delivered", "complete"): "completed",
    ("delivered", "fail"): "failed",
    ("accepted", "complete"): "completed",
    ("accepted", "fail"): "failed",
}

# An agent's command.ack names the state it reached; this is the lifecycle event that gets it there.
ACK_EVENTS = {"accepted": "accept", "rejected": "reject", "completed": "complete", "failed": "fail"}

KINDS = ("kill", "inject", "model")
KILL_STRENGTHS = ("graceful", "force")
# Closed-loop kill verification, after the agent confirmed (completed) the kill.
VERIFICATION_STATES = ("awaiting", "verified", "ineffective")


class IllegalTransition(ValueError):
    def __init__(self, state: str, event: str):
        allowed = sorted(e for (s, e) in TRANSITIONS if s == state)
        super().__init__(
            f"a {state} command cannot {event}"
            + (f" (it can: {', '.join(allowed)})" if allowed else f" ({state} is final)")
        )
        self.state = state
        self.event = event


def transition(state: str, event: str) -> str:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def can(state: str, event: str) -> bool:
    return (state, event) in TRANSITIONS
