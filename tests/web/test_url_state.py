"""Page state in the URL: what a shared link, a reload or Back restores, and what a crafted link cannot do."""

from __future__ import annotations

from datetime import UTC, date, datetime

from helicarrier.callbacks import intelligence as intel_cb
from helicarrier.callbacks import ledger as ledger_cb
from helicarrier.layouts import intelligence, ledger
from helicarrier.layouts.intelligence_ids import ID as INTEL
from helicarrier.layouts.ledger_ids import ID as LEDGER
from helicarrier.layouts.url_state import (
    intel_from_query,
    intel_preset_days,
    intel_query,
    ledger_from_query,
    ledger_link,
    ledger_query,
    preset_bounds,
)
from tests.web.test_intelligence_layouts import by_id as find


def test_the_ledger_filters_round_trip_through_the_query_string():
    lists = {"agent": ["atlas 01", "vega&03"], "status": ["failed"], "model": ["gpt-4.1"]}
    query = ledger_query(lists, "2026-11-01", "2026-11-30", "  rate limit ", None)
    state = ledger_from_query(query)
    assert state["agent"] == ["atlas 01", "vega&03"] and state["status"] == ["failed"]
    assert state["model"] == ["gpt-4.1"] and state["provider"] == [] and state["label"] == []
    assert (state["from"], state["to"], state["q"], state["range"]) == (
        "2026-11-01",
        "2026-11-30",
        "rate limit",
        None,
    )
    assert ledger_query({}, None, None, "", None) == ""  # nothing filtered: a clean /ledger


def test_a_preset_stands_instead_of_dates():
    assert "from=" not in ledger_query({}, "2026-11-01", None, None, "7d")
    assert ledger_from_query("?range=7d")["range"] == "7d"
    assert ledger_from_query("?range=7d&from=2026-11-01")["range"] is None  # dates given: they win
    now = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
    assert preset_bounds("1h", now) == (datetime(2026, 12, 5, 9, 30, tzinfo=UTC), None)
    assert preset_bounds("month", now, "Asia/Tokyo")[0] == datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert intel_preset_days("month", date(2026, 12, 5)) == ("2026-12-01", "2026-12-05")
    assert intel_preset_days("7d", date(2026, 12, 5)) == ("2026-11-29", "2026-12-05")


def test_a_crafted_query_is_dropped_never_shown_or_an_error():
    state = ledger_from_query("?from=0001-01-01&to=not-a-day&range=forever&agent=" + "x" * 500)
    assert state["from"] is None and state["to"] is None and state["range"] is None and state["agent"] == []
    assert ledger_from_query("&".join(f"agent=a{i}" for i in range(5000)))["agent"] == []  # too many fields
    assert len(ledger_from_query("?" + "&".join(f"agent=a{i}" for i in range(300)))["agent"]) == 50
    intel = intel_from_query("?tz=Europe&group=cost&from=9999-12-31&range=decade")
    assert intel == {"from": None, "to": None, "tz": None, "group": None, "range": None}


def test_the_ledger_opens_with_the_links_filters():
    tree = ledger.layout(None, "?status=failed&agent=atlas-01&q=billing&from=2026-11-01")
    assert find(tree, LEDGER.FILTER_STATUS).value == ["failed"]
    # offered at once, before the options load, so the control shows what filters the grid
    assert find(tree, LEDGER.FILTER_AGENT).options == [{"label": "atlas-01", "value": "atlas-01"}]
    assert find(tree, LEDGER.SEARCH).value == "billing"
    assert find(tree, LEDGER.DATES).start_date == "2026-11-01" and find(tree, LEDGER.DATES).end_date is None
    assert (
        ledger_cb.url_state(None, [], [], [], ["failed"], [], None, None, "x", "24h")
        == "?status=failed&range=24h&q=x"
    )


def test_the_intelligence_page_opens_with_the_links_range_zone_and_grouping():
    tree = intelligence.layout(None, "?from=2026-11-01&to=2026-11-30&tz=Pacific/Chatham&group=agent")
    dates = find(tree, INTEL.DATES)
    assert (dates.start_date, dates.end_date) == ("2026-11-01", "2026-11-30")
    tz = find(tree, INTEL.TZ)
    assert (
        tz.value == "Pacific/Chatham"
        and {"label": "Pacific/Chatham", "value": "Pacific/Chatham"} in tz.options
    )
    assert find(tree, INTEL.GROUP).value == "agent"
    today = datetime.now(UTC).date().isoformat()
    assert find(intelligence.layout(None, "?range=today"), INTEL.DATES).start_date == today
    assert intel_query("2026-11-01", "2026-11-30", "UTC", "model") == "?from=2026-11-01&to=2026-11-30"


def test_a_heatmap_cell_opens_the_ledger_on_its_model_and_range():
    click = {"points": [{"x": 0, "y": 1, "z": 0.8}]}
    href = intel_cb.open_ledger_for_cell(
        None, click, ["claude-sonnet-4", "gpt-4.1"], "2026-11-01", "2026-11-30"
    )
    assert href == "/ledger?model=gpt-4.1&from=2026-11-01&to=2026-11-30"
    assert ledger_from_query(href.split("?", 1)[1])["model"] == ["gpt-4.1"]
    for bad in (None, {"points": []}, {"points": [{"y": 7}]}, {"points": [{"y": "0"}]}):
        assert intel_cb.open_ledger_for_cell(None, bad, ["gpt-4.1"], None, None) is intel_cb.no_update
    assert ledger_link(agent="a/1") == "/ledger?agent=a%2F1"


def test_an_alert_links_to_itself_and_to_the_sessions_behind_it():
    from helicarrier.layouts.alerts import alert_href, focus_from_query, sessions_href

    alert = {
        "id": 12,
        "labels": {"agent": "vega-03", "alertname": "offline"},
        "active_since": datetime(2026, 12, 4, 23, 50, tzinfo=UTC),
    }
    assert alert_href(alert) == "/alerts?alert=12" and focus_from_query("?alert=12") == 12
    assert sessions_href(alert) == "/ledger?agent=vega-03&from=2026-12-04"
    assert sessions_href({"id": 1, "labels": {"model": "gpt-4.1"}}) == "/ledger?model=gpt-4.1"
    for bad in ("?alert=-1", "?alert=1e3", "?alert=" + "9" * 30, "", None):
        assert focus_from_query(bad) is None
