"""Numbers and times no silence, rule or receiver can hold, through the real API on both backends: each is a
422 naming the field (or a 400 when it is not JSON), never a 500, and nothing is stored.

docs/reliability.md ("Hostile inputs") lists each case with the test that guards it.
"""

from __future__ import annotations

import pytest

from helicarrier.data.models import AlertReceiver, AlertRule, Silence
from tests.alerts.test_alerts_api import OFFLINE_RULE, c  # noqa: F401 - the fixture

SILENCE = {"matchers": ['agent="builder-7"'], "comment": "maintenance"}
RECEIVER = {"name": "hook", "url": "https://hooks.example.com/x"}

ABSURD_NUMBERS = [
    1e300,
    -1e300,
    "1e300",
    "NaN",
    "Infinity",
    "-Infinity",
    -5,
    0,
    1.5,
    True,
    "1" * 5000,
    [],
    {},
]
ABSURD_DECIMALS = ["1E+999999999", "1e-999999999", "NaN", "Infinity", "1" * 5000, 1e300, True, [1]]


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 20 else text[:12] + f"...({len(text)})"


def count(client, model) -> int:
    from sqlalchemy import func, select

    with client.repo.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def assert_field_error(resp, field: str) -> None:
    assert resp.status_code == 422, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert err["code"] == "schema_violation"
    assert err["message"].startswith(field), err
    assert err["details"]["field"] == field


@pytest.mark.parametrize("value", ABSURD_NUMBERS, ids=short)
def test_silence_duration_past_any_calendar_is_a_422_naming_it(c, value):  # noqa: F811
    resp = c.call("post", "/silences", {**SILENCE, "duration_s": value}, token="control")
    assert_field_error(resp, "duration_s")
    assert count(c, Silence) == 0


@pytest.mark.parametrize("value", ABSURD_NUMBERS, ids=short)
def test_changing_a_silence_to_an_absurd_duration_is_a_422(c, value):  # noqa: F811
    made = c.call("post", "/silences", {**SILENCE, "duration_s": 3600}, token="control")
    assert made.status_code == 201, made.get_data(as_text=True)
    silence = made.get_json()["silence"]
    resp = c.call("patch", f"/silences/{silence['id']}", {"duration_s": value}, token="control")
    assert_field_error(resp, "duration_s")
    again = c.call("get", f"/silences/{silence['id']}", token="control").get_json()["silence"]
    assert again["ends_at"] == silence["ends_at"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starts_at", "0001-01-01T00:00:00+14:00"),
        ("ends_at", "9999-12-31T23:59:59-12:00"),
        ("ends_at", "9999-12-31T23:59:59+00:00"),
        ("starts_at", "9999-12-31T00:00:00Z"),
        ("ends_at", "2026-13-01T00:00:00Z"),
        ("ends_at", 1e300),
    ],
)
def test_silence_times_at_the_ends_of_the_calendar_are_a_422(c, field, value):  # noqa: F811
    body = {**SILENCE, field: value}
    if field == "starts_at":
        body["ends_at"] = "2027-01-01T00:00:00Z"
    resp = c.call("post", "/silences", body, token="control")
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["details"]["field"] in ("starts_at", "ends_at")
    assert count(c, Silence) == 0


def test_a_bare_nan_is_not_json_and_is_a_400(c):  # noqa: F811
    headers = {"Authorization": f"Bearer {c.tokens['control']}", "Content-Type": "application/json"}
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        body = '{"matchers": ["agent=\\"a\\""], "comment": "x", "duration_s": %s}' % literal  # noqa: UP031
        resp = c.client.post("/api/v1/silences", data=body, headers=headers)
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert resp.get_json()["error"]["code"] == "malformed_json"
    assert count(c, Silence) == 0


@pytest.mark.parametrize("field", ["window_s", "for_s", "reopen_s", "params.offline_after_s"])
@pytest.mark.parametrize("value", [1e300, "Infinity", "NaN", -1e300, 1.5, "1" * 5000], ids=short)
def test_rule_seconds_past_their_bounds_are_a_422(c, field, value):  # noqa: F811
    body = {**OFFLINE_RULE}
    if field.startswith("params."):
        body["params"] = {field.split(".", 1)[1]: value}
    else:
        body[field] = value
    assert_field_error(c.call("post", "/alert-rules", body), field)
    assert_field_error(c.call("post", "/alert-rules/preview", body), field)
    assert count(c, AlertRule) == 0


@pytest.mark.parametrize("value", ABSURD_DECIMALS, ids=short)
def test_rule_threshold_past_a_sane_decimal_is_a_422(c, value):  # noqa: F811
    assert_field_error(c.call("post", "/alert-rules", {**OFFLINE_RULE, "threshold": value}), "threshold")
    budget = {**OFFLINE_RULE, "metric": "budget_share", "group_by": "fleet", "params": {"budget_usd": value}}
    assert_field_error(c.call("post", "/alert-rules", budget), "params.budget_usd")
    assert count(c, AlertRule) == 0


@pytest.mark.parametrize("field", ["group_wait_s", "group_interval_s", "repeat_interval_s"])
@pytest.mark.parametrize("value", [1e300, "Infinity", "NaN", -1, 1.5, True, "1" * 5000], ids=short)
def test_receiver_intervals_past_their_bounds_are_a_422(c, field, value):  # noqa: F811
    assert_field_error(c.call("post", "/alert-receivers", {**RECEIVER, field: value}), field)
    assert count(c, AlertReceiver) == 0
