"""GET /api/v1/slo: the figures come from sli_rollups over the right windows, and the burn conditions hold
when bad minutes are injected."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema

from helicarrier.slo.recorder import minute_of


def _get(api, make_token):
    token = make_token("reader", "read")
    resp = api.client.get("/api/v1/slo", headers=api.headers(token))
    assert resp.status_code == 200, resp.get_json()
    doc = api.client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/slo"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(resp.get_json(), {**schema, "components": doc["components"]})
    return {s["name"]: s for s in resp.get_json()["slos"]}


def test_no_events_is_no_figure_and_no_alert(api, make_token):
    slos = _get(api, make_token)
    assert list(slos) == [
        "ingest_availability",
        "ingest_latency",
        "alert_lag",
        "pulse_freshness",
        "command_delivery",
    ]
    avail = slos["ingest_availability"]
    assert avail["target_percent"] == "99.9" and avail["budget_left"] is None and avail["alert"] is None
    assert avail["windows"]["1h"] == {"total": 0, "bad": 0, "sli": None, "burn_rate": None}
    assert all(s["recorded"] for s in slos.values())  # every SLO is measured, the Pulse too


def test_a_fast_burn_pages_and_the_windows_sum_the_right_minutes(api, make_token):
    now = minute_of(datetime.now(UTC))
    rows = {}
    # The last hour: 1.5% of ingest answers failed each minute (15x a 0.1% budget).
    for m in range(60):
        rows[(now - m, "ingest_availability")] = (1000, 15)
    # A clean day before it, and a minute just outside 30 days that no window may count.
    for m in range(60, 24 * 60):
        rows[(now - m, "ingest_availability")] = (1000, 0)
    rows[(now - 10 * 24 * 60, "ingest_availability")] = (560_000, 0)  # ten days ago: 30 d only
    rows[(now - 30 * 24 * 60, "ingest_availability")] = (10**6, 10**6)
    api.repo.add_sli_counts(rows)

    avail = _get(api, make_token)["ingest_availability"]
    w = avail["windows"]
    assert (w["5m"]["total"], w["5m"]["bad"]) == (5000, 75)
    assert (w["1h"]["total"], w["1h"]["bad"]) == (60_000, 900)
    assert (w["24h"]["total"], w["24h"]["bad"]) == (1_440_000, 900)
    assert w["30d"]["total"] == 2_000_000  # the minute 30 days back is outside
    assert w["1h"]["burn_rate"] == "15.000" and w["1h"]["sli"] == "0.985000"
    assert w["6h"]["burn_rate"] == "2.500"  # 900 bad of 360,000
    # 900 bad of the 2,000 allowed in 30 days at this traffic: 45% of the budget spent.
    assert avail["budget_left"] == "0.5500"
    holds = {c["name"]: c["holds"] for c in avail["conditions"]}
    assert holds == {"page_fast": True, "page_slow": False, "ticket": False}
    assert avail["alert"] == "page"
