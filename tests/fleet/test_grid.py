"""The Hero Grid's model without a browser: effective status, filters, order, and the smallest update that
brings the browser's cards up to date."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from helicarrier.fleet.grid import (
    card_models,
    filter_cards,
    heartbeat_changes,
    plan_update,
    shown_state,
    sort_cards,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def row(agent_id: str, **kw) -> dict:
    base = {
        "id": agent_id,
        "name": agent_id.title(),
        "status": "running",
        "control_state": None,
        "last_heartbeat_at": NOW - timedelta(seconds=5),
        "model": "gpt-4.1",
        "current_task": "triage",
        "session_status": "running",
        "session_started_at": NOW - timedelta(minutes=3),
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_nanos": 5_000,
        "unpriced_events": 0,
        "labels": {"team": "core"},
    }
    return {**base, **kw}


def cards(*rows):
    return card_models(list(rows), NOW, offline_after_s=60)


def test_status_is_what_was_imposed_then_silence_then_what_was_reported():
    got = cards(
        row("a"),
        row("b", control_state="killed"),
        row("c", last_heartbeat_at=NOW - timedelta(minutes=5)),
        row("d", status="nonsense"),
        row("e", last_heartbeat_at=None, control_state="killing"),
    )
    assert [c.status for c in got] == ["running", "killed", "offline", "idle", "killing"]
    assert got[0].tokens == 120 and got[0].cost_nanos == 5_000


def test_an_ended_session_contributes_no_running_figures():
    (card,) = cards(row("a", session_status="succeeded"))
    assert (card.tokens, card.cost_nanos, card.session_started_at) == (0, 0, None)


def test_filters_and_sort():
    got = cards(
        row("a", cost_nanos=1),
        row("b", cost_nanos=9, labels={"team": "ml"}),
        row("c", status="stalled", cost_nanos=0),
    )
    assert [c.id for c in filter_cards(got, ["running"], None, None)] == ["a", "b"]
    assert [c.id for c in filter_cards(got, None, ["team=ml"], None)] == ["b"]
    assert [c.id for c in filter_cards(got, None, None, "C")] == ["c"]
    assert [c.id for c in sort_cards(got, "cost")] == ["b", "a", "c"]
    assert [c.id for c in sort_cards(got, "status")][0] == "c"  # stalled is more urgent than running


def test_plan_update_sends_the_least_that_brings_the_browser_up_to_date():
    first = cards(row("a"), row("b"))
    assert plan_update(None, first).kind == "full"
    shown = shown_state(first)
    assert plan_update(shown, first).kind == "none"
    # A heartbeat alone changes nothing on the card (it travels separately)...
    beat = [replace(first[0], last_seen=NOW.isoformat()), first[1]]
    assert plan_update(shown, beat).kind == "none"
    assert heartbeat_changes({"a": first[0].last_seen, "b": first[1].last_seen}, beat) == {
        "a": NOW.isoformat()
    }
    # ...a new task patches its position only...
    moved = [first[0], replace(first[1], task="deploy")]
    update = plan_update(shown, moved)
    assert (update.kind, update.changed) == ("patch", (1,))
    # ...and a new member or another order replaces the grid.
    assert plan_update(shown, [first[1], first[0]]).kind == "full"
    assert plan_update(shown, [*first, *cards(row("c"))]).kind == "full"
