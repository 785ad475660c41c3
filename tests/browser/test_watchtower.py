"""Watchtower in a real browser: events posted over real HTTP to the running server show up live."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helicarrier.layouts.watchtower import ID

pytestmark = pytest.mark.browser


def post(hud, events, token):
    body = json.dumps({"version": "v2", "source": {"name": "browser-test"}, "events": events}).encode()
    req = urllib.request.Request(
        f"{hud.url}/api/v1/ingest",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200, resp.read()


def event(eid, etype, agent, data, ts=None, session=None):
    ts = ts or datetime.now(UTC)
    return {
        "id": eid,
        "type": etype,
        "ts": ts.isoformat(),
        "agent_id": agent,
        "session_id": session,
        "data": data,
    }


@pytest.fixture
def token(hud):
    value, _ = hud.ctx.repo.create_token("browser", "ingest")
    return value


def card_status(hud, agent):
    # Read inside the page: the grid re-renders cards under our feet, so a held element can go stale.
    script = "var el = document.querySelector(arguments[0]); return el ? el.textContent.trim() : null;"
    return hud.duo.driver.execute_script(script, f'[data-agent="{agent}"] .status-badge')


def test_heartbeat_shows_on_the_grid_and_opens_detail(hud, token):
    hud.login("vera")
    post(
        hud,
        [
            event(
                "h1",
                "agent.heartbeat",
                "atlas-01",
                {
                    "status": "running",
                    "current_task": "Refactor <billing>",
                    "model": "gpt-4.1",
                    "labels": {"team": "core"},
                },
            )
        ],
        token,
    )
    hud.duo.wait_for_element('[data-agent="atlas-01"]', timeout=10)
    hud.duo.wait_for_contains_text('[data-agent="atlas-01"] .agent-task', "Refactor <billing>", timeout=10)
    assert card_status(hud, "atlas-01") == "running"
    hud.duo.find_element('[data-agent="atlas-01"]').click()
    hud.duo.wait_for_contains_text(f"#{ID.DETAIL}", "Refactor <billing>", timeout=10)
    assert hud.duo.get_logs() == []


def test_a_focused_card_keeps_its_focus_across_refreshes_and_enter_opens_its_drawer(hud, token):
    hud.login("vera")
    for n in range(3):
        post(hud, [event(f"k{n}", "agent.heartbeat", f"key-{n}", {"status": "running"})], token)
    hud.duo.wait_for_element('[data-agent="key-1"]', timeout=10)
    card = hud.duo.find_element('[data-agent="key-1"]')
    hud.duo.driver.execute_script("arguments[0].focus();", card)
    # Refreshes that change this card (a new heartbeat and task) must not take its focus away.
    post(
        hud,
        [event("k1b", "agent.heartbeat", "key-1", {"status": "running", "current_task": "step 2"})],
        token,
    )
    hud.duo.wait_for_contains_text('[data-agent="key-1"] .agent-task', "step 2", timeout=10)
    focused = "return document.activeElement && document.activeElement.getAttribute('data-agent');"
    assert hud.duo.driver.execute_script(focused) == "key-1"
    hud.duo.driver.switch_to.active_element.send_keys(Keys.ENTER)
    hud.duo.wait_for_contains_text(f"#{ID.DETAIL}", "step 2", timeout=10)
    assert hud.duo.get_logs() == []


def test_agent_goes_offline_when_heartbeats_stop(hud, token):
    hud.ctx.settings = replace(hud.ctx.settings, offline_after_s=3)
    hud.login("vera")
    post(hud, [event("h1", "agent.heartbeat", "vega-03", {"status": "idle"})], token)
    hud.duo.wait_for_element('[data-agent="vega-03"]', timeout=10)
    assert card_status(hud, "vega-03") == "idle"
    # Nobody posts anything: the server turns it offline on its own once the threshold passes.
    deadline = time.time() + 15
    while time.time() < deadline and card_status(hud, "vega-03") != "offline":
        time.sleep(0.5)
    assert card_status(hud, "vega-03") == "offline"


def test_status_filter_and_search(hud, token):
    hud.login("vera")
    post(
        hud,
        [
            event("a", "agent.heartbeat", "atlas-01", {"status": "running"}),
            event("b", "agent.heartbeat", "hermes-07", {"status": "stalled"}),
        ],
        token,
    )
    hud.duo.wait_for_element('[data-agent="hermes-07"]', timeout=10)
    # The status filter: stalled agents only.
    hud.duo.select_dcc_dropdown(f"#{ID.STATUS_FILTER}", "stalled")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 of 2 agents", timeout=10)
    assert not hud.duo.driver.find_elements(By.CSS_SELECTOR, '[data-agent="atlas-01"]')
    hud.visit("/")  # a fresh page: no filter
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "2 agents", timeout=10)
    # The search: by name or id.
    hud.duo.find_element(f"#{ID.SEARCH}").send_keys("herm\n")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 of 2 agents", timeout=10)
    assert not hud.duo.driver.find_elements(By.CSS_SELECTOR, '[data-agent="atlas-01"]')


def test_log_line_appears_in_the_pulse_and_pause_stops_the_tail(hud, token):
    hud.login("vera")
    hud.duo.wait_for_element(f"#{ID.LOG}", timeout=10)
    post(hud, [event("l1", "log", "atlas-01", {"level": "warning", "message": "<b>first</b> line"})], token)
    hud.duo.wait_for_contains_text(f"#{ID.LOG}", "<b>first</b> line", timeout=10)  # shown as text, escaped
    hud.duo.find_element(f"#{ID.LOG_PAUSE}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.LOG_STATE}", "paused", timeout=5)
    post(hud, [event("l2", "log", "atlas-01", {"level": "info", "message": "second line"})], token)
    # A poll has seen the new line (it says one is waiting), and the tail did not move.
    hud.duo.wait_for_text_to_equal(f"#{ID.LOG_WAITING}", "1 new", timeout=10)
    assert "second line" not in hud.duo.find_element(f"#{ID.LOG}").text
    hud.duo.find_element(f"#{ID.LOG_PAUSE}").click()
    hud.duo.wait_for_contains_text(f"#{ID.LOG}", "second line", timeout=10)
    rows = hud.duo.driver.find_elements(By.CSS_SELECTOR, f"#{ID.LOG} .pulse-row")
    assert "second line" in rows[0].text  # newest on top
    assert hud.duo.get_logs() == []


def test_the_drawer_opens_at_once_and_fills_in_when_the_server_answers(hud, token, monkeypatch):
    hud.login("vera")
    post(
        hud,
        [event("s1", "agent.heartbeat", "slow-01", {"status": "running", "current_task": "Index docs"})],
        token,
    )
    hud.duo.wait_for_element('[data-agent="slow-01"]', timeout=10)
    answer = threading.Event()  # the server's detail waits for this: a loaded server
    real = hud.ctx.repo.agent_detail

    def held(agent_id, *args, **kwargs):
        answer.wait(30)
        return real(agent_id, *args, **kwargs)

    monkeypatch.setattr(hud.ctx.repo, "agent_detail", held)
    hud.duo.find_element('[data-agent="slow-01"]').click()
    hud.duo.wait_for_contains_text(f"#{ID.DETAIL}", "loading the agent", timeout=5)  # before any answer
    assert "slow-01" in hud.duo.find_element(f"#{ID.DETAIL} .offcanvas-title").text
    answer.set()
    hud.duo.wait_for_contains_text(f"#{ID.DETAIL}", "Index docs", timeout=15)
    assert "loading the agent" not in hud.duo.find_element(f"#{ID.DETAIL}").text
    assert hud.duo.get_logs() == []
