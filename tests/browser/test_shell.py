"""The HUD shell in a real headless Chromium: sign-in, the shell, no console errors."""

from __future__ import annotations

import pytest

from helicarrier.layouts.shell import ID as SHELL
from helicarrier.layouts.watchtower import ID as WATCHTOWER
from tests.browser.conftest import LOGIN_ERROR, LOGIN_PASSWORD, LOGIN_SUBMIT, LOGIN_USERNAME

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


def test_a_banner_shows_while_maintenance_is_on(hud):
    from helicarrier.operations.maintenance import switch

    switch(hud.ctx.repo, True, "moving to PostgreSQL", "test")
    hud.login("vera")
    hud.duo.wait_for_contains_text(f"#{SHELL.MAINTENANCE}", "moving to PostgreSQL", timeout=10)
    assert "Ingest is paused" in hud.duo.find_element(f"#{SHELL.MAINTENANCE}").text
    # Pages keep working under it.
    hud.duo.wait_for_text_to_equal(f"#{SHELL.KPI['agents_online']}", "0", timeout=10)
    assert hud.duo.get_logs() == []
