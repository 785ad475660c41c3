"""U+0000 in a path parameter, a query parameter, a JSON body or the Idempotency-Key: PostgreSQL refuses
it (the fuzzer found a 500 on nine routes), so every backend answers a 422 naming where it is.

docs/reliability.md ("Hostile inputs") lists each case with the test that guards it.
"""

from __future__ import annotations

import pytest

from helicarrier.data.models import Command, Silence

PARAMETERS = [
    ("GET", "/api/v1/agents/a%00b/commands", "agent_id"),
    ("POST", "/api/v1/commands/a%00b/ack", "command_id"),
    ("GET", "/api/v1/commands/a%00b", "command_id"),
    ("POST", "/api/v1/commands/a%00b/cancel", "command_id"),
    ("GET", "/api/v1/sessions/a%00b", "session_id"),
    ("POST", "/api/v1/agents/a%00b/kill", "agent_id"),
    ("POST", "/api/v1/agents/a%00b/tasks", "agent_id"),
    ("PUT", "/api/v1/agents/a%00b/owner", "agent_id"),
    ("GET", "/api/v1/reports/a%00b", "name"),
    ("GET", "/api/v1/sessions?agent=a%00b", "agent"),
    ("GET", "/api/v1/sessions?q=a%00b", "q"),
    ("GET", "/api/v1/sessions?label=k%3Da%00b", "label"),
    ("GET", "/api/v1/sessions?cursor=a%00b", "cursor"),
    ("GET", "/api/v1/alerts?state=a%00b", "state"),
    ("GET", "/api/v1/agents?x%00=1", "x\\u0000"),
]


@pytest.fixture
def token(make_token) -> str:
    return make_token("all-scopes", "ingest,read,control,admin")


@pytest.mark.parametrize(("method", "path", "field"), PARAMETERS)
def test_nul_in_a_parameter_is_a_422_naming_it(api, method, path, field):
    resp = api.client.open(path, method=method, json={"reason": "r", "task": "t"}, headers=api.headers())
    assert resp.status_code == 422, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert (err["code"], err["details"]["field"]) == ("invalid_parameter", field)
    assert "NUL" in err["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/silences", {"matchers": ['a="\x00"'], "duration_s": 60, "comment": "c"}, "matchers[0]"),
        ("/api/v1/silences", {"matchers": ['agent="a"'], "duration_s": 60, "comment": "c\x00"}, "comment"),
        ("/api/v1/alert-rules", {"name": "n\x00", "metric": "tokens", "threshold": "1"}, "name"),
        ("/api/v1/agents/a1/tasks", {"task": "t\x00"}, "task"),
    ],
)
def test_nul_in_a_json_body_is_a_422_and_stores_nothing(api, path, body, field):
    before = api.snapshot()
    resp = api.post(body, path=path)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["details"]["field"] == field
    after = api.snapshot()
    assert after == before
    assert api.count(Silence) == 0 and api.count(Command) == 0


def test_nul_in_the_idempotency_key_is_a_422(api):
    resp = api.post({"task": "t"}, path="/api/v1/agents/a1/tasks", key="k\x00")
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == "invalid_idempotency_key"
