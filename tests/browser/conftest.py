"""Browser fixtures: an app with one user per role, and signing in through the real login form."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

from helicarrier.layouts.shell import ID as SHELL
from helicarrier.webapp import create_app
from tests.servers import free_port
from tests.waiting import InFlight, wait_for

PASSWORD = "correct-horse-battery"
USERS = {"vera": "viewer", "omar": "operator", "ada": "admin"}
# The sign-in form is plain HTML from helicarrier/auth/web.py, not a Dash page, so its ids carry no page
# prefix; the browser tests name them here, once.
LOGIN_USERNAME = "#login-username"
LOGIN_PASSWORD = "#login-password"
LOGIN_SUBMIT = "#login-submit"
LOGIN_ERROR = "#login-error"


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """``wait_for``, where an element not rendered yet, or re-rendered under us, counts as not yet."""
    return wait_for(predicate, timeout, what, ignore=(NoSuchElementException, StaleElementReferenceException))


def click(duo, element) -> None:
    """A real click on ``element``, scrolled into the middle of the window first and at once (Bootstrap makes
    the page's scrolling smooth, and Selenium's own scroll-then-click lands before the scroll ends)."""
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()


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

    def wait_for_polls_to_end(self) -> None:
        """Agents' long polls still held by the server end (they return within their wait) before the
        server is stopped under them."""
        wait_for(lambda: self.app.server.wsgi_app.active("/commands") == 0, 30, "the long polls to end")

    @property
    def url(self) -> str:
        return self.duo.server.url

    def login(self, username: str, password: str = PASSWORD) -> None:
        sign_in(self.duo, self.url, username, password)

    def visit(self, path: str) -> None:
        self.duo.driver.get(f"{self.url}{path}")
        self.duo.wait_for_element(f"#{SHELL.PAGE}", timeout=10)


@pytest.fixture
def hud(dash_duo, settings):
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    for name, role in USERS.items():
        ctx.repo.create_user(name, PASSWORD, role)
    app.server.wsgi_app = InFlight(app.server.wsgi_app)  # what the server is serving, for teardowns
    # Not navigate=True: its wait for the Dash page would meet the sign-in form instead.
    # A free port, not dash_duo's count from 58050: two test runs on one machine would share those.
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo.driver.get(dash_duo.server.url)
    yield Hud(dash_duo, app, ctx)
    # Ended before dash's runner stops the server: it raises SystemExit in every thread started after the
    # server's, the SLI flusher's too (an "unhandled thread exception" warning in every test).
    ctx.slo.recorder.close()
