"""The HUD shell in a real headless Chromium: sign-in, the shell, no console errors."""

from __future__ import annotations

import threading

import pytest

from helicarrier.layouts.shell import ID as SHELL
from helicarrier.layouts.watchtower import ID as WATCHTOWER
from tests.browser.conftest import LOGIN_ERROR, LOGIN_PASSWORD, LOGIN_SUBMIT, LOGIN_USERNAME, wait_until

pytestmark = pytest.mark.browser


def test_shell_loads_after_sign_in(hud):
    hud.duo.wait_for_element(LOGIN_USERNAME, timeout=10)  # every page starts at the sign-in form
    hud.login("vera")
    assert hud.duo.find_element(f"#{SHELL.ROLE}").get_attribute("textContent") == "viewer"
    hud.duo.wait_for_text_to_equal(f"#{WATCHTOWER.SUMMARY}", "No agents have reported yet.", timeout=10)
    # The KPI strip filled from the database: zero agents online.
    hud.duo.wait_for_text_to_equal(f"#{SHELL.KPI['agents_online']}", "0", timeout=10)
    assert hud.duo.get_logs() == []


def test_wrong_password_is_refused_with_a_message(hud):
    hud.duo.driver.get(f"{hud.url}/login")
    hud.duo.wait_for_element(LOGIN_USERNAME).send_keys("vera")
    hud.duo.driver.find_element("css selector", LOGIN_PASSWORD).send_keys("not-the-password")
    hud.duo.driver.find_element("css selector", LOGIN_SUBMIT).click()
    hud.duo.wait_for_text_to_equal(LOGIN_ERROR, "Wrong username or password.", timeout=10)


def test_the_hud_says_when_the_server_stops_answering(hud):
    """Not a LIVE page over frozen figures: within seconds of the server going away the page says so."""
    from tests.browser.conftest import wait_until

    hud.login("vera")
    banner = hud.duo.find_element(f"#{SHELL.CONNECTION}")
    assert not banner.is_displayed()
    hud.duo.server.stop()
    wait_until(lambda: banner.is_displayed(), 20, "the disconnected banner")
    assert "not answering" in banner.text
    assert hud.duo.find_element(".hud-live-text").text == "STALE"


class Gate:
    """WSGI middleware that holds the page's updates (Dash callbacks) while closed, as a server too loaded
    to answer them would, and lets /healthz through."""

    def __init__(self, app):
        self.app = app
        self.open = threading.Event()
        self.open.set()

    def __call__(self, environ, start_response):
        if "_dash-update-component" in environ.get("PATH_INFO", ""):
            self.open.wait(60)
        return self.app(environ, start_response)


def test_the_hud_says_when_its_updates_are_late_though_the_server_answers_health_checks(hud):
    """The Pulse froze for minutes under load while labelled live: late updates make the page stale too."""
    gate = Gate(hud.app.server.wsgi_app)
    hud.app.server.wsgi_app = gate
    hud.login("vera")
    banner = hud.duo.find_element(f"#{SHELL.CONNECTION}")
    hud.duo.wait_for_text_to_equal(f"#{WATCHTOWER.LOG_STATE}", "live", timeout=10)
    assert not banner.is_displayed()
    hud.duo.driver.execute_script("window.HUD_LATE_MS = 2000;")
    gate.open.clear()
    try:
        wait_until(lambda: banner.is_displayed(), 20, "the late-updates banner")
        assert "Updates are late" in banner.text and "last good update at" in banner.text
        assert hud.duo.find_element(".hud-live-text").text == "STALE"
        assert not hud.duo.find_element(f"#{WATCHTOWER.LOG_STATE}").is_displayed()
        assert hud.duo.find_element(".hud-stale-only").text == "stale"
    finally:
        gate.open.set()
    wait_until(lambda: not banner.is_displayed(), 20, "the banner to go once updates flow")
    assert hud.duo.find_element(".hud-live-text").text == "LIVE"
    assert hud.duo.find_element(f"#{WATCHTOWER.LOG_STATE}").is_displayed()
    assert hud.duo.get_logs() == []


def test_a_banner_shows_while_maintenance_is_on(hud):
    from helicarrier.operations.maintenance import switch

    switch(hud.ctx.repo, True, "moving to PostgreSQL", "test")
    hud.login("vera")
    hud.duo.wait_for_contains_text(f"#{SHELL.MAINTENANCE}", "moving to PostgreSQL", timeout=10)
    assert "Ingest is paused" in hud.duo.find_element(f"#{SHELL.MAINTENANCE}").text
    # Pages keep working under it.
    hud.duo.wait_for_text_to_equal(f"#{SHELL.KPI['agents_online']}", "0", timeout=10)
    assert hud.duo.get_logs() == []


def test_each_page_has_its_own_browser_title(hud):
    from helicarrier.layouts import PAGES

    hud.login("vera")
    for page in PAGES:
        hud.visit(page.path)
        wait_until(lambda page=page: hud.duo.driver.title == f"{page.name} · Helicarrier", 10, page.name)
    hud.visit("/ledger/s-%3Cb%3E")
    wait_until(lambda: hud.duo.driver.title == "Session s-<b> · Ledger · Helicarrier", 10, "session title")
    assert hud.duo.get_logs() == []
