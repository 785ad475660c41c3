"""Hostile ingest bodies through the real app, on SQLite and PostgreSQL: each is refused for its own event
(or request) with the field and the limit named, never a 500, and the valid events beside it are stored.

docs/reliability.md ("Hostile inputs") lists each case with the test that guards it.
"""

from __future__ import annotations

import json

import pytest

from helicarrier.data.models import IngestEventId, LogEvent, UsageEvent
from helicarrier.jsonio import MAX_JSON_DEPTH
from tests.ingest.test_ingest_api import assert_error, batch, chat_usage, event, single


def nested(depth: int) -> dict:
    """An object ``depth`` levels deep: {"k": {"k": ... {"k": 1}}}."""
    value: object = 1
    for _ in range(depth):
        value = {"k": value}
    return value  # type: ignore[return-value]


def deep_text(depth: int) -> str:
    """The same as :func:`nested`, as JSON text: orjson refuses to dump more than 254 levels."""
    return '{"k":' * depth + "1" + "}" * depth


def post_text(api, text: str):
    return api.post(data=text.encode())


def stored_log_ids(api) -> list[str]:
    return [row.event_id for row in api.rows(LogEvent)]


# -- deep nesting ---------------------------------------------------------------------------------------


def test_deeply_nested_event_is_rejected_by_index_and_the_others_are_stored(api):
    good = [event("log", f"ok-{i}", {"message": f"fine {i}"}, ts=i) for i in range(3)]
    deep = json.dumps(event("log", "deep", {"message": "x", "attrs": "DEEP"})).replace(
        '"DEEP"', deep_text(300)
    )
    events = [json.dumps(good[0]), deep, json.dumps(good[1]), json.dumps(good[2])]
    text = '{"version": "v2", "source": {"name": "host-1"}, "events": [' + ", ".join(events) + "]}"
    resp = post_text(api, text)
    assert resp.status_code == 207, resp.get_data(as_text=True)
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted", "accepted"]
    err = results[1]["error"]
    assert err["code"] == "schema_violation"
    assert err["field"].startswith("events[1].data.attrs")
    assert f"{MAX_JSON_DEPTH} levels" in err["message"]
    assert stored_log_ids(api) == ["ok-0", "ok-1", "ok-2"]


@pytest.mark.parametrize("kind", [["log"], {"log": 1}, 7, None])
def test_a_type_that_is_not_text_is_rejected_by_index_not_a_500(api, kind):
    odd = {**event("log", "odd", {"message": "x"}), "type": kind}
    resp = api.post(batch(event("log", "ok", {"message": "fine"}), odd))
    assert resp.status_code == 207, resp.get_data(as_text=True)
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    err = results[1]["error"]
    assert (err["code"], err["field"]) == ("schema_violation", "events[1].type")
    assert stored_log_ids(api) == ["ok"]


def test_nesting_at_the_limit_is_stored_one_deeper_is_refused(api):
    # The event object is level 1 and data level 2: attrs, n objects deep, reaches level 2 + n.
    at_limit = event("log", "at", {"message": "m", "attrs": nested(MAX_JSON_DEPTH - 2)})
    over = event("log", "over", {"message": "m", "attrs": nested(MAX_JSON_DEPTH - 1)}, ts=1)
    resp = api.post(batch(at_limit, over))
    assert resp.status_code == 207, resp.get_data(as_text=True)
    assert [r["status"] for r in resp.get_json()["results"]] == ["accepted", "rejected"]
    assert stored_log_ids(api) == ["at"]


def test_deep_v1_event_is_a_422_naming_the_limit_and_stores_nothing(api):
    head = json.dumps(single("log", message="m"))[:-1]
    resp = post_text(api, head + ', "attrs": ' + deep_text(300) + "}")
    err = assert_error(resp, 422, "schema_violation")
    assert err["details"]["field"].startswith("attrs.k.k")
    assert f"{MAX_JSON_DEPTH} levels" in err["message"]
    assert api.count(LogEvent) == 0 and api.count(IngestEventId) == 0


def test_deep_usage_payload_is_rejected_by_index(api):
    response = {"model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "x": nested(40)}
    resp = api.post(
        batch(
            event("usage", "deep", {"provider": "openai", "response": response}),
            event("log", "ok", {"message": "m"}),
        )
    )
    assert resp.status_code == 207
    assert [r["status"] for r in resp.get_json()["results"]] == ["rejected", "accepted"]
    assert api.count(UsageEvent) == 0


def test_deep_json_anywhere_else_is_a_422_not_a_500(api):
    # Below the parser's own limit (1024) and above what the encoder takes (254): the body of the
    # normalize route, and the top of a v2 envelope (source is kept as sent).
    text = '{"provider": "openai", "usage": ' + deep_text(300) + "}"
    resp = api.post(data=text.encode(), path="/api/v1/usage/normalize")
    assert_error(resp, 422, "schema_violation")
    text = json.dumps(batch(event("log", "e", {"message": "m"}), source="h"))
    text = text.replace('"provenance": "pytest"', '"extra": ' + deep_text(300))
    err = assert_error(post_text(api, text), 422, "schema_violation")
    assert err["details"]["field"].startswith("source.extra.k.k")
    assert api.count(LogEvent) == 0


def test_nesting_past_the_parser_is_a_400(api):
    assert_error(post_text(api, deep_text(5000)), 400, "malformed_json")


def test_a_number_past_a_double_is_a_400(api):
    # orjson refuses an integer or exponent that no double holds: the body is not JSON it can read.
    text = json.dumps(batch(event("usage", "u", {**chat_usage(), "cost": "N"})))
    assert api.post(data=text.replace('"N"', "1e2")).status_code == 200  # the same body, readable
    for number in ("1" + "0" * 400, "1e400", "-1e400"):
        assert_error(api.post(data=text.replace('"N"', number)), 400, "malformed_json")
    assert api.count(UsageEvent) == 1


# -- NUL characters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (event("log", "x", {"message": "a\x00b"}), "events[1].data.message"),
        (event("log", "x", {"message": "m", "attrs": {"k\x00": "v"}}), "events[1].data.attrs.k\\u0000"),
        (event("log", "x", {"message": "m", "attrs": {"a": [["", "\x00"]]}}), "events[1].data.attrs.a[0][1]"),
        ({**event("log", "x", {"message": "m"}), "agent_id": "a\x00"}, "events[1].agent_id"),
        ({**event("log", "x", {"message": "m"}), "session_id": "\x00"}, "events[1].session_id"),
        (event("usage", "x", chat_usage(model="gpt\x00")), "events[1].data.response.model"),
    ],
    ids=["message", "key", "nested list", "agent_id", "session_id", "usage model"],
)
def test_nul_anywhere_in_an_event_is_rejected_by_index(api, bad, field):
    resp = api.post(
        batch(event("log", "ok-0", {"message": "m"}), bad, event("log", "ok-2", {"message": "m"}))
    )
    assert resp.status_code == 207, resp.get_data(as_text=True)
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert (results[1]["error"]["code"], results[1]["error"]["field"]) == ("schema_violation", field)
    assert "NUL" in results[1]["error"]["message"]
    assert stored_log_ids(api) == ["ok-0", "ok-2"]


def test_nul_in_the_envelope_is_a_422_and_stores_nothing(api):
    body = batch(event("log", "ok", {"message": "m"}), source="host\x00")
    assert_error(api.post(body), 422, "schema_violation", "source.name")
    assert api.count(LogEvent) == 0


# -- reported cost past what a Decimal computes -----------------------------------------------------------


@pytest.mark.parametrize(
    "cost",
    [
        "1E+999999999",
        "1e999999999999999999",
        "-1E+999999999",
        "NaN",
        "sNaN",
        "-NaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1" * 5000,
        "1E-999999999",
        "0E+999999999",
        "1e400",
        "-0.5",
        "",
        "0x10",
        1e308,
        1e25,
    ],
)
def test_absurd_cost_is_invalid_usage_for_its_event_alone(api, cost):
    bad = event("usage", "bad", {**chat_usage(), "cost": cost})
    good = event("usage", "good", {**chat_usage(), "cost": "0.25"}, ts=1)
    resp = api.post(batch(bad, good, event("log", "log", {"message": "m"}, ts=2)))
    assert resp.status_code == 207, resp.get_data(as_text=True)
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted", "accepted"]
    assert (results[0]["error"]["code"], results[0]["error"]["field"]) == (
        "invalid_usage",
        "events[0].data.cost",
    )
    assert [row.event_id for row in api.rows(UsageEvent)] == ["good"]
    assert api.one(UsageEvent).reported_cost_nanos == 250_000_000


def test_absurd_cost_on_the_normalize_route_is_a_422(api):
    resp = api.post(
        {"provider": "openai", **chat_usage(), "cost": "1E+999999999"}, path="/api/v1/usage/normalize"
    )
    assert_error(resp, 422, "invalid_usage", "cost")


def test_nesting_past_the_parser_limit_with_a_nul_inside_is_refused_for_its_event_not_a_500(api):
    # The NUL scan recurses: the depth check must come first, or 1,000 levels end in a RecursionError.
    good = json.dumps(event("log", "ok", {"message": "fine"}))
    deep = json.dumps(event("log", "deep", {"message": "x", "attrs": "DEEP"})).replace(
        '"DEEP"', "[" * 1000 + '"\\u0000"' + "]" * 1000
    )
    text = '{"version": "v2", "source": {"name": "host-1"}, "events": [' + good + ", " + deep + "]}"
    resp = post_text(api, text)
    assert resp.status_code == 207, resp.get_data(as_text=True)
    assert [r["status"] for r in resp.get_json()["results"]] == ["accepted", "rejected"]
    assert f"{MAX_JSON_DEPTH} levels" in resp.get_json()["results"][1]["error"]["message"]


def test_a_token_count_of_thousands_of_digits_is_invalid_usage_not_a_500(api):
    data = {"provider": "openai", "model": "gpt-4o", "usage": {"prompt_tokens": "9" * 5000}}
    resp = api.post(batch(event("usage", "huge", data), event("log", "ok", {"message": "fine"})))
    assert resp.status_code == 207, resp.get_data(as_text=True)
    err = resp.get_json()["results"][0]["error"]
    assert err["code"] == "invalid_usage" and "digits" in err["message"]
    assert stored_log_ids(api) == ["ok"]
