"""Browser fixtures: an app with one user per role, and signing in through the real login form."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest

from helicarrier.webapp import create_app

PASSWORD = "correct-horse-battery"
USERS = {"vera": "viewer", "omar": "operator", "ada": "admin"}


@dataclass
class Hud:
    duo: object
    app: object
    ctx: object

    @property
    def url(self) -> str:
        return self.duo.server.url

    def login(self, username: str, password: str = PASSWORD) -> None:
        driver = self.duo.driver
        driver.get(f"{self.url}/login")
        self.duo.wait_for_element("#login-username", timeout=10).send_keys(username)
        driver.find_element("css selector", "#login-password").send_keys(password)
        driver.find_element("css selector", "#login-submit").click()
        self.duo.wait_for_text_to_equal("#shell-username", username, timeout=10)

    def visit(self, path: str) -> None:
        self.duo.driver.get(f"{self.url}{path}")
        self.duo.wait_for_element("#shell-page", timeout=10)


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
