"""Command & Control in a real browser: an operator kills a simulated agent and hands a real client a task;
a viewer sees no controls, and a control callback forged from the viewer's session is refused and audited."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helicarrier.client import Command, HelicarrierClient
from helicarrier.data.types import utcnow
from helicarrier.demo.fleet import run_demo_fleet
from helicarrier.fleet import grid
from helicarrier.layouts.command import ID
from helicarrier.layouts.watchtower import ID as WATCHTOWER
from tests.browser.conftest import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def token(hud):
    value, _ = hud.ctx.repo.create_token("browser-agents", "ingest")
    return value


@pytest.fixture
def demo_fleet(hud, token):
    """Two simulated agents (atlas-01, hermes-07) reporting to the HUD through the real client."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_demo_fleet,
        args=(hud.url, token, 2),
        kwargs={"seed": 5, "stop_event": stop, "command_wait": 1.0},
        daemon=True,
    )
    thread.start()
    yield
    stop.set()
    thread.join(timeout=20)
    hud.wait_for_polls_to_end()


@pytest.fixture
def make_client(hud):
    clients: list[HelicarrierClient] = []

    def make(token: str) -> HelicarrierClient:
        client = HelicarrierClient(hud.url, token, source="browser-test", backoff_base=0.05, backoff_max=0.5)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(timeout=2)
    hud.wait_for_polls_to_end()


def status_of(hud, agent_id: str) -> str | None:
    cards = grid.card_models(hud.ctx.repo.agents_snapshot(), utcnow(), hud.ctx.settings.offline_after_s)
    return next((c.status for c in cards if c.id == agent_id), None)


def click(hud, selector: str, timeout: float = 10.0) -> None:
    """Click once the element takes clicks (a drawer slides in, a card is re-rendered meanwhile)."""

    def clicked() -> bool:
        try:
            hud.duo.find_element(selector).click()
        except WebDriverException:
            return False
        return True

    wait_until(clicked, timeout, f"{selector} to take a click")


def settled(hud, selector: str) -> None:
    """Wait until an element stops moving (a drawer sliding in takes clicks meant for its buttons)."""
    script = "var r = document.querySelector(arguments[0]).getBoundingClientRect(); return [r.left, r.top];"
    last: list = []

    def still() -> bool:
        nonlocal last
        now = hud.duo.driver.execute_script(script, selector)
        same, last = now == last, now
        return same

    wait_until(still, 10, f"{selector} to settle")


def card_says(hud, agent_id: str, status: str, timeout: float) -> None:
    """Wait until the agent's card on the Hero Grid shows ``status`` (textContent: CSS uppercases it)."""

    script = "var el = document.querySelector(arguments[0]); return el ? el.textContent.trim() : null;"

    def shown() -> bool:  # read in the page: cards are re-rendered under our feet
        return hud.duo.driver.execute_script(script, f'[data-agent="{agent_id}"] .status-badge') == status

    wait_until(shown, timeout, f"the card of {agent_id} to say {status}")


def pick(hud, dropdown: str, agent_id: str, multi: bool = False) -> None:
    """Choose the option naming ``agent_id`` in a dcc.Dropdown."""
    hud.duo.wait_for_element(dropdown, timeout=10)

    def opened() -> bool:
        # Clicked again until its menu shows: new options (a kill just changed the lists) re-render the
        # control, and a click landing during that is lost.
        if not hud.duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
            click(hud, dropdown)
        return bool(hud.duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"))

    wait_until(opened, what=f"the menu of {dropdown}")

    def chosen() -> bool:
        try:
            for option in hud.duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
                if agent_id in option.text:
                    option.click()
                    return True
        except WebDriverException:  # the options were refreshed meanwhile
            pass
        return False

    wait_until(chosen, what=f"{agent_id} among the options")
    if multi:  # a multi-select stays open
        hud.duo.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until(lambda: agent_id in hud.duo.find_element(dropdown).text, what=f"{agent_id} picked")


def test_operator_kills_a_demo_agent_and_its_card_turns_killed(hud, demo_fleet):
    wait_until(lambda: status_of(hud, "atlas-01") == "running", what="atlas-01 running")
    hud.login("omar")
    hud.visit("/command")
    pick(hud, f"#{ID.KILL_AGENT}", "atlas-01")
    click(hud, f"#{ID.KILL_OPEN}")
    hud.duo.wait_for_contains_text(f"#{ID.KILL_MODAL_COUNT}", "atlas-01", timeout=10)

    # The reason is required: the dialog says so, nothing is issued.
    click(hud, f"#{ID.KILL_CONFIRM}")
    hud.duo.wait_for_contains_text(f"#{ID.KILL_MODAL_ERROR}", "A reason is required", timeout=10)
    assert hud.ctx.repo.commands_list(agent_id="atlas-01") == []

    hud.duo.find_element(f"#{ID.KILL_REASON}").send_keys("runaway token spend")
    click(hud, f"#{ID.KILL_STRENGTH} input[value='force']")
    click(hud, f"#{ID.KILL_CONFIRM}")
    hud.duo.wait_for_contains_text(f"#{ID.KILL_FEEDBACK}", "Kill sent to 1 agent", timeout=10)
    # The lifecycle, live, up to the agent's confirmation.
    item = f'#{ID.KILL_LIFECYCLE} [data-state="completed"]'
    hud.duo.wait_for_element(item, timeout=30)
    (command,) = hud.ctx.repo.commands_list(agent_id="atlas-01")
    assert (command["kind"], command["state"], command["strength"]) == ("kill", "completed", "force")
    assert command["reason"] == "runaway token spend" and command["issued_by"] == "omar"
    assert command["verification"] == "awaiting"

    hud.visit("/")
    card_says(hud, "atlas-01", "killed", timeout=15)
    detail = hud.ctx.repo.agent_detail("atlas-01")
    assert detail["agent"]["current_session_id"] is None and detail["agent"]["current_task"] is None
    audit = hud.ctx.repo.audit_entries(actor="omar", action="command.kill")
    assert list(audit["outcome"]) == ["ok"]  # the reason-less attempt was stopped in the form
    assert hud.duo.get_logs() == []


def test_operator_kills_from_the_agent_drawer(hud, demo_fleet):
    wait_until(lambda: status_of(hud, "hermes-07") in ("running", "idle"), what="hermes-07 up")
    hud.login("omar")
    hud.duo.wait_for_element('[data-agent="hermes-07"]', timeout=15)
    kill = f"#{WATCHTOWER.DETAIL} [id*='{WATCHTOWER.DETAIL_KILL_OPEN}']"
    card = '[data-agent="hermes-07"]'
    card_clicked = [0.0]

    def drawer_open() -> bool:
        # The grid redraws the cards on every poll; a click that lands as a card is replaced is lost (the
        # drawer never opens), so click again after a while if the drawer has not come.
        if hud.duo.driver.find_elements(By.CSS_SELECTOR, kill):
            return True
        if time.monotonic() - card_clicked[0] > 4 and not hud.duo.redux_state_is_loading:
            click(hud, card)
            card_clicked[0] = time.monotonic()
        return False

    wait_until(drawer_open, 30, "the drawer with its Kill button")
    settled(hud, kill)
    # A card click that the click helper delivered twice (it retries a click that raised) opens the drawer
    # twice; the second body, arriving late, hides a confirmation opened meanwhile. So: open it when no
    # callback is in flight, and open it again only if it is hidden with nothing in flight (Kill toggles the
    # confirmation: a second click while the first one's answer is on its way would close it).
    box_selector = f"#{WATCHTOWER.DETAIL} textarea"
    last_click = [0.0]

    def confirmation_open() -> bool:
        box = hud.duo.find_element(box_selector)
        if box.is_displayed():
            return True
        if hud.duo.redux_state_is_loading or time.monotonic() - last_click[0] < 3:
            return False
        click(hud, kill)
        last_click[0] = time.monotonic()
        return False

    hud.duo.wait_for_element(box_selector, timeout=10)
    wait_until(confirmation_open, 30, "the confirmation to open and stay open")
    box = hud.duo.find_element(f"#{WATCHTOWER.DETAIL} textarea")
    box.send_keys("wrong repository")
    click(hud, f"#{WATCHTOWER.DETAIL} [id*='{WATCHTOWER.DETAIL_KILL_CONFIRM}']")
    hud.duo.wait_for_contains_text(f"#{WATCHTOWER.DETAIL}", "Kill sent", timeout=10)
    card_says(hud, "hermes-07", "killed", timeout=90)
    (command,) = hud.ctx.repo.commands_list(agent_id="hermes-07")
    assert (command["state"], command["strength"], command["reason"]) == (
        "completed",
        "graceful",
        "wrong repository",
    )
    # The drawer, still open, follows the agent: killed, the command completed, no Kill offered any more.
    wait_until(
        lambda: hud.duo.find_element(f"#{WATCHTOWER.DETAIL_STATUS}").text.lower() == "killed",
        10,
        "the drawer to say killed",
    )
    hud.duo.wait_for_contains_text(f"#{WATCHTOWER.DETAIL_COMMANDS}", "completed", timeout=10)
    wait_until(lambda: not hud.duo.find_element(kill).is_displayed(), 10, "Kill to go from the drawer")
    assert hud.duo.get_logs() == []


def test_kill_all_matching_states_the_count_and_kills_each(hud, token, make_client):
    client = make_client(token)
    for agent_id, team in (("k-1", "ops"), ("k-2", "ops"), ("k-3", "web")):
        agent = client.agent(agent_id, labels={"team": team})
        agent.heartbeat("running", current_task="batch job")
        agent.on_command(wait=1.0)  # the default kill handler
    assert client.flush(timeout=10)

    hud.login("omar")
    hud.visit("/command")
    pick(hud, f"#{ID.KILLALL_LABELS}", "team=ops", multi=True)
    hud.duo.wait_for_text_to_equal(f"#{ID.KILLALL_COUNT}", "2 agents match", timeout=10)
    click(hud, f"#{ID.KILLALL_OPEN}")
    hud.duo.wait_for_contains_text(f"#{ID.KILL_MODAL_COUNT}", "Kill 2 agents", timeout=10)
    assert "k-1, k-2" in hud.duo.find_element(f"#{ID.KILL_MODAL_COUNT}").text
    hud.duo.find_element(f"#{ID.KILL_REASON}").send_keys("ops batch is looping")
    click(hud, f"#{ID.KILL_CONFIRM}")
    hud.duo.wait_for_contains_text(f"#{ID.KILL_FEEDBACK}", "Kill sent to 2 agents", timeout=10)
    wait_until(
        lambda: count(hud, f'#{ID.KILL_LIFECYCLE} [data-state="completed"]') == 2, what="both kills confirmed"
    )
    assert {a: status_of(hud, a) for a in ("k-1", "k-2", "k-3")} == {
        "k-1": "killed",
        "k-2": "killed",
        "k-3": "running",
    }
    assert hud.duo.get_logs() == []


def test_operator_injects_a_task_from_the_jarvis_terminal(hud, token, make_client):
    client = make_client(token)
    agent = client.agent("jarvis-7", name="Jarvis Seven")
    agent.heartbeat("idle", model="gpt-4.1")
    received: list[Command] = []

    def do_task(cmd: Command) -> str:
        received.append(cmd)
        cmd.accept()
        time.sleep(0.5)  # some work: the accepted state shows before the answer
        return f"done: {cmd.task}"

    agent.on_command(inject=do_task, wait=1.0)
    assert client.flush(timeout=10)

    hud.login("omar")
    hud.visit("/command")
    pick(hud, f"#{ID.INJECT_AGENTS}", "jarvis-7", multi=True)
    task = "summarize incident INC-4242"
    field = hud.duo.find_element(f"#{ID.INJECT_INPUT}")
    field.send_keys(task)
    send = hud.duo.find_element(f"#{ID.INJECT_SEND}")
    send.click()
    send.click()  # a double click: one command
    hud.duo.wait_for_contains_text(f"#{ID.INJECT_STATUS}", "Sent to jarvis-7", timeout=10)
    hud.duo.wait_for_contains_text(f"#{ID.INJECT_TRANSCRIPT}", f"done: {task}", timeout=20)
    hud.duo.wait_for_element(f'#{ID.HISTORY} tr[data-agent="jarvis-7"][data-state="completed"]', timeout=10)
    commands = hud.ctx.repo.commands_list(agent_id="jarvis-7")
    assert [(c["kind"], c["state"], c["result_message"]) for c in commands] == [
        ("inject", "completed", f"done: {task}")
    ]
    assert [(c.task, c.issued_by) for c in received] == [(task, "omar")]
    assert hud.duo.find_element(f"#{ID.INJECT_INPUT}").get_attribute("value") == ""

    # Up-arrow recalls what was sent.
    hud.duo.find_element(f"#{ID.INJECT_INPUT}").send_keys(Keys.ARROW_UP)
    wait_until(
        lambda: hud.duo.find_element(f"#{ID.INJECT_INPUT}").get_attribute("value") == task, what="recall"
    )

    # The audit view lists the action, with who did it, filters by agent and exports CSV.
    hud.duo.wait_for_contains_text(f"#{ID.AUDIT_TABLE}", "command.inject", timeout=15)
    hud.duo.find_element(f"#{ID.AUDIT_AGENT}").send_keys("jarvis-7\n")
    hud.duo.wait_for_element(f'#{ID.AUDIT_TABLE} tr[data-action="command.inject"]', timeout=10)
    wait_until(lambda: count(hud, f'#{ID.AUDIT_TABLE} tr[data-action="login"]') == 0, what="the agent filter")
    row = hud.duo.find_element(f'#{ID.AUDIT_TABLE} tr[data-action="command.inject"]')
    assert task in row.text  # the task handed over, not only that something was
    click(hud, f"#{ID.AUDIT_CSV}")
    download = Path(hud.duo.download_path)
    csv = wait_until(lambda: next(iter(download.glob("helicarrier-audit-*.csv")), None), what="the CSV")
    text = wait_until(lambda: csv.read_text(), what="the CSV's content")
    assert text.splitlines()[0].startswith("id,ts,actor") and "command.inject" in text and "login" not in text
    assert hud.duo.get_logs() == []


def test_a_killed_agent_is_marked_warned_about_and_released(hud, token, make_client):
    client = make_client(token)
    agent = client.agent("jarvis-7", name="Jarvis Seven")
    agent.heartbeat("running", model="gpt-4.1")
    agent.on_command(wait=1.0)  # the client's own kill handling: it stops and confirms
    assert client.flush(timeout=10)
    hud.login("omar")
    hud.visit("/command")
    pick(hud, f"#{ID.KILL_AGENT}", "jarvis-7")
    click(hud, f"#{ID.KILL_OPEN}")
    hud.duo.wait_for_element(f"#{ID.KILL_REASON}", timeout=10).send_keys("stuck in a loop")
    click(hud, f"#{ID.KILL_CONFIRM}")
    hud.duo.wait_for_element(f'#{ID.KILL_LIFECYCLE} [data-state="completed"]', timeout=30)
    wait_until(lambda: count(hud, ".modal") == 0, what="the kill dialog gone")

    # The kill list says so, and offers Release for it.
    hud.duo.wait_for_element(f"#{ID.RELEASE}", timeout=15)
    wait_until(lambda: hud.duo.find_element(f"#{ID.RELEASE}").is_displayed(), what="Release offered")
    hud.duo.find_element(f"#{ID.KILL_AGENT}").click()
    hud.duo.wait_for_contains_text(".dash-dropdown-content", "jarvis-7 (killed)", timeout=10)
    hud.duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)

    # A task for it: warned first, in place; a second press sends, and the server refuses a steer.
    pick(hud, f"#{ID.INJECT_AGENTS}", "jarvis-7", multi=True)
    hud.duo.find_element(f"#{ID.INJECT_INPUT}").send_keys("try again")
    click(hud, f"#{ID.INJECT_SEND}")
    hud.duo.wait_for_contains_text(f"#{ID.INJECT_STATUS}", "jarvis-7 is killed", timeout=10)
    assert hud.ctx.repo.commands_list(agent_id="jarvis-7", kind="inject") == []
    click(hud, f"#{ID.INJECT_SEND}")
    hud.duo.wait_for_contains_text(f"#{ID.INJECT_STATUS}", "Refused: jarvis-7", timeout=10)

    # What each mode does is said beside the picker.
    assert "next step" in hud.duo.find_element(f"#{ID.INJECT_MODE_HELP}").text
    hud.duo.find_element(f"#{ID.INJECT_MODE}").click()
    option = hud.duo.wait_for_element('.dash-dropdown-content input[value="queue"]', timeout=5)
    hud.duo.driver.execute_script("arguments[0].closest('label').click()", option)
    hud.duo.wait_for_contains_text(f"#{ID.INJECT_MODE_HELP}", "next run", timeout=10)

    click(hud, f"#{ID.RELEASE}")
    hud.duo.wait_for_contains_text(f"#{ID.RELEASE_RESULT}", "Released jarvis-7", timeout=10)
    wait_until(lambda: status_of(hud, "jarvis-7") not in ("killed", "killing"), what="jarvis-7 released")
    wait_until(lambda: not hud.duo.find_element(f"#{ID.RELEASE}").is_displayed(), what="Release withdrawn")
    assert hud.duo.get_logs() == []


def count(hud, selector: str) -> int:
    """Elements matching now (no implicit wait for ones that should not exist)."""
    return hud.duo.driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def _forge(hud, cookies: dict, payload: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{hud.url}/_dash-update-component",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_viewer_sees_no_controls_and_a_forged_control_callback_is_refused(hud, token, make_client):
    client = make_client(token)
    client.agent("atlas-01", name="Atlas").heartbeat("running", current_task="work")
    assert client.flush(timeout=10)

    hud.login("vera")
    hud.visit("/command")
    hud.duo.wait_for_element(f"#{ID.READ_ONLY}", timeout=10)
    hud.duo.wait_for_element(f"#{ID.HISTORY}", timeout=10)
    driver = hud.duo.driver
    for selector in (
        f"#{ID.INJECT_INPUT}",
        f"#{ID.KILL_OPEN}",
        ".btn-kill",
        f"#{ID.MODEL_APPLY}",
        f"#{ID.AUDIT_TABLE}",
    ):
        assert count(hud, selector) == 0, selector
    hud.visit("/")
    hud.duo.wait_for_element('[data-agent="atlas-01"]', timeout=15)
    click(hud, '[data-agent="atlas-01"]')
    hud.duo.wait_for_contains_text(f"#{WATCHTOWER.DETAIL}", "atlas-01", timeout=10)
    assert count(hud, f"#{WATCHTOWER.DETAIL} .btn-kill") == 0
    assert hud.duo.get_logs() == []

    # Forge the Jarvis Terminal's callback with the viewer's own session cookie.
    output = next(k for k in hud.app.callback_map if f"{ID.INJECT_STATUS}.children" in k)
    payload = {
        "output": output,
        "outputs": [
            {"id": ID.INJECT_STATUS, "property": "children"},
            {"id": ID.INJECT_INPUT, "property": "value"},
            {"id": ID.INJECT_DRAFT, "property": "data"},
        ],
        "inputs": [
            {"id": ID.INJECT_SEND, "property": "n_clicks", "value": 1},
            {"id": ID.INJECT_INPUT, "property": "n_submit", "value": 0},
        ],
        "state": [
            {"id": ID.INJECT_INPUT, "property": "value", "value": "rm -rf /"},
            {"id": ID.INJECT_AGENTS, "property": "value", "value": ["atlas-01"]},
            {"id": ID.INJECT_MODE, "property": "value", "value": "steer"},
            {"id": ID.INJECT_DRAFT, "property": "data", "value": "forged"},
        ],
        "changedPropIds": [f"{ID.INJECT_SEND}.n_clicks"],
    }
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    status, doc = _forge(hud, cookies, payload)
    assert status == 403 and doc["error"]["code"] == "forbidden"
    assert hud.ctx.repo.commands_list(agent_id="atlas-01") == []
    refused = hud.ctx.repo.audit_entries(actor="vera", outcome="refused")
    assert list(refused["action"]) == ["callback"] and refused["target_id"][0] == output[:128]

    # The drawer's kill callback, forged the same way: refused too.
    kill_output = next(k for k in hud.app.callback_map if WATCHTOWER.DETAIL_KILL_RESULT in k)
    status, _ = _forge(hud, cookies, {"output": kill_output, "inputs": [], "changedPropIds": []})
    assert status == 403
    assert hud.ctx.repo.commands_list(agent_id="atlas-01") == []


def test_an_operator_pauses_and_resumes_an_agent_from_the_command_page(hud, token, make_client):
    client = make_client(token)
    agent = client.agent("jarvis-8", name="Jarvis Eight")
    agent.heartbeat("running", model="gpt-4.1")
    agent.on_command(wait=1.0)  # the client's own pause and resume handling
    assert client.flush(timeout=10)
    hud.login("omar")
    hud.visit("/command")
    pick(hud, f"#{ID.KILL_AGENT}", "jarvis-8")
    wait_until(lambda: hud.duo.find_element(f"#{ID.PAUSE}").is_displayed(), what="Pause offered")
    click(hud, f"#{ID.PAUSE}")
    hud.duo.wait_for_contains_text(f"#{ID.PAUSE_RESULT}", "Paused jarvis-8", timeout=10)
    wait_until(lambda: status_of(hud, "jarvis-8") == "paused", what="jarvis-8 paused")
    wait_until(lambda: agent.paused, what="the client to obey the pause")
    hud.duo.wait_for_text_to_equal(f"#{ID.PAUSE}", "Resume", timeout=15)
    click(hud, f"#{ID.PAUSE}")
    hud.duo.wait_for_contains_text(f"#{ID.PAUSE_RESULT}", "Resumed jarvis-8", timeout=10)
    wait_until(lambda: status_of(hud, "jarvis-8") == "running", what="jarvis-8 resumed")
    wait_until(lambda: not agent.paused, what="the client to obey the resume")
    assert hud.duo.get_logs() == []
