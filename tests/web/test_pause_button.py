"""The Command page's Pause button through Dash's callback endpoint, as the browser posts it: a refusal is
said on the page (it was a 500: the refusal's tone was a CSS class the shared helper does not know)."""

from __future__ import annotations

import re

from helicarrier.layouts.command import ID
from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"


def _login(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf, "next": "/"})


def test_a_refused_pause_is_said_on_the_page(settings):
    app = create_app(settings)
    app.server.config["HELICARRIER"].repo.create_user("omar", PASSWORD, "operator")
    client = app.server.test_client()
    _login(client, "omar")
    payload = {
        "output": f"{ID.PAUSE_RESULT}.children",
        "outputs": {"id": ID.PAUSE_RESULT, "property": "children"},
        "inputs": [{"id": ID.PAUSE, "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ID.KILL_AGENT, "property": "value", "value": "nobody-01"},
            {"id": ID.PAUSE, "property": "children", "value": "Pause"},
        ],
        "changedPropIds": [f"{ID.PAUSE}.n_clicks"],
    }
    answer = client.post("/_dash-update-component", json=payload)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    said = answer.get_json()["response"][ID.PAUSE_RESULT]["children"]
    assert said["props"]["className"] == "text-danger" and "Refused: nobody-01" in said["props"]["children"]
