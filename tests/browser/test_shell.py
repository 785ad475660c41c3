"""The HUD shell in a real headless Chromium: sign-in, the shell, no console errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_shell_loads_after_sign_in(hud):
    hud.duo.wait_for_element("#login-username", timeout=10)  # every page starts at the sign-in form
    hud.login("vera")
    assert hud.duo.find_element("#shell-role").get_attribute("textContent") == "viewer"
    hud.duo.wait_for_text_to_equal("#watchtower-summary", "No agents have reported yet.", timeout=10)
    # The KPI strip filled from the database: zero agents online.
    hud.duo.wait_for_text_to_equal("#shell-kpi-agents_online", "0", timeout=10)
    assert hud.duo.get_logs() == []


def test_wrong_password_is_refused_with_a_message(hud):
    hud.duo.driver.get(f"{hud.url}/login")
    hud.duo.wait_for_element("#login-username").send_keys("vera")
    hud.duo.driver.find_element("css selector", "#login-password").send_keys("not-the-password")
    hud.duo.driver.find_element("css selector", "#login-submit").click()
    hud.duo.wait_for_text_to_equal("#login-error", "Wrong username or password.", timeout=10)
