"""Bodies no Dash client sends, posted to the callback endpoint by a signed-in user: each is a 4xx JSON
error, never a 500 (the role gate and Dash's dispatcher both read the body).

docs/reliability.md ("Hostile inputs") lists each case with the test that guards it.
"""

from __future__ import annotations

import pytest

from tests.web.test_auth import app, login  # noqa: F401 - the fixture

BODIES = {
    "array": b"[1, 2, 3]",
    "string": b'"output"',
    "number": b"1e300",
    "null": b"null",
    "not json": b"{output",
    "empty": b"",
    "empty object": b"{}",
    "output not text": b'{"output": 5, "inputs": []}',
    "output unknown": b'{"output": "nowhere.children", "outputs": {"id": "nowhere", "property": "children"}, '
    b'"inputs": [], "changedPropIds": []}',
    "inputs not a list": b'{"output": "nowhere.children", "inputs": 7}',
    "deep": b'{"output": ' + b'{"k": ' * 300 + b"1" + b"}" * 300 + b"}",
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_body_no_dash_client_sends_is_a_4xx_json_error(app, name):  # noqa: F811
    client = app.server.test_client()
    login(client, "vera")
    resp = client.post("/_dash-update-component", data=BODIES[name], content_type="application/json")
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/json"
    assert resp.get_json()["error"]["code"]
