"""Links and URL state in a real browser: the Ledger's and Intelligence's controls live in the address bar,
so a shared link opens the same view, a reload keeps it and "← Ledger" or Back return to it; the KPI tiles
and a session's agent lead to the filtered Ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from helicarrier.layouts.intelligence_ids import ID as INTEL
from helicarrier.layouts.ledger import ID
from helicarrier.layouts.shell import ID as SHELL
from tests.browser import test_ledger
from tests.browser.conftest import wait_until
from tests.browser.test_ledger import click_row, post, session_events, wait_for_rows

pytestmark = pytest.mark.browser
sessions = test_ledger.sessions  # the Ledger tests' three sessions, as a fixture here too


def query(hud) -> dict[str, list[str]]:
    return parse_qs(urlsplit(hud.duo.driver.current_url).query)


def test_the_ledger_filters_live_in_the_url_through_reload_back_and_the_back_link(hud, sessions):
    hud.login("vera")
    hud.visit("/ledger?status=failed")  # a shared link
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=15)
    assert "failed" in hud.duo.find_element(f"#{ID.FILTER_STATUS}").text
    wait_for_rows(hud, lambda t: len(t) == 1 and "hermes-07" in t[0])

    hud.duo.find_element(f"#{ID.SEARCH}").send_keys("summarize")
    wait_until(lambda: query(hud) == {"status": ["failed"], "q": ["summarize"]}, 10, "the search in the URL")

    hud.duo.driver.refresh()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=15)
    assert hud.duo.find_element(f"#{ID.SEARCH}").get_attribute("value") == "summarize"

    click_row(hud, "hermes-07")
    wait_until(lambda: urlsplit(hud.duo.driver.current_url).path == "/ledger/s-summary", 10, "the session")
    assert query(hud) == {}  # the session's own URL is clean
    hud.duo.wait_for_element(f"#{ID.DETAIL_BACK}", timeout=10)
    wait_until(lambda: "status=failed" in hud.duo.find_element(f"#{ID.DETAIL_BACK}").get_attribute("href"))
    hud.duo.find_element(f"#{ID.DETAIL_BACK}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=15)
    assert query(hud) == {"status": ["failed"], "q": ["summarize"]}

    click_row(hud, "hermes-07")
    wait_until(lambda: urlsplit(hud.duo.driver.current_url).path == "/ledger/s-summary", 10, "the session")
    hud.duo.driver.back()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=15)
    assert hud.duo.find_element(f"#{ID.SEARCH}").get_attribute("value") == "summarize"
    assert hud.duo.get_logs() == []


def test_a_preset_range_narrows_the_ledger_and_the_session_links_its_agent(hud, sessions):
    token, _ = hud.ctx.repo.create_token("browser-orion", "ingest")  # an agent is bound to its first token
    old = session_events("s-old", "orion-09", "gpt-4.1", "This morning's job", "succeeded", 10, 5, None, 180)
    new = session_events("s-new", "orion-09", "gpt-4.1", "A job just now", "succeeded", 10, 5, None, 5)
    post(hud, old + new, token)
    hud.login("vera")
    hud.visit("/ledger")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "5 sessions", timeout=15)

    preset = f"label[for='_dbcprivate_radioitems_{ID.PRESET}_input_1h']"
    hud.duo.driver.find_element(By.CSS_SELECTOR, preset).click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "4 sessions", timeout=15)
    wait_until(lambda: query(hud) == {"range": ["1h"]}, 10, "the preset in the URL")

    click_row(hud, "A job just now", column="task")
    link = hud.duo.wait_for_element(f"#{ID.DETAIL_AGENT} a", timeout=10)
    assert link.text == "orion-09"
    link.click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "2 sessions", timeout=15)  # both of orion-09's, any time
    assert query(hud) == {"agent": ["orion-09"]}


def test_the_kpi_tile_opens_the_running_sessions(hud, sessions):
    token, _ = hud.ctx.repo.create_token("browser-run", "ingest")
    running = session_events("s-run", "rigel-11", "gpt-4.1", "Still going", "succeeded", 10, 5)[:1]
    post(hud, running, token)
    hud.login("vera")
    hud.visit("/ledger?status=failed")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=15)
    hud.duo.wait_for_text_to_equal(f"#{SHELL.KPI['sessions_running']}", "1", timeout=15)
    hud.duo.find_element(f"#{SHELL.KPI['sessions_running']}").click()
    wait_until(lambda: query(hud) == {"status": ["running"]}, 10, "the tile's link")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=15)
    wait_for_rows(hud, lambda t: len(t) == 1 and "Still going" in t[0])


def test_the_intelligence_controls_live_in_the_url_and_presets_set_the_range(hud):
    hud.login("vera")
    hud.visit("/intelligence?from=2026-11-01&to=2026-11-30&tz=Asia/Kolkata&group=agent")
    start = hud.duo.wait_for_element(f"#{INTEL.DATES}", timeout=15)
    assert start.get_attribute("value") == "2026-11-01"
    assert "Asia/Kolkata" in hud.duo.find_element(f"#{INTEL.TZ}").text
    checked = hud.duo.driver.find_element(By.CSS_SELECTOR, f"#{INTEL.GROUP} input:checked")
    assert checked.get_attribute("value") == "agent"

    hud.duo.find_element(f"#{INTEL.PRESET['7d']}").click()
    today = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    expected = {"from": [(today - timedelta(days=6)).isoformat()], "to": [today.isoformat()]}
    expected |= {"tz": ["Asia/Kolkata"], "group": ["agent"]}
    wait_until(lambda: query(hud) == expected, 10, "the preset's range in the URL")
    hud.duo.driver.refresh()
    start = hud.duo.wait_for_element(f"#{INTEL.DATES}", timeout=15)
    wait_until(lambda: start.get_attribute("value") == expected["from"][0], 10, "the range after a reload")
    assert datetime.now(UTC)  # the page's own checks are above; no console errors either
    assert hud.duo.get_logs() == []
