"""What the schemathesis run (tests/fuzz) found, each pinned by a plain test on both backends: an id past
BIGINT in a path, the 405 and its Allow header as the document says, and the places the document was looser
than the server (v1 events, the normalize body, `from`/`to`, `label`).

docs/reliability.md ("Fuzzing") lists each finding with its test.
"""

from __future__ import annotations

import re
import time

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from helicarrier.api.routes import ROUTES
from tests.ingest.test_ingest_api import single

ID_PATHS = sorted({(r.method, r.path) for r in ROUTES if "<int:" in r.path})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def admin(api, make_token):
    api.all_token = make_token("fuzz-all", "ingest,read,control,admin")
    return api


def document(api) -> dict:
    return api.client.get("/api/v1/openapi.json").get_json()


def validator(doc: dict, schema: dict) -> Draft202012Validator:
    registry = Registry().with_resource(
        "urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": "urn:doc#" + schema["$ref"][1:]}, registry=registry)


@pytest.mark.parametrize(("method", "path"), ID_PATHS)
def test_an_id_past_its_column_is_a_404_not_a_500(admin, method, path):
    # SQLite's driver raised OverflowError on 2**63 and more, PostgreSQL on 2**31 for INTEGER ids (a 500).
    url = re.sub(r"<int:\w+>", str(2**64 + 5), path)
    resp = admin.client.open(url, method=method, json={}, headers=admin.headers(admin.all_token))
    assert resp.status_code == 404, (method, url, resp.get_data(as_text=True))
    assert resp.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "largest", "code"),
    [
        ("/api/v1/alerts/{}", 2**63 - 1, "unknown_alert"),
        ("/api/v1/alert-rules/{}", 2**31 - 1, "unknown_rule"),
        ("/api/v1/silences/{}", 2**31 - 1, "unknown_silence"),
        ("/api/v1/alert-receivers/{}", 2**31 - 1, "unknown_receiver"),
    ],
)
def test_ids_up_to_their_column_are_ordinary_unknowns_and_one_more_is_a_404(admin, path, largest, code):
    # Rules, silences and receivers have INTEGER ids on PostgreSQL: 2**31 overflowed it (a 500).
    headers = admin.headers(admin.all_token)
    resp = admin.client.get(path.format(largest), headers=headers)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == code
    resp = admin.client.get(path.format(largest + 1), headers=headers)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    doc = document(admin)
    param = next(
        p
        for p in doc["paths"][path.format("{" + resp.get_json()["error"]["details"]["field"] + "}")]["get"][
            "parameters"
        ]
    )
    assert param["schema"]["maximum"] == largest


def test_every_path_answers_other_methods_405_with_allow_as_documented(admin):
    doc = document(admin)
    component = doc["components"]["responses"]["MethodNotAllowed"]
    assert component["headers"]["Allow"]["required"] is True
    allow_pattern = re.compile(component["headers"]["Allow"]["schema"]["pattern"])
    for path, ops in doc["paths"].items():
        documented = sorted(m.upper() for m in ops)
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in set(METHODS) - set(documented):
            resp = admin.client.open(url, method=method, headers=admin.headers(admin.all_token))
            assert resp.status_code == 405, (method, path)
            assert resp.headers["Allow"] == ", ".join(documented), (method, path)
            assert allow_pattern.match(resp.headers["Allow"])
            assert resp.get_json()["error"]["code"] == "method_not_allowed"
            assert resp.get_json()["error"]["details"]["allowed"] == documented


def test_v1_events_are_documented_by_type(admin):
    doc = document(admin)
    body = doc["paths"]["/api/v1/ingest"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    v1_log = next(s for s in body["oneOf"] if s["$ref"].endswith("/V1_Log"))
    check = validator(doc, v1_log)
    # A log without a message was documented as valid (the v1 envelope allowed anything) and is a 422.
    without = single("log")
    assert not check.is_valid(without)
    resp = admin.post(without)
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "message"
    with_message = single("log", message="m")
    assert check.is_valid(with_message)
    assert admin.post(with_message).status_code == 200


def test_the_normalize_body_needs_a_payload_as_documented(admin):
    doc = document(admin)
    schema = doc["paths"]["/api/v1/usage/normalize"]["post"]["requestBody"]["content"]["application/json"]
    check = validator(doc, schema["schema"])
    assert not check.is_valid({"provider": "openai"})
    resp = admin.post({"provider": "openai"}, path="/api/v1/usage/normalize")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid_usage"
    assert check.is_valid({"provider": "openai", "usage": {"prompt_tokens": 1, "completion_tokens": 1}})


def _param(doc, path: str, name: str) -> dict:
    return next(p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name)


def test_from_and_to_are_documented_as_dates_or_times_with_an_offset(admin):
    doc = document(admin)
    for path in ("/api/v1/sessions", "/api/v1/usage", "/api/v1/models/matrix"):
        for name in ("from", "to"):
            pattern = re.compile(_param(doc, path, name)["schema"]["pattern"])
            assert pattern.match("2026-03-01") and pattern.match("2026-03-01T10:00:00+05:30")
            assert not pattern.match("yesterday") and not pattern.match("2026-03-01T10:00:00")


def test_label_is_documented_and_checked_as_key_value_within_the_stored_lengths(admin):
    doc = document(admin)
    schema = _param(doc, "/api/v1/sessions", "label")["schema"]["items"]
    assert re.match(schema["pattern"], "team=infra") and not re.match(schema["pattern"], "=x")
    headers = admin.headers(admin.all_token)
    assert admin.client.get("/api/v1/sessions?label=team=infra", headers=headers).status_code == 200
    for bad in ("=x", "novalue", "k" * 65 + "=v", "k=" + "v" * 257):
        resp = admin.client.get("/api/v1/sessions", query_string={"label": bad}, headers=headers)
        assert resp.status_code == 422, bad
        assert resp.get_json()["error"]["details"]["field"] == "label"


@pytest.mark.parametrize("wait", ["nan", "NaN", "inf", "-inf", "1e309", "-1", "3601", "x", "0x10"])
def test_a_poll_wait_that_is_no_finite_number_is_a_422_at_once(admin, wait):
    # wait=nan held the thread forever (min(nan, 30) is NaN: the deadline never came).
    started = time.monotonic()
    resp = admin.client.get(f"/api/v1/agents/agent-1/commands?wait={wait}", headers=admin.headers())
    assert time.monotonic() - started < 2
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["details"]["field"] == "wait"


@pytest.mark.parametrize("limit", ["1e9", "nan", "-1", "0", "501", "9" * 5000])
def test_a_page_size_past_its_bounds_is_a_422(admin, limit):
    for path in ("/api/v1/sessions", "/api/v1/alert-deliveries"):
        resp = admin.client.get(path, query_string={"limit": limit}, headers=admin.headers(admin.all_token))
        assert resp.status_code == 422, (path, limit)
        assert resp.get_json()["error"]["details"]["field"] == "limit"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/agents/{}/commands"),
        ("POST", "/api/v1/agents/{}/kill"),
        ("PUT", "/api/v1/agents/{}/owner"),
        ("GET", "/api/v1/sessions/{}"),
        ("GET", "/api/v1/commands/{}"),
        ("POST", "/api/v1/commands/{}/ack"),
    ],
)
def test_a_text_id_longer_than_any_stored_is_a_404(admin, method, path):
    # The poll claimed a 129-character agent id for the token: PostgreSQL's VARCHAR(128) refused it (a 500).
    url = path.format("a" * 129)
    body = {"reason": "r", "agent_id": "a", "state": "accepted", "token": None}
    resp = admin.client.open(url, method=method, json=body, headers=admin.headers(admin.all_token))
    assert resp.status_code == 404, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == "not_found"
    ok = (
        admin.client.get(path.format("a" * 128), headers=admin.headers(admin.all_token))
        if method == "GET"
        else None
    )
    assert ok is None or ok.status_code in (200, 404)


def test_an_ack_naming_an_agent_id_past_128_characters_is_a_422(admin):
    body = {"agent_id": "a" * 129, "state": "accepted"}
    resp = admin.post(body, path="/api/v1/commands/c1/ack")
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["details"]["field"] == "agent_id"
