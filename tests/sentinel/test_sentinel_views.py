"""Where operators see the sentinel's findings: the agent's card (Hero Grid), the agent drawer, the Alerts
page's feed and the session's detail page; each built by its real callback from the real database after a
real cycle."""

from __future__ import annotations

import json
import re

from helicarrier.callbacks import alerts as alerts_callbacks
from helicarrier.callbacks import ledger as ledger_callbacks
from helicarrier.callbacks.watchtower import refresh_grid, with_sentinel
from helicarrier.data.types import utcnow
from helicarrier.layouts.watchtower_detail import agent_detail
from helicarrier.layouts.watchtower_ids import ID
from tests.sentinel.looping import cycle, report


def texts(component) -> str:
    """Every string in a component tree, joined."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(texts(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else texts(children)


def test_the_card_the_drawer_the_feed_and_the_session_page_show_the_finding(sen):
    session = report(sen, "looper")
    report(sen, "calm", lines=2)
    cycle(sen, 2)
    ctx = sen.ctx

    grid, *_ = refresh_grid(ctx, None, None, None, None, None, None, None)
    cards = {c.id["agent"]: texts(c) for c in grid}
    assert "Sentinel:  repeating itself (alert)" in cards["looper"]  # icon, label, text
    assert "Sentinel" not in cards["calm"]

    drawer = texts(
        agent_detail(with_sentinel(ctx, ctx.repo.agent_detail("looper")), utcnow(), 3600, can_control=True)
    )
    assert "repeated 15 times in 300 s" in drawer and "retry 14: GET /api/items/4411" in drawer
    assert "Exempt from the sentinel" in drawer

    feed, _digest = alerts_callbacks.refresh_sentinel(ctx, 0, None)
    assert "looper" in texts(feed) and "repeat · alert" in texts(feed)
    page = texts(ledger_callbacks.detail(ctx, session))
    assert "Sentinel" in page and "repeated 15 times" in page


def test_a_waiting_agent_says_what_it_waits_for_in_the_drawer(sen):
    hb = {"status": "waiting", "expected_s": 3600, "waiting_for": "a human review"}
    report(sen, "patient", heartbeat=hb, start=29, lines=1)
    drawer = texts(agent_detail(with_sentinel(sen.ctx, sen.ctx.repo.agent_detail("patient")), utcnow(), 3600))
    assert "for a human review" in drawer
    grid, *_ = refresh_grid(sen.ctx, None, None, None, None, None, None, None)
    assert "waiting" in texts(grid)


PASSWORD = "correct-horse-battery"


def signed_in(api, username: str, role: str):
    api.repo.create_user(username, PASSWORD, role)
    client = api.new_client()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    return client


def exempt_click(api, agent: str) -> dict:
    """The drawer's Exempt button clicked, as Dash's renderer posts it."""
    roles = api.app.server.config["HELICARRIER_CALLBACK_ROLES"]
    (output,) = [k for k in roles if ID.DETAIL_EXEMPT_RESULT in k]
    button = {"agent": agent, "type": ID.DETAIL_EXEMPT}
    return {
        "output": output,
        "outputs": [
            {"id": {"agent": agent, "type": ID.DETAIL_EXEMPT_RESULT}, "property": "children"},
            {"id": button, "property": "children"},
        ],
        "inputs": [{"id": button, "property": "n_clicks", "value": 1}],
        "state": [],
        "changedPropIds": [json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    }


def test_operators_exempt_an_agent_from_the_drawer_and_viewers_cannot(sen):
    report(sen, "special")
    viewer, operator = signed_in(sen, "vera", "viewer"), signed_in(sen, "omar", "operator")
    assert viewer.post("/_dash-update-component", json=exempt_click(sen, "special")).status_code == 403
    assert sen.repo.exemption("special") is None

    on = operator.post("/_dash-update-component", json=exempt_click(sen, "special"))
    assert on.status_code == 200 and "Lift the sentinel exemption" in on.get_data(as_text=True)
    assert sen.repo.exemption("special")["created_by"] == "omar"
    off = operator.post("/_dash-update-component", json=exempt_click(sen, "special"))
    assert off.status_code == 200 and sen.repo.exemption("special") is None
    assert list(sen.repo.audit_entries(actor="omar")["action"])[:2] == [
        "sentinel.unexempt",
        "sentinel.exempt",
    ]
