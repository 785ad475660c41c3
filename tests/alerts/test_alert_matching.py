"""Label matchers, silences and inhibition overlays, notification grouping, rule validation: plain modules,
no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helicarrier.alerts import grouping
from helicarrier.alerts.matchers import (
    Matcher,
    MatcherError,
    matches_everything,
    parse_matcher,
    parse_matchers,
)
from helicarrier.alerts.overlays import AlertView, InhibitRule, SilenceView, compute
from helicarrier.alerts.rules import RuleError, describe, format_value, spec, validate_rule
from helicarrier.alerts.validation import validate_receiver, validate_silence

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


# -- matchers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "hit"),
    [
        ('agent="atlas-01"', {"agent": "atlas-01"}, True),
        ('agent="atlas-01"', {"agent": "atlas-011"}, False),
        ('agent!="atlas-01"', {"agent": "vega"}, True),
        ('agent!="atlas-01"', {}, True),  # a missing label is the empty string
        ('agent=~"atlas-.*"', {"agent": "atlas-07"}, True),
        ('agent=~"atlas"', {"agent": "atlas-07"}, False),  # anchored, as in Alertmanager
        ('agent!~"atlas-.*"', {"agent": "vega"}, True),
        ('team=~".+"', {}, False),
        ("severity=critical", {"severity": "critical"}, True),
        ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
    ],
)
def test_matcher_operators(text, labels, hit):
    assert parse_matcher(text).matches(labels) is hit


def test_matchers_from_json_and_text_agree_and_round_trip():
    as_json = parse_matchers(
        [{"name": "agent", "op": "=~", "value": "a|b"}, {"name": "team", "value": "core"}]
    )
    as_text = parse_matchers('agent=~"a|b"\nteam="core"')
    assert as_json == as_text
    assert parse_matchers(",".join(str(m) for m in as_json)) == as_json


@pytest.mark.parametrize(
    "bad",
    ["agent", '1x="a"', {"name": "a", "op": "~", "value": "x"}, {"name": "a", "op": "=~", "value": "("}, 5],
)
def test_bad_matchers_are_refused_with_a_reason(bad):
    with pytest.raises(MatcherError):
        parse_matcher(bad)


def test_matchers_that_match_everything_are_recognised():
    assert matches_everything(parse_matchers('agent=~".*"'))
    assert matches_everything(parse_matchers('agent!="x"'))
    assert not matches_everything(parse_matchers('agent="x"'))


@given(st.dictionaries(st.sampled_from(["agent", "team", "model"]), st.text(max_size=8), max_size=3))
def test_equal_and_not_equal_are_complements(labels):
    for value in ("", "x", "core"):
        assert Matcher("team", "=", value).matches(labels) != Matcher("team", "!=", value).matches(labels)


# -- silences and inhibition ----------------------------------------------------------------------------


def test_silence_is_active_from_start_to_end_only():
    s = SilenceView(1, tuple(parse_matchers('agent="a1"')), at(10), at(20))
    assert [s.status(at(t)) for t in (5, 10, 19, 20)] == ["pending", "active", "active", "expired"]
    alerts = [AlertView("f1", 1, "firing", {"agent": "a1"}), AlertView("f2", 1, "firing", {"agent": "a2"})]
    assert compute(alerts, [s], [], at(5)) == {}
    assert compute(alerts, [s], [], at(15))["f1"].silenced_by == (1,)
    assert "f2" not in compute(alerts, [s], [], at(15))
    assert compute(alerts, [s], [], at(20)) == {}


def test_provider_outage_inhibits_per_agent_alerts_of_the_same_provider():
    outage = InhibitRule.from_setting(
        7, "provider outage", {"matchers": ['alertname="agent failures"'], "equal": ["provider"]}
    )
    alerts = [
        AlertView("src", 7, "firing", {"alertname": "provider outage", "provider": "openai"}),
        AlertView("t1", 3, "firing", {"alertname": "agent failures", "agent": "a1", "provider": "openai"}),
        AlertView("t2", 3, "firing", {"alertname": "agent failures", "agent": "a2", "provider": "anthropic"}),
        AlertView("t3", 4, "firing", {"alertname": "spend", "agent": "a1", "provider": "openai"}),
    ]
    out = compute(alerts, [], [outage], at(0))
    assert set(out) == {"t1"}
    assert out["t1"].inhibited_by == ("src",) and out["t1"].inhibiting_rules == ("provider outage",)
    # only a firing source inhibits
    pending = [AlertView("src", 7, "pending", alerts[0].labels), *alerts[1:]]
    assert compute(pending, [], [outage], at(0)) == {}


# -- grouping -------------------------------------------------------------------------------------------


def storm(n: int, fired: datetime) -> list[grouping.NotifyAlert]:
    return [
        grouping.NotifyAlert(f"fp{i:04d}", "firing", {"alertname": "agent offline", "agent": f"a{i}"}, fired)
        for i in range(n)
    ]


def test_five_hundred_agents_offline_are_one_notification_after_group_wait():
    alerts, timing = storm(500, at(0)), grouping.Timing()
    assert grouping.plan(1, ["alertname"], timing, alerts, [], {}, at(29)) == []
    (n,) = grouping.plan(1, ["alertname"], timing, alerts, [], {}, at(30))
    assert (len(n.alerts), n.reason, n.status, n.group_labels) == (
        500,
        "new",
        "firing",
        {"alertname": "agent offline"},
    )


def test_open_group_changes_wait_for_group_interval_and_unchanged_repeats_after_repeat_interval():
    timing = grouping.Timing(30, 300, 3600)
    first = storm(3, at(0))
    (n,) = grouping.plan(1, ["alertname"], timing, first, [], {}, at(30))
    key = n.group_key
    last = {key: grouping.LastSend(at(30), n.content())}
    more = first + storm(5, at(60))[3:]
    assert grouping.plan(1, ["alertname"], timing, more, [], last, at(100)) == []  # within group interval
    (n2,) = grouping.plan(1, ["alertname"], timing, more, [], last, at(330))
    assert (n2.reason, len(n2.alerts)) == ("changed", 5)
    last = {key: grouping.LastSend(at(330), n2.content())}
    assert grouping.plan(1, ["alertname"], timing, more, [], last, at(3000)) == []
    (n3,) = grouping.plan(1, ["alertname"], timing, more, [], last, at(330 + 3600))
    assert n3.reason == "repeat"


def test_resolution_is_announced_once_and_closes_the_group():
    timing = grouping.Timing(30, 300, 3600)
    alerts = storm(2, at(0))
    (n,) = grouping.plan(1, ["alertname"], timing, alerts, [], {}, at(30))
    last = {n.group_key: grouping.LastSend(at(30), n.content())}
    gone = [grouping.NotifyAlert(a.fingerprint, "resolved", a.labels, a.fired_at, at(200)) for a in alerts]
    (r,) = grouping.plan(1, ["alertname"], timing, [], gone, last, at(330))
    assert (r.status, len(r.alerts)) == ("resolved", 2)
    last = {n.group_key: grouping.LastSend(at(330), r.content())}
    assert grouping.plan(1, ["alertname"], timing, [], gone, last, at(5000)) == []


def test_resolved_alerts_never_announced_firing_are_not_announced():
    gone = [grouping.NotifyAlert("x", "resolved", {"alertname": "a"}, at(0), at(10))]
    assert grouping.plan(1, ["alertname"], grouping.Timing(), [], gone, {}, at(100)) == []


def test_groups_split_by_the_receivers_labels():
    alerts = [
        grouping.NotifyAlert(f"f{i}", "firing", {"alertname": "offline", "team": t}, at(0))
        for i, t in enumerate(["core", "ml", "core"])
    ]
    out = grouping.plan(1, ["alertname", "team"], grouping.Timing(group_wait_s=0), alerts, [], {}, at(0))
    assert sorted((n.group_labels["team"], len(n.alerts)) for n in out) == [("core", 2), ("ml", 1)]


# -- rules and settings ---------------------------------------------------------------------------------


def test_rule_validation_fills_defaults_and_keeps_money_as_decimal_text():
    v = validate_rule(
        {"name": " budget ", "metric": "budget_share", "threshold": 0.8, "params": {"budget_usd": "250.10"}}
    )
    assert (v["name"], v["threshold"], v["params"], v["group_by"]) == (
        "budget",
        "0.8",
        {"budget_usd": "250.10"},
        "fleet",
    )
    assert spec({**v, "id": 3}).threshold == Decimal("0.8")
    assert describe({**v, "id": 3}) == "budget_share > 0.8 over 1h"
    assert format_value("1234.5", "usd") == "$1,234.50" and format_value("0.25", "ratio") == "25.0%"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "spend_usd", "threshold": "1"}, "name"),
        ({"name": "x", "metric": "nope", "threshold": "1"}, "metric"),
        ({"name": "x", "metric": "spend_usd", "threshold": "NaN"}, "threshold"),
        ({"name": "x", "metric": "spend_usd", "threshold": "abc"}, "threshold"),
        ({"name": "x", "metric": "spend_usd", "threshold": "1", "comparator": "=>"}, "comparator"),
        ({"name": "x", "metric": "ingest_rejection_rate", "threshold": "1", "group_by": "agent"}, "group_by"),
        ({"name": "x", "metric": "spend_usd", "threshold": "1", "group_by": "label:severity"}, "group_by"),
        ({"name": "x", "metric": "budget_share", "threshold": "1"}, "params.budget_usd"),
        ({"name": "x", "metric": "spend_usd", "threshold": "1", "params": {"x": 1}}, "params"),
        ({"name": "x", "metric": "spend_usd", "threshold": "1", "window_s": 5}, "window_s"),
        ({"name": "x", "metric": "spend_usd", "threshold": "1", "nodata_state": "panic"}, "nodata_state"),
        (
            {"name": "x", "metric": "spend_usd", "threshold": "1", "inhibits": {"matchers": []}},
            "inhibits.matchers",
        ),
        ({"name": "x", "metric": "spend_usd", "threshold": "1", "colour": "red"}, "colour"),
    ],
)
def test_invalid_rules_name_the_field(body, field):
    with pytest.raises(RuleError) as err:
        validate_rule(body)
    assert err.value.field == field


def test_silence_validation():
    v = validate_silence({"matchers": ['agent="a1"'], "duration_s": 3600, "comment": "deploy"}, at(0))
    assert (v["starts_at"], v["ends_at"], v["matchers"]) == (
        at(0),
        at(3600),
        [{"name": "agent", "op": "=", "value": "a1"}],
    )
    for body, field in (
        ({"matchers": [], "duration_s": 60, "comment": "x"}, "matchers"),
        ({"matchers": ['agent=~".*"'], "duration_s": 60, "comment": "x"}, "matchers"),
        ({"matchers": ['agent="a"'], "comment": "x"}, "ends_at"),
        ({"matchers": ['agent="a"'], "ends_at": "2020-01-01T00:00:00Z", "comment": "x"}, "ends_at"),
        ({"matchers": ['agent="a"'], "ends_at": "2030-01-01T00:00:00", "comment": "x"}, "ends_at"),
        ({"matchers": ['agent="a"'], "duration_s": 60, "comment": " "}, "comment"),
    ):
        with pytest.raises(RuleError) as err:
            validate_silence(body, at(0))
        assert err.value.field == field


def test_receiver_validation():
    v = validate_receiver({"name": "ops", "url": "https://hooks.example/x"})
    assert (v["group_wait_s"], v["group_interval_s"], v["repeat_interval_s"]) == (30, 300, 14400)
    for body, field in (
        ({"name": "ops", "url": "ftp://x"}, "url"),
        ({"name": "ops", "url": "http://x", "group_wait_s": -1}, "group_wait_s"),
        ({"name": "ops", "url": "http://x", "group_by": "agent"}, "group_by"),
        ({"name": "", "url": "http://x"}, "name"),
    ):
        with pytest.raises(RuleError) as err:
            validate_receiver(body)
        assert err.value.field == field


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]:8080/x",
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata endpoint
        "http://0.0.0.0/",
    ],
)
def test_webhooks_to_loopback_or_link_local_addresses_are_refused_unless_allowed(url):
    with pytest.raises(RuleError) as err:
        validate_receiver({"name": "ops", "url": url})
    assert err.value.field == "url" and "loopback or link-local" in str(err.value)
    assert validate_receiver({"name": "ops", "url": url}, allow_local=True)["url"] == url


def test_a_receiver_whose_address_became_local_is_refused_at_delivery(ctx):
    from alerting_helpers import ADMIN, add_agents, now_utc, offline_rule, secs

    from helicarrier.alerts import engine

    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 1, seen=t0 - secs(300))
    offline_rule(repo)
    body = {"name": "ops", "url": "http://localhost:9/x", "group_wait_s": 0}
    repo.create_receiver(validate_receiver(body, allow_local=True), ADMIN)
    engine.run_cycle(repo, t0)
    sent: list[str] = []
    report = engine.dispatch(repo, t0, send=lambda url, payload: sent.append(url))
    assert sent == [] and report.failed == 1
    (delivery,) = repo.list_deliveries()
    assert "loopback or link-local" in delivery["error"]
