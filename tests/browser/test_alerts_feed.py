"""The Alerts page in a real browser: an agent stops heartbeating, the scheduler's evaluation fires a short
offline rule, the alert shows in the feed and the KPI badge, and an operator acknowledges and silences it."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helicarrier.actors import Actor
from helicarrier.alerts.rules import validate_rule
from helicarrier.layouts.alerts import ID
from helicarrier.layouts.intelligence_ids import ID as INTEL
from helicarrier.layouts.ledger_ids import ID as LEDGER
from helicarrier.layouts.shell import ID as SHELL
from helicarrier.scheduler.runner import Job, Scheduler, _evaluate_alerts
from tests.browser.conftest import click, wait_until

pytestmark = pytest.mark.browser


def heartbeat(hud, token, agent, eid):
    event = {
        "id": eid,
        "type": "agent.heartbeat",
        "ts": datetime.now(UTC).isoformat(),
        "agent_id": agent,
        "data": {"status": "running"},
    }
    body = json.dumps({"version": "v2", "source": {"name": "browser-test"}, "events": [event]}).encode()
    req = urllib.request.Request(
        f"{hud.url}/api/v1/ingest",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


@pytest.fixture
def evaluator(hud):
    """The real leader-gated scheduler with the evaluation job every second."""
    scheduler = Scheduler(hud.ctx, [Job("evaluate-alerts", 1, _evaluate_alerts)])
    scheduler.start()
    yield scheduler
    scheduler.shutdown()


def pick(hud, dropdown_id, value):
    """Choose ``value`` in a single-value dcc.Dropdown."""
    hud.duo.find_element(f"#{dropdown_id}").click()
    option = hud.duo.wait_for_element(f'.dash-dropdown-content input[value="{value}"]', timeout=5)
    hud.duo.driver.execute_script("arguments[0].closest('label').click()", option)
    hud.duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def js_click(hud, component_id):
    """Click through the page's own script rather than through Selenium's pointer."""
    hud.duo.driver.execute_script("document.getElementById(arguments[0]).click()", component_id)


def row(hud, agent):
    for el in hud.duo.driver.find_elements(By.CSS_SELECTOR, f"#{ID.FEED} tr.alerts-row"):
        if f"agent={agent}" in el.text:
            return el
    return None


def click_in_row(hud, agent, selector, timeout=10):
    """Click a button of the agent's feed row (found again if the feed was redrawn meanwhile)."""
    deadline = time.time() + timeout
    while True:
        try:
            row(hud, agent).find_element(By.CSS_SELECTOR, selector).click()
            return
        except (StaleElementReferenceException, AttributeError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def offline_rule_and_agent(hud, agent: str = "vega-03", after_s: int = 3) -> None:
    """A critical "agent offline" rule and one heartbeat of ``agent``: it fires ``after_s`` seconds later."""
    token, _ = hud.ctx.repo.create_token("browser", "ingest")
    rule = {
        "name": "agent offline",
        "metric": "agents_offline",
        "group_by": "agent",
        "threshold": "0",
        "params": {"offline_after_s": after_s},
        "severity": "critical",
    }
    hud.ctx.repo.create_alert_rule(validate_rule(rule), Actor("ada", "user", "admin"))
    heartbeat(hud, token, agent, "hb-1")


def test_offline_alert_fires_shows_and_is_acknowledged_and_silenced(hud, evaluator):
    repo = hud.ctx.repo
    offline_rule_and_agent(hud)
    hud.login("omar")
    hud.visit("/alerts")
    hud.duo.wait_for_element(f"#{ID.FEED}", timeout=10)
    # Nobody posts anything: three seconds later the evaluation fires it.
    hud.duo.wait_for_element(f'#{ID.FEED} tr[data-state="firing"]', timeout=20)
    firing = row(hud, "vega-03")
    assert "agent offline" in firing.text and "critical" in firing.text
    hud.duo.wait_for_text_to_equal(f"#{SHELL.KPI['alerts_firing']}", "1", timeout=15)

    click_in_row(hud, "vega-03", ".alerts-ack-btn")
    hud.duo.wait_for_element(f"#{ID.ACK_NOTE}", timeout=10).send_keys("restarting vega-03")
    hud.duo.find_element(f"#{ID.ACK_SUBMIT}").click()
    hud.duo.wait_for_text_to_equal(f"#{ID.ACK_RESULT}", "Acknowledged.", timeout=10)
    hud.duo.find_element(f"#{ID.ACK_MODAL} .btn-close").click()
    hud.duo.wait_for_contains_text(f"#{ID.FEED}", "acknowledged by omar: restarting vega-03", timeout=10)

    click_in_row(hud, "vega-03", ".alerts-silence-btn")
    matchers = hud.duo.wait_for_element(f"#{ID.SILENCE_MATCHERS}", timeout=10)
    hud.duo.wait_for_contains_text(f"#{ID.SILENCE_MATCHERS}", 'agent="vega-03"', timeout=10)
    assert 'alertname="agent offline"' in matchers.get_attribute("value")
    hud.duo.find_element(f"#{ID.SILENCE_COMMENT}").send_keys("host maintenance")
    hud.duo.find_element(f"#{ID.SILENCE_SUBMIT}").click()
    hud.duo.wait_for_contains_text(f"#{ID.SILENCE_RESULT}", "Silence #", timeout=10)
    hud.duo.find_element(f"#{ID.SILENCE_MODAL} .btn-close").click()
    hud.duo.wait_for_contains_text(f"#{ID.FEED}", "silenced #", timeout=10)
    hud.duo.wait_for_contains_text(f"#{ID.SILENCES}", "host maintenance", timeout=10)
    # still firing (suppressed is not a state), so the badge still counts it
    assert row(hud, "vega-03").get_attribute("data-state") == "firing"
    (silence,) = repo.list_silences()
    assert (silence["created_by"], silence["matchers"][-1]) == (
        "omar",
        {"name": "agent", "op": "=", "value": "vega-03"},
    )
    assert hud.duo.get_logs() == []


def test_viewers_see_the_feed_without_actions(hud, evaluator):
    repo = hud.ctx.repo
    token, _ = repo.create_token("browser", "ingest")
    rule = {
        "name": "agent offline",
        "metric": "agents_offline",
        "group_by": "agent",
        "threshold": "0",
        "params": {"offline_after_s": 1},
    }
    repo.create_alert_rule(validate_rule(rule), Actor("ada", "user", "admin"))
    heartbeat(hud, token, "atlas-01", "hb-1")
    hud.login("vera")
    hud.visit("/alerts")
    hud.duo.wait_for_element(f'#{ID.FEED} tr[data-state="firing"]', timeout=20)
    assert hud.duo.driver.find_elements(By.CSS_SELECTOR, f"#{ID.FEED} .alerts-ack-btn") == []
    assert not hud.duo.find_element(f"#{ID.RULE_NEW}").is_displayed()
    hud.duo.wait_for_contains_text(f"#{ID.EVAL}", "Scheduler lock held by", timeout=10)
    assert hud.duo.get_logs() == []


def test_admin_previews_and_saves_a_rule(hud):
    repo = hud.ctx.repo
    token, _ = repo.create_token("browser", "ingest")
    for i in range(3):
        heartbeat(hud, token, f"hermes-0{i}", f"hb-{i}")
    hud.login("ada")
    hud.visit("/alerts")
    hud.duo.wait_for_element(f"#{ID.RULE_NEW}", timeout=10)
    js_click(hud, ID.RULE_NEW)
    hud.duo.wait_for_element(f"#{ID.RULE_NAME}", timeout=10).send_keys("fleet online")
    pick(hud, ID.RULE_METRIC, "agents_offline")
    pick(hud, ID.RULE_COMPARATOR, "<=")
    hud.duo.find_element(f"#{ID.RULE_THRESHOLD}").send_keys("0")
    hud.duo.find_element(f"#{ID.RULE_PARAMS}").clear()
    # Inhibition through its form, not JSON: while the fleet is down, its agents' own alerts are muted.
    hud.duo.find_element(f"#{ID.RULE_INHIBIT_MATCHERS}").send_keys(
        'severity="warning"' + Keys.ENTER + "team=~core|ops"
    )
    hud.duo.find_element(f"#{ID.RULE_INHIBIT_EQUAL}").send_keys("team, env")
    js_click(hud, ID.RULE_PREVIEW)
    hud.duo.wait_for_text_to_equal(
        f"#{ID.PREVIEW_TEXT}", "This rule would now fire for 1 group (of 1).", timeout=10
    )
    js_click(hud, ID.RULE_SAVE)
    hud.duo.wait_for_text_to_equal(f"#{ID.RULE_RESULT}", "Rule fleet online created.", timeout=10)
    wait_until(lambda: not hud.duo.find_element(f"#{ID.RULE_EDITOR}").is_displayed(), 10, "the editor closed")
    hud.duo.wait_for_contains_text(f"#{ID.RULES}", "agents_offline <= 0", timeout=10)
    (rule,) = repo.list_alert_rules()
    assert (rule["metric"], rule["comparator"], rule["threshold"], rule["created_by"]) == (
        "agents_offline",
        "<=",
        "0",
        "ada",
    )
    assert rule["inhibits"] == {
        "matchers": [
            {"name": "severity", "op": "=", "value": "warning"},
            {"name": "team", "op": "=~", "value": "core|ops"},
        ],
        "equal": ["team", "env"],
    }
    assert hud.duo.get_logs() == []


def click_link(hud, text: str) -> None:
    """A real click on the link (the panel is below the fold)."""
    click(hud.duo, hud.duo.driver.find_element(By.LINK_TEXT, text))


def test_the_intelligence_page_lists_active_alerts_with_links_to_the_alert_and_its_sessions(hud, evaluator):
    repo = hud.ctx.repo
    offline_rule_and_agent(hud)
    hud.login("vera")
    hud.visit("/intelligence")
    hud.duo.wait_for_contains_text(f"#{INTEL.ALERTS}", "agent offline", timeout=30)
    assert "agent=vega-03" in hud.duo.find_element(f"#{INTEL.ALERTS}").text
    (alert,) = [a for a in repo.list_alerts() if a["state"] == "firing"]

    click_link(hud, "Sessions →")
    wait_until(lambda: "/ledger?agent=vega-03" in hud.duo.driver.current_url, 10, "the alert's sessions")
    wait_until(lambda: "vega-03" in hud.duo.find_element(f"#{LEDGER.FILTER_AGENT}").text, 10, "the filter")

    hud.visit("/intelligence")
    hud.duo.wait_for_contains_text(f"#{INTEL.ALERTS}", "agent offline", timeout=30)
    click_link(hud, "agent offline")
    wait_until(lambda: hud.duo.driver.current_url.endswith(f"/alerts?alert={alert['id']}"), 10, "the alert")
    focused = hud.duo.wait_for_element(f"#{ID.FEED} tr.alerts-row-focus", timeout=15)
    assert focused.get_attribute("data-alert") == str(alert["id"])
    assert hud.duo.get_logs() == []
