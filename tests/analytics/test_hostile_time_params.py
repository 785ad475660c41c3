"""Hostile time parameters found in use (issue 12): each is a 422 ``invalid_parameter`` naming the parameter
and saying what is allowed, on every route that takes ``tz``/``from``/``to`` — never a 500, never a 20 MB
answer — and the Intelligence page's month-to-date panel falls back to UTC with a notice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helicarrier.api.routes import ROUTES
from helicarrier.callbacks import intelligence as intel_cb
from helicarrier.layouts.intelligence import ID as INTELLIGENCE

TIME_ROUTES = ("/api/v1/sessions", "/api/v1/usage", "/api/v1/models/matrix")
HOSTILE = [
    ("tz=Europe", "tz", "IANA"),  # a directory of the zone database
    ("tz=localtime", "tz", "IANA"),  # the server's own zone, listed by some zone databases
    ("tz=Factory", "tz", "IANA"),
    ("tz=" + "A" * 300, "tz", "at most 64 characters"),
    ("tz=zone.tab", "tz", "IANA"),  # a file of the zone database that is not a zone
    ("tz=../../etc/passwd", "tz", "IANA"),
    ("from=0001-01-01T00:00:00%2B14:00", "from", "years 2000 to 2099"),
    ("to=9999-12-31", "to", "years 2000 to 2099"),
    ("from=1900-01-01&to=2100-01-01", "from", "years 2000 to 2099"),
    ("to=2026-03-01T10:00:00", "to", "offset"),
    ("from=" + "2026-03-01" * 30, "from", "years 2000 to 2099"),
]


def test_every_route_taking_time_parameters_is_covered():
    """A new route with tz/from/to must be added to TIME_ROUTES (and so to these tests)."""
    taking = {r.path for r in ROUTES if {p.name for p in r.params} & {"tz", "from", "to"}}
    assert taking == set(TIME_ROUTES)


@pytest.mark.parametrize("path", TIME_ROUTES)
@pytest.mark.parametrize(("query", "field", "says"), HOSTILE, ids=[h[0][:24] for h in HOSTILE])
def test_hostile_time_parameters_are_422_naming_the_parameter(client, read_headers, path, query, field, says):
    r = client.get(f"{path}?{query}", headers=read_headers)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    err = r.get_json()["error"]
    assert err["code"] == "invalid_parameter" and err["details"]["field"] == field
    assert says in err["message"] and len(r.get_data()) < 1000


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("from=2000-01-01&to=2099-12-31", "from", "at most 400 days"),  # was a 20 MB answer in 3.5 s
        ("from=2025-01-01&to=2026-02-05", "from", "at most 400 days"),  # 401 days
        ("from=2000-01-01", "from", "at most 400 days"),  # to: today
        ("from=2026-01-01&to=2026-02-01&granularity=hour", "granularity", "at most 31 days"),
    ],
)
def test_a_series_range_is_bounded(client, read_headers, query, field, says):
    r = client.get(f"/api/v1/usage?{query}", headers=read_headers)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    err = r.get_json()["error"]
    assert err["details"]["field"] == field and says in err["message"]


@pytest.mark.parametrize(
    "query",
    [
        "from=2025-01-01&to=2026-02-04&tz=Asia/Kathmandu",  # 400 days
        "from=2026-01-01&to=2026-01-31&granularity=hour&tz=America/St_Johns",
        "from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00%2B14:00",
        "from=2099-12-01&to=2099-12-31&tz=Pacific/Kiritimati",
    ],
)
def test_the_edges_of_the_bounds_are_answered(client, read_headers, query):
    r = client.get(f"/api/v1/usage?{query}", headers=read_headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


def test_openapi_states_the_bounds(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in TIME_ROUTES:
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert params["tz"]["schema"]["maxLength"] == 64
        for name in ("from", "to"):
            schema = params[name]["schema"]
            assert schema["maxLength"] == 40
            assert {"format": "date-time"} in schema["anyOf"] and {"format": "date"} in schema["anyOf"]
            assert "2000 to 2099" in params[name]["description"]
    granularity = {p["name"]: p for p in doc["paths"]["/api/v1/usage"]["get"]["parameters"]}["granularity"]
    assert "400 days" in granularity["description"] and "31 days" in granularity["description"]


def _texts(node) -> list[str]:
    out = []
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if isinstance(child, str):
            out.append(child)
        elif child is not None:
            out.extend(_texts(child))
    return out


@pytest.mark.parametrize("tz", ["Europe", "A" * 300, "zone.tab", None])
def test_month_to_date_panel_falls_back_to_utc_with_a_notice(ctx, tz):
    now = datetime(2026, 3, 8, 12, tzinfo=UTC)
    panel = intel_cb.month_to_date_panel(ctx, tz, now=now)
    texts = " ".join(_texts(panel))
    notice = getattr(panel.children[0], "id", None) == INTELLIGENCE.MTD_NOTICE if tz else False
    assert notice == (tz is not None)
    if tz:
        assert "unknown time zone" in texts and "showing UTC" in texts


def test_page_controls_with_a_bad_zone_or_date_fall_back():
    q = intel_cb.make_query("0001-01-01", "9999-12-31", "Europe", "model", "day")
    assert q.tz == "UTC" and "showing UTC" in q.notice
    assert q.start.year >= 2000 and q.end.year <= 2100
    assert intel_cb.make_query("2026-03-01", "2026-03-02", "Asia/Kathmandu").notice is None


def test_ledger_dates_out_of_range_filter_nothing_instead_of_overflowing():
    from helicarrier.layouts.ledger_filters import day_bounds

    assert day_bounds("0001-01-01", "9999-12-31") == (None, None)
    lo, hi = day_bounds("2026-03-01", "2026-03-01", "Asia/Kathmandu")
    assert (hi - lo).total_seconds() == 86400
