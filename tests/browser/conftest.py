"""Browser fixtures: an app with one user per role, and signing in through the real login form."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

from helicarrier.layouts.shell import ID as SHELL
from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"
USERS = {"vera": "viewer", "omar": "operator", "ada": "admin"}
# The sign-in form is plain HTML from helicarrier/auth/web.py, not a Dash page, so its ids carry no page
# prefix; the browser tests name them here, once.
LOGIN_USERNAME = "#login-username"
LOGIN_PASSWORD = "#login-password"
LOGIN_SUBMIT = "#login-submit"
LOGIN_ERROR = "#login-error"


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something true (returned); elements not rendered yet, or
    re-rendered under us, count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sign_in(duo, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form and wait until the HUD greets the user."""
    duo.driver.get(f"{base_url}/login")
    duo.wait_for_element(LOGIN_USERNAME, timeout=10).send_keys(username)
    duo.driver.find_element("css selector", LOGIN_PASSWORD).send_keys(password)
    duo.driver.find_element("css selector", LOGIN_SUBMIT).click()
    duo.wait_for_text_to_equal(f"#{SHELL.USERNAME}", username, timeout=10)


@dataclass
class Hud:
    duo: object
    app: object
    ctx: object

    @property
    def url(self) -> str:
        return self.duo.server.url

    def login(self, username: str, password: str = PASSWORD) -> None:
        sign_in(self.duo, self.url, username, password)

    def visit(self, path: str) -> None:
        self.duo.driver.get(f"{self.url}{path}")
        self.duo.wait_for_element(f"#{SHELL.PAGE}", timeout=10)


def free_port() -> int:
    """A port nobody listens on now. dash_duo counts up from 58050 in every process, so two test runs on one
    machine (a developer's and a CI's) would otherwise start their apps on the same port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hud(dash_duo, settings):
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    for name, role in USERS.items():
        ctx.repo.create_user(name, PASSWORD, role)
    # Not navigate=True: its wait for the Dash page would meet the sign-in form instead.
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo.driver.get(dash_duo.server.url)
    return Hud(dash_duo, app, ctx)
