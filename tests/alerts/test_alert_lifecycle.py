"""The alert lifecycle as a state machine: the table transition by transition, then ``evaluate`` against an
independent model of the timers (hypothesis drives random condition sequences through both)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helicarrier.alerts.lifecycle import (
    CLOSED_STATES,
    EVENTS,
    NOTIFYING_STATES,
    OPEN_STATES,
    STATES,
    TRANSITIONS,
    AlertState,
    EvalFailure,
    IllegalTransition,
    RuleSpec,
    Sample,
    close_all,
    compare,
    evaluate,
    fingerprint,
    step,
    transition,
    would_fire,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AGENT = {"agent": "atlas-01"}
FP = fingerprint(1, AGENT)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def rule(**kw) -> RuleSpec:
    return RuleSpec(**{"id": 1, "comparator": ">", "threshold": Decimal("10"), "for_s": 60, **kw})


def run(r: RuleSpec, samples, now, store: dict[str, AlertState]):
    """One evaluation, with the outcomes folded back into ``store`` as the database would keep them."""
    outcomes = evaluate(r, samples, now, store)
    for o in outcomes:
        store[o.fingerprint] = o.as_state(store.get(o.fingerprint) and store[o.fingerprint].acked_at)
    return {o.fingerprint: o for o in outcomes}


def one(value) -> list[Sample]:
    return [Sample(AGENT, Decimal(value))]


# -- the table ---------------------------------------------------------------------------------------

EXPECTED = {
    ("inactive", "breach"): "pending",
    ("inactive", "hold"): "firing",
    ("inactive", "clear"): "inactive",
    ("pending", "breach"): "pending",
    ("pending", "hold"): "firing",
    ("pending", "clear"): "inactive",
    ("firing", "breach"): "firing",
    ("firing", "hold"): "firing",
    ("firing", "clear"): "resolved",
    ("resolved", "breach"): "pending",
    ("resolved", "hold"): "firing",
    ("resolved", "reopen"): "firing",
    ("resolved", "clear"): "resolved",
    ("nodata", "breach"): "pending",
    ("nodata", "hold"): "firing",
    ("nodata", "clear"): "resolved",
    ("error", "breach"): "pending",
    ("error", "hold"): "firing",
    ("error", "clear"): "resolved",
}


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
def test_each_transition_of_the_table(state, event):
    assert transition(state, event) == EXPECTED[(state, event)]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", ["nodata", "error"])
def test_nodata_and_error_are_reachable_from_every_state(state, event):
    assert transition(state, event) == event


@pytest.mark.parametrize("state", sorted(set(STATES) - {"resolved"}))
def test_only_a_resolved_alert_reopens(state):
    with pytest.raises(IllegalTransition) as err:
        transition(state, "reopen")
    # the engine logs the refusal on the rule: it names the alert's state and the event refused
    assert str(err.value) == f"an alert in state {state} cannot take event reopen"
    assert (err.value.state, err.value.event) == (state, "reopen")


def test_the_table_is_complete_and_names_only_known_states():
    assert set(TRANSITIONS) == set(EXPECTED) | {(s, e) for s in STATES for e in ("nodata", "error")}
    assert {s for s, _ in TRANSITIONS} <= set(STATES) and set(TRANSITIONS.values()) <= set(STATES)
    assert {e for _, e in TRANSITIONS} == set(EVENTS)
    # pending never notifies; nothing goes from pending straight to resolved (it was never announced)
    assert "pending" not in NOTIFYING_STATES
    assert all(TRANSITIONS[k] != "resolved" for k in TRANSITIONS if k[0] == "pending")


# -- evaluate, transition by transition -----------------------------------------------------------------


def test_breach_goes_pending_then_fires_when_for_has_elapsed():
    r, store = rule(), {}
    o = run(r, one(11), at(0), store)[FP]
    assert (o.before, o.after, o.event, o.active_since, o.fired_at) == (
        "inactive",
        "pending",
        "breach",
        at(0),
        None,
    )
    assert run(r, one(12), at(45), store)[FP].after == "pending"
    o = run(r, one(13), at(60), store)[FP]
    assert (o.before, o.after, o.event, o.fired_at, o.active_since) == (
        "pending",
        "firing",
        "hold",
        at(60),
        at(0),
    )
    assert o.peak == Decimal(13)


def test_for_zero_fires_at_once():
    o = run(rule(for_s=0), one(11), at(0), {})[FP]
    assert (o.before, o.after, o.fired_at) == ("inactive", "firing", at(0))


def test_pending_that_clears_goes_away_without_firing():
    r, store = rule(), {}
    run(r, one(11), at(0), store)
    o = run(r, one(5), at(30), store)[FP]
    assert (o.before, o.after, o.event, o.fired_at, o.active_since) == (
        "pending",
        "inactive",
        "clear",
        None,
        None,
    )
    # and the timer starts again from scratch
    assert run(r, one(11), at(40), store)[FP].active_since == at(40)


def test_firing_that_clears_resolves_with_start_end_and_peak():
    r, store = rule(for_s=0), {}
    run(r, one(20), at(0), store)
    run(r, one(50), at(15), store)
    run(r, one(30), at(30), store)
    o = run(r, one(1), at(45), store)[FP]
    assert (o.before, o.after, o.active_since, o.fired_at, o.resolved_at) == (
        "firing",
        "resolved",
        at(0),
        at(0),
        at(45),
    )
    assert o.peak == Decimal(50)


def test_a_group_missing_from_the_samples_counts_as_clear():
    r, store = rule(for_s=0), {}
    run(r, one(20), at(0), store)
    other = [Sample({"agent": "vega-02"}, Decimal(1))]
    assert run(r, other, at(15), store)[FP].after == "resolved"


def test_resolved_alert_firing_again_within_reopen_interval_reopens_the_same_episode():
    r, store = rule(for_s=60, reopen_s=300), {}
    run(r, one(20), at(0), store)
    run(r, one(20), at(60), store)
    run(r, one(1), at(120), store)
    o = run(r, one(25), at(200), store)[FP]
    assert (o.before, o.after, o.event) == ("resolved", "firing", "reopen")
    assert (o.fired_at, o.active_since, o.resolved_at, o.episode, o.new_episode) == (
        at(60),
        at(0),
        None,
        1,
        False,
    )
    assert o.peak == Decimal(25)


def test_resolved_alert_firing_again_later_starts_a_new_episode():
    r, store = rule(for_s=60, reopen_s=300), {}
    run(r, one(20), at(0), store)
    run(r, one(20), at(60), store)
    run(r, one(1), at(120), store)
    o = run(r, one(12), at(1000), store)[FP]
    assert (o.before, o.after, o.event, o.new_episode, o.episode) == (
        "resolved",
        "pending",
        "breach",
        True,
        2,
    )
    assert (o.active_since, o.fired_at, o.resolved_at, o.peak) == (at(1000), None, None, Decimal(12))


def test_peak_is_the_lowest_value_for_below_threshold_rules():
    r, store = rule(comparator="<", threshold=Decimal("0.5"), for_s=0), {}
    for i, v in enumerate(("0.4", "0.1", "0.3")):
        o = run(r, one(v), at(i * 15), store)[FP]
    assert o.peak == Decimal("0.1")


def test_restart_in_the_middle_of_for_resumes_the_timer():
    """The timer is active_since, stored with the alert: a new evaluator reading it back fires on time."""
    r, store = rule(for_s=120), {}
    run(r, one(11), at(0), store)
    stored = store[FP]
    restarted = {FP: AlertState(**{f: getattr(stored, f) for f in stored.__dataclass_fields__})}
    assert run(r, one(11), at(90), restarted)[FP].after == "pending"
    assert run(r, one(11), at(120), restarted)[FP].after == "firing"


# -- no data and errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"), [("nodata", "nodata"), ("alert", "firing"), ("ok", None), ("keep_last", None)]
)
def test_no_data_per_rule_setting(setting, expected):
    r = rule(for_s=0, nodata_state=setting)
    out = run(r, [], at(0), {})
    rule_level = fingerprint(1, {})
    assert (out[rule_level].after if rule_level in out else None) == expected


def test_no_data_keep_last_and_ok_on_a_firing_alert():
    for setting, expected in (("keep_last", "firing"), ("ok", "resolved"), ("nodata", "firing")):
        r, store = rule(for_s=0, nodata_state=setting), {}
        run(r, one(20), at(0), store)
        run(r, [], at(15), store)
        assert store[FP].state == expected, setting  # per-group alerts keep their state unless "ok"


def test_error_goes_to_error_with_the_message_and_recovers():
    r, store = rule(for_s=0), {}
    out = run(r, EvalFailure("OperationalError: no such table"), at(0), store)
    o = out[fingerprint(1, {})]
    assert (o.after, o.message) == ("error", "OperationalError: no such table")
    # the metric works again: the rule-level error alert resolves, the groups evaluate normally
    out = run(r, one(20), at(15), store)
    assert out[fingerprint(1, {})].after == "resolved" and out[FP].after == "firing"


def test_error_setting_alert_fires_after_for():
    r, store = rule(for_s=30, error_state="alert"), {}
    assert run(r, EvalFailure("x"), at(0), store)[fingerprint(1, {})].after == "pending"
    assert run(r, EvalFailure("x"), at(30), store)[fingerprint(1, {})].after == "firing"


def test_metrics_that_count_problems_treat_no_samples_as_clear():
    r, store = rule(for_s=0, empty_is_ok=True), {}
    run(r, one(20), at(0), store)
    out = run(r, [], at(15), store)
    assert out[FP].after == "resolved" and fingerprint(1, {}) not in out


def test_acknowledgement_is_cleared_when_the_alert_resolves():
    r = rule(for_s=0)
    firing = AlertState(FP, "firing", AGENT, Decimal(20), Decimal(20), at(0), at(0), acked_at=at(5))
    o = step(r, firing, "clear", None, at(10))
    assert o.after == "resolved" and o.clear_ack
    assert not step(r, firing, "breach", Decimal(21), at(10)).clear_ack


def test_an_acknowledged_alert_stays_acknowledged_while_it_fires_then_forgets_it_when_resolved():
    # An operator's ack must survive every cycle of a still-firing alert (it pauses notifications), and the
    # stored alert must carry this cycle's value and context (the HUD shows them), not the first ones.
    r, store = rule(for_s=0), {}
    run(r, [Sample(AGENT, Decimal(20), {"model": "gpt-4o"})], at(0), store)
    store[FP] = replace(store[FP], acked_at=at(5))
    run(r, [Sample(AGENT, Decimal(30), {"model": "o3"})], at(10), store)
    assert store[FP].state == "firing" and store[FP].acked_at == at(5)
    assert store[FP].value == Decimal(30) and store[FP].context == {"model": "o3"}
    run(r, one(1), at(20), store)
    assert store[FP].state == "resolved" and store[FP].acked_at is None
    # resolved by a sample without context: it shows the value that cleared it and keeps its last context
    assert store[FP].value == Decimal(1) and store[FP].context == {"model": "o3"}


def test_closing_a_rule_resolves_each_open_alert_now_keeping_its_episode():
    firing = AlertState(FP, "firing", AGENT, Decimal(20), Decimal(25), at(0), at(0), episode=3)
    pending = AlertState(fingerprint(1, {"agent": "b"}), "pending", {"agent": "b"}, Decimal(11), None, at(30))
    out = close_all(rule(), [firing, pending], at(90))
    assert [(o.after, o.resolved_at) for o in out] == [("resolved", at(90)), ("inactive", None)]
    assert out[0].peak == Decimal(25) and out[0].episode == 3 and out[0].active_since == at(0)


def test_fingerprint_depends_on_rule_and_sorted_labels_only():
    assert fingerprint(1, {"a": "1", "b": "2"}) == fingerprint(1, {"b": "2", "a": "1"})
    assert fingerprint(1, {"a": "1"}) != fingerprint(2, {"a": "1"})
    assert fingerprint(1, {"a": "1"}) != fingerprint(1, {"a": "2"})
    assert len(fingerprint(1, {})) == 64


def test_would_fire_counts_groups_over_threshold_with_decimal_money():
    r = rule(threshold=Decimal("0.10"))
    samples = [Sample({"agent": str(i)}, Decimal("0.1") + Decimal(i) / 100) for i in range(3)]
    assert [s.labels["agent"] for s in would_fire(r, samples)] == ["1", "2"]  # 0.10 is not > 0.10


# -- hypothesis: evaluate against an independent model --------------------------------------------------


def model(for_s: int, reopen_s: int, seq: list[tuple[int, bool]]) -> list[str]:
    """The expected state after each (time, condition) step, written without the table."""
    state, since, resolved_at, out = "inactive", None, None, []
    for t, holds in seq:
        if holds:
            if state == "resolved" and t - resolved_at <= reopen_s:
                state = "firing"
            elif state in ("inactive", "resolved"):
                since = t
                state = "firing" if for_s == 0 else "pending"
            elif state == "pending" and t - since >= for_s:
                state = "firing"
        else:
            if state == "pending":
                state = "inactive"
            elif state == "firing":
                state, resolved_at = "resolved", t
        out.append(state)
    return out


steps = st.lists(st.tuples(st.integers(1, 120), st.booleans()), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(for_s=st.sampled_from([0, 15, 60, 300]), reopen_s=st.sampled_from([0, 60, 600]), seq=steps)
def test_evaluate_matches_the_model(for_s, reopen_s, seq):
    r, store, t = rule(for_s=for_s, reopen_s=reopen_s), {}, 0
    timeline = []
    for dt, holds in seq:
        t += dt
        timeline.append((t, holds))
    expected = model(for_s, reopen_s, timeline)
    fired_once_per_episode: dict[int, int] = {}
    for (t, holds), want in zip(timeline, expected, strict=True):
        prev = store.get(FP)
        out = run(r, one(20 if holds else 1), at(t), store)
        got = store[FP].state if FP in store else "inactive"
        assert got == want
        o = out.get(FP)
        if o is not None and o.changed and o.after == "firing" and o.event != "reopen":
            fired_once_per_episode[o.episode] = fired_once_per_episode.get(o.episode, 0) + 1
        if got == "firing":
            s = store[FP]
            assert s.fired_at is not None and s.active_since is not None and s.fired_at >= s.active_since
        if got == "resolved":
            assert store[FP].resolved_at is not None
        if got in OPEN_STATES and prev is not None and prev.state in CLOSED_STATES and o.event != "reopen":
            assert o.new_episode
    assert all(n == 1 for n in fired_once_per_episode.values())  # each episode fires once


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.decimals(min_value=-1000, max_value=1000, places=2), min_size=1, max_size=30),
    comparator=st.sampled_from([">", ">=", "<", "<="]),
)
def test_peak_is_the_worst_value_of_the_episode(values, comparator):
    r, store = rule(for_s=0, comparator=comparator, threshold=Decimal(0), reopen_s=0), {}
    breaching: list[Decimal] = []
    for i, v in enumerate(values):
        run(r, one(v), at(i), store)
        s = store.get(FP)
        if s is None or s.state != "firing":
            breaching = []
            continue
        breaching.append(v)
        worst = min(breaching) if comparator in ("<", "<=") else max(breaching)
        assert s.peak == worst


# -- rules the model above does not reach (found by `make mutation`) -----------------------------------------


@pytest.mark.parametrize(
    ("comparator", "below", "equal", "above"),
    [
        (">", False, False, True),
        (">=", False, True, True),
        ("<", True, False, False),
        ("<=", True, True, False),
        ("==", False, True, False),
        ("!=", True, False, True),
    ],
)
def test_each_comparator_at_the_threshold_and_either_side(comparator, below, equal, above):
    got = [compare(Decimal(v), comparator, Decimal("10.00")) for v in ("9.99", "10", "10.01")]
    assert got == [below, equal, above]
    with pytest.raises(ValueError, match="unknown comparator '=>'"):
        compare(Decimal(1), "=>", Decimal(1))


def test_a_breach_exactly_at_the_end_of_the_reopen_interval_reopens_the_same_episode():
    r, store = rule(for_s=0, reopen_s=60), {}
    run(r, one(20), at(0), store)
    run(r, one(1), at(10), store)
    out = run(r, one(20), at(70), store)  # 60 s after the resolution: still within
    assert out[FP].event == "reopen" and store[FP].episode == 1
    run(r, one(1), at(80), store)
    out = run(r, one(20), at(141), store)  # 61 s after: a new episode
    assert out[FP].event != "reopen" and store[FP].episode == 2


def test_when_data_comes_back_the_for_timer_starts_again():
    r = rule(for_s=60)
    for state in ("nodata", "error"):
        prev = AlertState(FP, state, AGENT, None, None, active_since=at(0), fired_at=at(0))
        o = step(r, prev, "breach", Decimal(20), at(500))
        assert (o.after, o.active_since) == ("pending", at(500)), state
    # with no `for`, straight back to firing: active since the data came back, not since it went away
    for state in ("nodata", "error"):
        prev = AlertState(FP, state, AGENT, None, None, active_since=at(0), fired_at=at(0))
        o = step(rule(for_s=0), prev, "hold", Decimal(20), at(500))
        assert (o.after, o.active_since) == ("firing", at(500)), state


def test_every_group_of_a_sample_set_is_judged_and_a_vanished_group_resolves_now():
    r = rule(for_s=0)
    gone = {"agent": "gone"}
    store = {
        fingerprint(1, gone): AlertState(
            fingerprint(1, gone), "firing", gone, Decimal(30), Decimal(30), at(0), at(0)
        )
    }
    samples = [
        Sample({"agent": "quiet"}, Decimal(1)),  # a quiet group with no alert: skipped, not the end
        Sample({"agent": "hot"}, Decimal(20)),
        Sample({"agent": "hot"}, Decimal(99)),  # a group returned twice: the first wins, the rest go on
        Sample({"agent": "warm"}, Decimal(11)),
    ]
    out = run(r, samples, at(50), store)
    hot, warm = fingerprint(1, {"agent": "hot"}), fingerprint(1, {"agent": "warm"})
    assert (out[hot].after, out[hot].value, out[hot].labels) == ("firing", Decimal(20), {"agent": "hot"})
    assert out[warm].after == "firing" and out[warm].labels == {"agent": "warm"}
    vanished = out[fingerprint(1, gone)]
    assert (vanished.after, vanished.resolved_at) == ("resolved", at(50))


def test_no_data_with_ok_resolves_every_open_group_now_and_leaves_closed_ones():
    r = rule(for_s=0, nodata_state="ok")
    a, b, c = ({"agent": n} for n in ("a", "b", "c"))
    store = {
        fingerprint(1, a): AlertState(fingerprint(1, a), "resolved", a, resolved_at=at(0)),
        fingerprint(1, b): AlertState(fingerprint(1, b), "firing", b, Decimal(20), Decimal(20), at(0), at(0)),
        fingerprint(1, c): AlertState(fingerprint(1, c), "pending", c, Decimal(20), Decimal(20), at(0)),
    }
    out = run(r, [], at(30), store)
    assert (out[fingerprint(1, b)].after, out[fingerprint(1, b)].resolved_at) == ("resolved", at(30))
    assert out[fingerprint(1, c)].after == "inactive"
    assert fingerprint(1, a) not in out


def test_groups_of_several_labels_are_each_their_own_alert_whatever_order_their_labels_come_in():
    """The fingerprint takes any number of group labels; the evaluator matches a sample to its stored
    alert by the same labels in any order (a database may hand JSON keys back sorted its own way)."""
    r = rule(for_s=0)
    a_b, b_a = {"agent": "a", "model": "b"}, {"agent": "b", "model": "a"}
    store: dict[str, AlertState] = {}
    out = run(r, [Sample(a_b, Decimal(20)), Sample(b_a, Decimal(30))], at(0), store)
    assert {o.after for o in out.values()} == {"firing"} and set(out) == {
        fingerprint(1, a_b),
        fingerprint(1, b_a),
    }
    # read back with the labels in the other order: the same two alerts, still firing, same episode
    store = {fp: replace(a, labels=dict(reversed(list(a.labels.items())))) for fp, a in store.items()}
    out = run(r, [Sample(a_b, Decimal(21)), Sample(b_a, Decimal(31))], at(60), store)
    assert {fp: (o.before, o.after, o.value, o.new_episode) for fp, o in out.items()} == {
        fingerprint(1, a_b): ("firing", "firing", Decimal(21), False),
        fingerprint(1, b_a): ("firing", "firing", Decimal(31), False),
    }
