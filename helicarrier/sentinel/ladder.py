"""The escalation ladder, written once: its rungs in order, what taking each one does, and when the next one
may be taken. Plain functions; ``helicarrier.sentinel.service`` acts on the answers.

observe (record only) -> alert (shown in the Alerts feed and on the agent's card) -> steer (a corrective
instruction, injected through the control service) -> pause (the agent finishes its model call and waits
for an operator's resume) -> kill (through the control service)

An agent's policy is the highest rung the sentinel may take for it. A new finding is taken to ``alert`` at
once (if the policy allows); every later rung waits the grace since the one before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

LADDER = (
    "observe",
    "alert",
    "steer",
    "pause",
    "kill",
)
# The rungs that act on the agent through the control service (a command), as command kinds: the cool-down
# and an operator's exemption hold these.
ACTIONS = {"steer": "inject", "pause": "pause", "kill": "kill"}
NEXT = dict(zip(LADDER, LADDER[1:], strict=False))
RANK = {step: i for i, step in enumerate(LADDER)}


def next_step(step: str, policy: str, stepped_at: datetime, now: datetime, grace_s: int) -> str | None:
    """The rung to take now from ``step`` under ``policy``, or None (at the policy's ceiling, at the top, or
    the grace since the last rung has not passed)."""
    nxt = NEXT.get(step)
    if nxt is None or RANK[nxt] > RANK.get(policy, 0):
        return None
    if step != "observe" and now - stepped_at < timedelta(seconds=grace_s):
        return None
    return nxt
