"""Intelligence in a real browser: charts, KPIs and the model matrix over seeded demo history, a chart's CSV
download, and the scheduled reports served to the signed-in browser."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from helicarrier.demo.seed import seed_demo
from helicarrier.layouts.intelligence import ID
from helicarrier.layouts.ledger_ids import ID as LEDGER
from helicarrier.reports.jobs import write_scheduled_reports
from helicarrier.webapp import create_app
from tests.browser.conftest import free_port, sign_in, wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


@pytest.fixture
def seeded(hud):
    seed_demo(hud.ctx.ingest, days=3, now=datetime.now(UTC))
    return hud


def count(hud, selector: str) -> int:
    return len(hud.duo.driver.find_elements(By.CSS_SELECTOR, selector))


def click(hud, element) -> None:
    # A JS click: the sticky navbar may cover an element Selenium scrolled to the top edge.
    hud.duo.driver.execute_script("arguments[0].click()", element)


def test_charts_kpis_and_matrix_render_without_console_errors(seeded):
    hud = seeded
    hud.login("vera")
    hud.visit("/intelligence")
    kpi = ID.KPI
    wait_until(lambda: hud.duo.find_element(f"#{kpi['sessions']}").text not in ("", "0"), what="KPIs")
    assert hud.duo.find_element(f"#{kpi['cost']}").text.startswith("$")
    assert hud.duo.find_element(f"#{kpi['unpriced']}").text == "0"
    wait_until(lambda: count(hud, f"#{ID.COST_CHART} .barlayer .point") > 0, what="cost bars")
    wait_until(lambda: count(hud, f"#{ID.TOKENS_CHART} .barlayer .point") > 0, what="token bars")
    wait_until(lambda: count(hud, f"#{ID.MATRIX_CHART} .hm") > 0, what="heatmap")
    wait_until(lambda: "$" in hud.duo.find_element(f"#{ID.MTD_PROJECTED}").text, what="projection")

    # Group by agent: one trace per agent (the demo fleet has 12: the top 7 and "other").
    click(
        hud,
        hud.duo.driver.find_element(
            By.CSS_SELECTOR, f"label[for='_dbcprivate_radioitems_{ID.GROUP}_input_agent']"
        ),
    )
    wait_until(lambda: "other" in hud.duo.find_element(f"#{ID.COST_CHART}").text, what="agent legend")

    click(hud, hud.duo.driver.find_element(By.LINK_TEXT, "Ranking"))
    wait_until(lambda: count(hud, f"#{ID.RANKED_TABLE} tbody tr") >= 3, what="ranking rows")
    wait_until(lambda: "#1" in hud.duo.find_element(f"#{ID.RANKED_TABLE}").text, what="the ranking tab")
    click(hud, hud.duo.driver.find_element(By.LINK_TEXT, "Successes per dollar"))
    wait_until(lambda: count(hud, f"#{ID.VALUE_TABLE} tbody tr") >= 3, what="value rows")
    wait_until(lambda: "#1" in hud.duo.find_element(f"#{ID.VALUE_TABLE}").text, what="the value tab")
    assert hud.duo.get_logs() == []


def test_a_chart_csv_download_holds_its_data(seeded):
    hud = seeded
    hud.login("vera")
    hud.visit("/intelligence")
    wait_until(lambda: count(hud, f"#{ID.COST_CHART} .barlayer .point") > 0, what="cost bars")
    click(hud, hud.duo.find_element(f"#{ID.DOWNLOAD_BUTTON['cost']}"))
    folder = Path(hud.duo.download_path)
    wait_until(lambda: any(p.suffix == ".csv" for p in folder.iterdir()), what="the download")
    path = next(p for p in folder.iterdir() if p.suffix == ".csv")
    assert "cost-by-model-day" in path.name
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["bucket", "group", "cost_nanos", "cost_usd", "unpriced_events"]
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=29), datetime.min.time(), UTC)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
    assert int(frame["cost_nanos"].sum()) == hud.ctx.repo.usage_totals(start, end)["cost_nanos"] > 0
    assert hud.duo.get_logs() == []


@pytest.fixture
def reports_hud(dash_duo, settings):
    """The app with the reports blueprint (registered here until webapp.py does), and a signed-in viewer."""
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    ctx.repo.create_user("vera", PASSWORD, "viewer")
    seed_demo(ctx.ingest, days=2, now=datetime.now(UTC))
    write_scheduled_reports(ctx.repo, settings.data_dir, datetime.now(UTC))
    dash_duo.start_server(app, navigate=False, port=free_port())
    sign_in(dash_duo, dash_duo.server.url, "vera", PASSWORD)
    return dash_duo


def test_scheduled_reports_are_listed_and_served_to_the_signed_in_browser(reports_hud):
    duo = reports_hud
    duo.driver.get(f"{duo.server.url}/intelligence")
    duo.wait_for_element(f"#{ID.REPORTS_LIST}", timeout=30)
    links = duo.driver.find_elements(By.CSS_SELECTOR, f"#{ID.REPORTS_LIST} a")
    names = sorted(link.text for link in links)
    assert len(names) == 2 and names[0].startswith("sessions-") and names[1].startswith("usage-")
    href = links[0].get_attribute("href")

    cookie = duo.driver.get_cookie("helicarrier_session")["value"]
    req = urllib.request.Request(href, headers={"Cookie": f"helicarrier_session={cookie}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        body = resp.read().decode()
    assert body.startswith("day,") or body.startswith("day\r\n")

    # Without the session cookie the gate sends the request to the sign-in page, not the file.
    with urllib.request.urlopen(href, timeout=10) as resp:
        assert resp.url.startswith(f"{duo.server.url}/login") and "day," not in resp.read().decode()
    assert duo.get_logs() == []


def days_hidden_under_other_elements(hud) -> list[str]:
    """The calendar's days that a click at their centre would not reach (something else is on top)."""
    return hud.duo.driver.execute_script(
        """
        return Array.from(document.querySelectorAll('.dash-datepicker-content td'))
          .filter(d => d.textContent.trim())
          .filter(d => {
            const r = d.getBoundingClientRect();
            const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return !(at && (d.contains(at) || at.contains(d)));
          })
          .map(d => d.textContent.trim());
        """
    )


@pytest.mark.parametrize("page, dates_id", [("/intelligence", ID.DATES), ("/ledger", LEDGER.DATES)])
def test_the_date_picker_opens_above_the_cards_and_a_mouse_click_picks_a_day(hud, page, dates_id):
    hud.login("vera")
    hud.visit(page)
    hud.duo.driver.set_window_size(1400, 1000)
    hud.duo.wait_for_element(f"#{dates_id}", timeout=20).click()  # the page may still be loading
    wait_until(lambda: hud.duo.find_element(".dash-datepicker-content").is_displayed(), what="the calendar")
    wait_until(lambda: len(hud.duo.driver.find_elements(By.CSS_SELECTOR, ".dash-datepicker-content td")) > 27)
    assert days_hidden_under_other_elements(hud) == []
    day = next(
        d
        for d in hud.duo.driver.find_elements(By.CSS_SELECTOR, ".dash-datepicker-content td")
        if d.text.strip() == "2"
    )
    day.click()  # a real mouse click: Selenium refuses it if another element would receive it
    wait_until(
        lambda: hud.duo.find_element(f"#{dates_id}").get_attribute("value").endswith("-02"),
        what="the start date set by the click",
    )
