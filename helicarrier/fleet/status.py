"""An agent's status as the HUD shows it, from what it reported, what was imposed on it, and its silence.

Precedence (first that applies): the control state an operator imposed (killing, killed, paused; see
``helicarrier.control.lifecycle``); offline when no sign of life for longer than the offline threshold; else
what the agent last reported.
"""

from __future__ import annotations

from datetime import datetime

from helicarrier.control.lifecycle import AGENT_CONTROL_STATES

IMPOSED = frozenset(s for s in AGENT_CONTROL_STATES if s != "active")
STATUSES = ("running", "idle", "stalled", "waiting", "offline", *sorted(IMPOSED))

# Icon per status (bootstrap-icons), so status is never told by colour alone.
STATUS_ICONS = {
    "running": "bi-play-circle-fill",
    "idle": "bi-pause-circle",
    "stalled": "bi-hourglass-split",
    "waiting": "bi-hourglass",
    "offline": "bi-wifi-off",
    "killing": "bi-x-octagon",
    "killed": "bi-x-octagon-fill",
    "paused": "bi-pause-btn-fill",
}


def effective_status(
    reported: str | None,
    control_state: str | None,
    last_seen: datetime | None,
    now: datetime,
    offline_after_s: int,
) -> str:
    online = last_seen is not None and (now - last_seen).total_seconds() <= offline_after_s
    return status_of(reported, control_state, online)


def status_of(reported: str | None, control_state: str | None, online: bool) -> str:
    """The status, once whether the agent was heard from recently enough is known."""
    if control_state in IMPOSED:
        return control_state
    if not online:
        return "offline"
    return reported if reported in STATUSES else "idle"
