"""The two control state machines, as tables: every (state, event) pair is either the transition written
here or refused, so a change to either table shows up as a failing row."""

from __future__ import annotations

import itertools

import pytest

from helicarrier.control.lifecycle import (
    ACK_EVENTS,
    AGENT_CONTROL_STATES,
    AGENT_TRANSITIONS,
    STATES,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    agent_transition,
    stored_control_state,
    transition,
)

COMMAND_EVENTS = ("deliver", "redeliver", "accept", "reject", "complete", "fail", "expire", "cancel")
COMMAND_TABLE = {
    ("pending", "deliver"): "delivered",
    ("pending", "expire"): "expired",
    ("pending", "cancel"): "cancelled",
    ("delivered", "redeliver"): "delivered",  # not answered in time: handed over again (at least once)
    ("delivered", "accept"): "accepted",
    ("delivered", "reject"): "rejected",
    ("delivered", "complete"): "completed",
    ("delivered", "fail"): "failed",
    ("accepted", "complete"): "completed",
    ("accepted", "fail"): "failed",
}
AGENT_EVENTS = ("kill", "confirm", "drop", "drop_paused", "release", "restart", "pause", "resume", "lapse")
AGENT_TABLE = {
    ("active", "kill"): "killing",
    ("active", "pause"): "paused",
    ("paused", "resume"): "active",
    ("paused", "lapse"): "active",  # the pause itself will not happen (rejected, failed, expired, cancelled)
    ("paused", "kill"): "killing",
    ("killing", "confirm"): "killed",
    ("killing", "drop"): "active",
    ("killing", "drop_paused"): "paused",  # the kill of an agent whose pause still stands
    ("killed", "release"): "active",
    ("killed", "restart"): "active",
}


@pytest.mark.parametrize("state,event", list(itertools.product(STATES, COMMAND_EVENTS)))
def test_command_table(state, event):
    expected = COMMAND_TABLE.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition) as err:
            transition(state, event)
        # The 409 an operator reads says what the command can still do, from the test's own table.
        allowed = sorted(e for (s, e) in COMMAND_TABLE if s == state)
        hint = f"it can: {', '.join(allowed)}" if allowed else f"{state} is final"
        assert str(err.value) == f"a {state} command cannot {event} ({hint})"
        assert (err.value.state, err.value.event) == (state, event)
    else:
        assert transition(state, event) == expected


def test_command_table_is_the_whole_table():
    assert TRANSITIONS == COMMAND_TABLE
    # Terminal states take no event; every ack names an event of the table.
    assert not any(s in TERMINAL for s, _e in TRANSITIONS)
    assert set(ACK_EVENTS.values()) <= set(COMMAND_EVENTS)


@pytest.mark.parametrize("state,event", list(itertools.product(AGENT_CONTROL_STATES, AGENT_EVENTS)))
def test_agent_control_table(state, event):
    expected = AGENT_TABLE.get((state, event))
    stored = stored_control_state(state)
    if expected is None:
        with pytest.raises(IllegalTransition) as err:
            agent_transition(stored, event)
        allowed = sorted(e for (s, e) in AGENT_TABLE if s == state)
        assert str(err.value) == f"a {state} agent cannot {event} (it can: {', '.join(allowed)})"
        assert (err.value.state, err.value.event) == (state, event)
    else:
        assert agent_transition(stored, event) == expected


def test_agent_control_table_is_the_whole_table():
    assert AGENT_TRANSITIONS == AGENT_TABLE
    # Active is stored as NULL, and every state can be left again (none is a dead end).
    assert stored_control_state("active") is None and agent_transition(None, "kill") == "killing"
    assert {s for s, _e in AGENT_TRANSITIONS} == set(AGENT_CONTROL_STATES)
