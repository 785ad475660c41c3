"""The two control state machines, each written once as a table of transitions; every caller goes through
``transition`` (commands) or ``agent_transition`` (an agent's control state).

The command lifecycle:

pending --deliver--> delivered --accept--> accepted --complete--> completed
   |                    |  |\\--reject--> rejected        \\--fail--> failed
   |                    |  \\--redeliver--> delivered  (not answered within the redelivery time)
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
    ("delivered", "redeliver"): "delivered",
    ("delivered", "accept"): "accepted",
    ("delivered", "reject"): "rejected",
    ("delivered", "complete"): "completed",
    ("delivered", "fail"): "failed",
    ("accepted", "complete"): "completed",
    ("accepted", "fail"): "failed",
}

# An agent's command.ack names the state it reached; this is the lifecycle event that gets it there.
ACK_EVENTS = {"accepted": "accept", "rejected": "reject", "completed": "complete", "failed": "fail"}

KINDS = ("kill", "inject", "model", "pause", "resume")
KILL_STRENGTHS = ("graceful", "force")
# Closed-loop kill verification, after the agent confirmed (completed) the kill.
VERIFICATION_STATES = ("awaiting", "verified", "ineffective")


# The agent's control state: what an operator imposed, beside the status the agent reports.
#
# active --kill--> killing --confirm--> killed --release--> active   (an operator lets it work again)
#    |                |\--drop--> active               \--restart--> active (its next session.start)
#    |                \--drop_paused--> paused          (the kill of a paused agent: it waits paused again)
#    \--pause--> paused --resume--> active
#                   |\--lapse--> active                  (the pause itself will not happen)
#                   \--kill--> killing                  (a paused agent can still be stopped)
#
# ``drop``: the kill was rejected, failed, expired or cancelled; ``drop_paused``: the same of a kill issued
# while the agent was paused, its pause still standing (issued, not lapsed, not resumed); ``lapse``: the
# same of the pause (an agent offline when it was issued never heard it, and is not paused). While
# ``killing`` or ``killed`` a second kill is refused, and so is a task for the agent's current run (steer,
# follow_up): a ``queue`` task waits for the next run. ``paused`` is set when the pause is issued (the agent
# finishes its current model call, then waits); while paused a second pause and a task for the current run
# are refused, and a new session.start does not lift it: only a resume does. Stored as NULL for ``active``.
AGENT_CONTROL_STATES = ("active", "killing", "killed", "paused")
AGENT_TRANSITIONS: dict[tuple[str, str], str] = {
    ("active", "kill"): "killing",
    ("active", "pause"): "paused",
    ("paused", "resume"): "active",
    ("paused", "lapse"): "active",
    ("paused", "kill"): "killing",
    ("killing", "confirm"): "killed",
    ("killing", "drop"): "active",
    ("killing", "drop_paused"): "paused",
    ("killed", "release"): "active",
    ("killed", "restart"): "active",
}


# The agent event that undoes an agent-control command which will not happen (rejected, failed, expired or
# cancelled), by the command's kind and whether a pause stood when it was issued. A resume that lapses is not
# undone: the agent is shown active, as the operator asked.
UNDONE_BY = {("kill", False): "drop", ("kill", True): "drop_paused", ("pause", False): "lapse"}
# A pause in one of these states never took or will not: the agent is not paused by it.
NOT_HAPPENING = TERMINAL - {"completed"}


def pause_stands(last_pause_or_resume: tuple[str, str] | None) -> bool:
    """Whether the agent was paused, from its latest pause or resume command then: (kind, state)."""
    if last_pause_or_resume is None:
        return False
    kind, state = last_pause_or_resume
    return kind == "pause" and state not in NOT_HAPPENING


class IllegalTransition(ValueError):
    def __init__(self, state: str, event: str, what: str = "command", table=TRANSITIONS):
        allowed = sorted(e for (s, e) in table if s == state)
        super().__init__(
            f"a {state} {what} cannot {event}"
            + (f" (it can: {', '.join(allowed)})" if allowed else f" ({state} is final)")
        )
        self.state = state
        self.event = event


def transition(state: str, event: str) -> str:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def agent_transition(state: str | None, event: str) -> str:
    """The agent's next control state; ``None`` (as stored) is ``active``."""
    try:
        return AGENT_TRANSITIONS[(state or "active", event)]
    except KeyError:
        raise IllegalTransition(state or "active", event, "agent", AGENT_TRANSITIONS) from None


def stored_control_state(state: str) -> str | None:
    return None if state == "active" else state
