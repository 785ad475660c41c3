"""The Operations page in a real browser: an admin creates a user and deactivates them; others see no form."""

from __future__ import annotations

import pytest

from helicarrier.layouts.operations import ID
from tests.browser.conftest import PASSWORD, click, wait_until

pytestmark = pytest.mark.browser


def test_an_admin_creates_and_deactivates_a_user(hud):
    hud.login("ada")
    hud.visit("/operations")
    hud.duo.wait_for_element(f"#{ID.USER_NAME}", timeout=10).send_keys("nina")
    hud.duo.find_element(f"#{ID.USER_PASSWORD}").send_keys(PASSWORD)
    click(hud.duo, hud.duo.find_element(f"#{ID.USER_CREATE}"))
    hud.duo.wait_for_contains_text(f"#{ID.USER_RESULT}", "Created viewer nina.", timeout=10)
    assert hud.duo.find_element(f"#{ID.USER_PASSWORD}").get_attribute("value") == ""
    row = f'#{ID.USERS_LIST} tr[data-user="nina"]'
    hud.duo.wait_for_contains_text(row, "active", timeout=15)

    click(hud.duo, hud.duo.find_element(f"{row} button"))
    hud.duo.wait_for_contains_text(f"#{ID.USER_RESULT}", "Deactivated nina.", timeout=10)
    hud.duo.wait_for_contains_text(row, "deactivated", timeout=15)
    assert hud.ctx.repo.get_user("nina").disabled
    assert hud.duo.get_logs() == []


def test_others_see_no_user_form(hud):
    hud.login("omar")
    hud.visit("/operations")
    hud.duo.wait_for_contains_text(f"#{ID.USERS_LIST}", "admins only", timeout=10)
    wait_until(lambda: not hud.duo.find_element(f"#{ID.USER_FORM}").is_displayed(), what="the form hidden")
