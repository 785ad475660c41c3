"""Every page runs under the Content-Security-Policy the app sends: in real Chromium, each page as an admin
loads with no console error and no CSP violation reported to the server; and text an agent sent that looks
like a link stays text in the charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from selenium.webdriver.common.by import By

from helicarrier.auth.binding import Speaker
from helicarrier.layouts import PAGES
from tests.browser.conftest import wait_until

pytestmark = pytest.mark.browser

EVIL_MODEL = '<a href="javascript:alert(1)">gpt-evil</a>'


def _some_usage(ctx) -> None:
    now = datetime.now(UTC)
    events = []
    usage = {
        "provider": "openai",
        "model": EVIL_MODEL,
        "usage": {"prompt_tokens": 100, "completion_tokens": 5},
    }
    start = {"model": EVIL_MODEL, "task_kind": "<b>triage</b>"}
    for i in range(3):
        ts = (now - timedelta(hours=i + 1)).isoformat()
        head = {"ts": ts, "agent_id": "a-1", "session_id": f"s{i}"}
        events += [
            {**head, "id": f"s{i}", "type": "session.start", "data": start},
            {**head, "id": f"u{i}", "type": "usage", "data": usage},
            {**head, "id": f"e{i}", "type": "session.end", "data": {"status": "succeeded"}},
        ]
    body = orjson.dumps({"version": "v2", "source": {"name": "t"}, "events": events})
    status, text = ctx.ingest.ingest(Speaker.internal("tests"), body, None, "/api/v1/ingest")
    assert status == 200, text


def test_every_page_runs_under_the_policy_with_no_console_error(hud):
    _some_usage(hud.ctx)
    hud.login("ada")
    for page in PAGES:
        hud.visit(page.path)
        hud.duo.wait_for_element(f"#{page.module.ID.PAGE}", timeout=15)
        assert hud.duo.get_logs() == [], page.path
    reports = hud.app.server.config.get("HELICARRIER_CSP_REPORTS", {})
    assert reports == {}, reports


def test_a_model_name_with_a_link_is_shown_as_text_in_the_charts(hud):
    _some_usage(hud.ctx)
    hud.login("vera")
    hud.visit("/intelligence")

    def shown() -> list[str]:
        texts = hud.duo.driver.find_elements(
            By.CSS_SELECTOR, ".js-plotly-plot .ytick text, .js-plotly-plot text"
        )
        return [
            t.get_attribute("textContent")
            for t in texts
            if "gpt-evil" in (t.get_attribute("textContent") or "")
        ]

    wait_until(shown, 20, "the matrix to name the model")
    assert EVIL_MODEL in shown()  # shown as text, tags and all
    links = hud.duo.driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot a")
    assert [a.get_attribute("href") for a in links if "javascript" in (a.get_attribute("href") or "")] == []
