"""A budget's state, written once as a table of transitions; the evaluation and the admin's actions go
through ``transition``.

ok --soft--> soft --lock--> locked --override--> overridden
 \\------------lock------------^  \\--raise--> ok
every state --reset--> ok (the period's reset); soft --raise--> ok (the limit raised above the soft line)

``soft``: the spend crossed the soft threshold, or the burn rate projects exhaustion before the period ends
(the soft alert fires). ``locked``: the limit is spent; the scope takes no new work. ``overridden``: an admin
lifted the lock for the rest of the period (with a reason, audited); it does not lock again until the reset.
"""

from __future__ import annotations

from helicarrier.control.lifecycle import IllegalTransition

STATES = ("ok", "soft", "locked", "overridden")
TRANSITIONS: dict[tuple[str, str], str] = {
    ("ok", "soft"): "soft",
    ("ok", "lock"): "locked",
    ("soft", "lock"): "locked",
    ("soft", "raise"): "ok",
    ("locked", "raise"): "ok",
    ("locked", "override"): "overridden",
    ("soft", "reset"): "ok",
    ("locked", "reset"): "ok",
    ("overridden", "reset"): "ok",
}
POLICIES = ("pause", "kill", "finish")
SCOPES = ("fleet", "label", "agent", "model")
PERIODS = ("day", "month")


def transition(state: str, event: str) -> str:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event, "budget", TRANSITIONS) from None
