"""The Ledger in a real browser: sessions posted over HTTP are searched, filtered, opened and exported."""

from __future__ import annotations

import csv
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helicarrier.analytics.filters import SessionFilters
from helicarrier.demo.seed import seed_demo
from helicarrier.layouts.ledger import ID
from helicarrier.layouts.ledger_grid import EMPTY_MESSAGE

pytestmark = pytest.mark.browser

BILLING_TASK = "Refactor <billing> module"
ROWS = f"#{ID.GRID} .ag-center-cols-container .ag-row"  # the grid's rendered rows


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


def session_events(sid, agent, model, task, status, prompt, completion, error=None, minutes_ago=30):
    t0 = datetime.now(UTC) - timedelta(minutes=minutes_ago)

    def ev(n, etype, data, dt):
        return {
            "id": f"{sid}-{n}",
            "type": etype,
            "ts": (t0 + timedelta(seconds=dt)).isoformat(),
            "agent_id": agent,
            "session_id": sid,
            "data": data,
        }

    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    end = {"status": status, **({"error": error} if error else {})}
    return [
        ev(
            "start",
            "session.start",
            {"model": model, "provider": "openai", "task": task, "task_kind": "coding"},
            0,
        ),
        ev("log", "log", {"level": "info", "message": f"working on {task}"}, 5),
        ev("usage", "usage", {"provider": "openai", "model": model, "usage": usage}, 10),
        ev("end", "session.end", end, 20),
    ]


@pytest.fixture
def sessions(hud):
    token, _ = hud.ctx.repo.create_token("browser", "ingest")
    atlas = {
        "id": "hb-atlas",
        "type": "agent.heartbeat",
        "ts": datetime.now(UTC).isoformat(),
        "agent_id": "atlas-01",
        "data": {"status": "idle", "name": "Atlas"},
    }
    post(
        hud,
        [
            atlas,
            *session_events("s-billing", "atlas-01", "gpt-4.1", BILLING_TASK, "succeeded", 1200, 300),
            *session_events(
                "s-summary",
                "hermes-07",
                "gpt-4.1-mini",
                "Summarize call transcript",
                "failed",
                500,
                100,
                error='=HYPERLINK("http://evil") RateLimitError',
                minutes_ago=20,
            ),
            *session_events(
                "s-triage",
                "vega-03",
                "gpt-4.1-mini-2025-04-14",
                "Triage tickets",
                "succeeded",
                800,
                50,
                None,
                10,
            ),
        ],
        token,
    )
    return ["s-billing", "s-summary", "s-triage"]


def grid_texts(hud) -> list[str]:
    # One script call: the grid re-renders rows as blocks settle, so element handles can go stale.
    return hud.duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(r => r.innerText);", ROWS
    )


def wait_for_rows(hud, predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        texts = grid_texts(hud)
        if predicate(texts):
            return texts
        time.sleep(0.2)
    raise AssertionError(f"grid rows never matched: {grid_texts(hud)}")


def click_row(hud, text: str, timeout: float = 10, column: str = "agent_id") -> None:
    """Click the grid row showing ``text`` (retried: the grid may re-render rows as blocks settle)."""
    deadline = time.time() + timeout
    while True:
        try:
            rows = hud.duo.driver.find_elements(By.CSS_SELECTOR, ROWS)
            row = next(r for r in rows if text in r.text)
            row.find_element(By.CSS_SELECTOR, f'[col-id="{column}"]').click()
            return
        except (StaleElementReferenceException, StopIteration):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def pick(hud, dropdown_id, value):
    hud.duo.find_element(f"#{dropdown_id}").click()
    option = hud.duo.wait_for_element(f'.dash-dropdown-content input[value="{value}"]', timeout=5)
    hud.duo.driver.execute_script("arguments[0].closest('label').click()", option)
    hud.duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def wait_for_download(folder: str, suffix: str = ".csv", timeout: float = 10) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [p for p in Path(folder).iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} download in {folder}: {list(Path(folder).iterdir())}")


def test_search_and_filters_narrow_the_ledger(hud, sessions):
    hud.login("vera")
    hud.visit("/ledger")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "3 sessions", timeout=10)
    wait_for_rows(hud, lambda t: len(t) == 3)

    hud.duo.find_element(f"#{ID.SEARCH}").send_keys("BILLING" + Keys.ENTER)  # case-insensitive
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=10)
    texts = wait_for_rows(hud, lambda t: len(t) == 1)
    assert BILLING_TASK in texts[0]  # angle brackets shown as text
    # The agent by its name (its id on hover), as on every page.
    assert "Atlas" in texts[0] and "atlas-01" not in texts[0] and "succeeded" in texts[0]

    hud.duo.find_element(f"#{ID.CLEAR}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "3 sessions", timeout=10)
    wait_for_rows(hud, lambda t: len(t) == 3)

    pick(hud, ID.FILTER_STATUS, "failed")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=10)
    texts = wait_for_rows(hud, lambda t: len(t) == 1)
    assert "Summarize call transcript" in texts[0] and "hermes-07" in texts[0]

    # The search also covers the error text.
    hud.duo.find_element(f"#{ID.CLEAR}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "3 sessions", timeout=10)
    hud.duo.find_element(f"#{ID.SEARCH}").send_keys("ratelimit" + Keys.ENTER)
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=10)
    assert hud.duo.get_logs() == []


def test_the_search_box_searches_as_you_type(hud, sessions):
    hud.login("vera")
    hud.visit("/ledger")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "3 sessions", timeout=10)
    hud.duo.find_element(f"#{ID.SEARCH}").send_keys("triage")  # no Enter
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=10)
    texts = wait_for_rows(hud, lambda t: len(t) == 1)
    assert "Triage tickets" in texts[0]
    # The model as the charts name it: the short id, the dated one on hover.
    assert "gpt-4.1-mini" in texts[0] and "2025-04-14" not in texts[0]


def test_a_row_opens_its_detail_at_a_shareable_url(hud, sessions):
    hud.login("vera")
    hud.visit("/ledger")
    wait_for_rows(hud, lambda t: len(t) == 3)
    click_row(hud, BILLING_TASK)
    hud.duo.wait_for_text_to_equal(f"#{ID.DETAIL_TOKENS['input_tokens']}", "1,200", timeout=10)
    assert hud.duo.driver.current_url.endswith("/ledger/s-billing")
    assert hud.duo.find_element(f"#{ID.DETAIL_TOKENS['output_tokens']}").text == "300"
    assert hud.duo.find_element(f"#{ID.DETAIL_TASK}").text == BILLING_TASK
    assert "computed" in hud.duo.find_element(f"#{ID.DETAIL_PROVENANCE}").text
    assert "gpt-4.1" in hud.duo.find_element(f"#{ID.DETAIL_USAGE}").text
    assert "working on" in hud.duo.find_element(f"#{ID.DETAIL_TIMELINE}").text

    # Shareable: the URL opened directly shows the same session.
    hud.visit("/ledger/s-summary")
    hud.duo.wait_for_text_to_equal(f"#{ID.DETAIL_TOKENS['input_tokens']}", "500", timeout=10)
    assert hud.duo.find_element(f"#{ID.DETAIL_ERROR}").text == '=HYPERLINK("http://evil") RateLimitError'
    assert "failed" in hud.duo.find_element(f"#{ID.DETAIL_STATUS}").text

    hud.visit("/ledger/no-such-session")
    hud.duo.wait_for_element(f"#{ID.DETAIL_NOT_FOUND}", timeout=10)
    hud.duo.find_element(f"#{ID.DETAIL_BACK}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "3 sessions", timeout=10)
    assert hud.duo.get_logs() == []


def test_csv_downloads_hold_the_filtered_rows(hud, sessions):
    hud.login("vera")
    hud.visit("/ledger")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "3 sessions", timeout=10)
    pick(hud, ID.FILTER_STATUS, "failed")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "1 session", timeout=10)
    hud.duo.find_element(f"#{ID.DOWNLOAD_BUTTON}").click()
    path = wait_for_download(hud.duo.download_path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["s-summary"]
    assert rows[0]["status"] == "failed" and rows[0]["input_tokens"] == "500"
    assert rows[0]["error"].startswith("'=HYPERLINK")  # neutralized for spreadsheets
    hud.duo.wait_for_text_to_equal(f"#{ID.DOWNLOAD_NOTE}", "Downloaded 1 session.", timeout=5)
    path.unlink()

    hud.visit("/ledger/s-billing")
    hud.duo.wait_for_text_to_equal(f"#{ID.DETAIL_TOKENS['input_tokens']}", "1,200", timeout=10)
    hud.duo.find_element(f"#{ID.DETAIL_DOWNLOAD_BUTTON}").click()
    path = wait_for_download(hud.duo.download_path)
    with path.open(newline="", encoding="utf-8") as fh:
        usage = list(csv.DictReader(fh))
    assert len(usage) == 1
    assert usage[0]["input_tokens"] == "1200" and usage[0]["cost_provenance"] == "computed"
    assert usage[0]["pricing_version"]
    assert hud.duo.get_logs() == []


def test_a_search_with_no_match_says_so_and_the_next_query_fills_the_grid_again(hud):
    # At the demo's size (more sessions than one block of the grid): a 30-session ledger never showed it.
    seed_demo(hud.ctx.ingest, days=4, now=datetime.now(UTC))
    total = hud.ctx.repo.session_count(SessionFilters())
    assert total > 200
    hud.login("vera")
    hud.visit("/ledger")
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", f"{total:,} sessions", timeout=10)
    wait_for_rows(hud, lambda t: len(t) > 5)

    box = hud.duo.find_element(f"#{ID.SEARCH}")
    box.send_keys("no-such-task-anywhere" + Keys.ENTER)
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", "0 sessions", timeout=10)
    wait_for_rows(hud, lambda t: t == [EMPTY_MESSAGE])
    click_row(hud, EMPTY_MESSAGE, column="started_at")  # a message, not a session: it opens nothing

    hud.duo.find_element(f"#{ID.CLEAR}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.COUNT}", f"{total:,} sessions", timeout=10)
    wait_for_rows(hud, lambda t: len(t) > 5)
    pick(hud, ID.FILTER_STATUS, "failed")
    wait_for_rows(hud, lambda t: len(t) > 0 and all("failed" in row for row in t))
    assert urlsplit(hud.duo.driver.current_url).path == "/ledger"  # the message opened no session
    assert hud.duo.get_logs() == []
