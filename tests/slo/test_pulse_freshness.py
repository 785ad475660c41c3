"""Pulse freshness is measured where the live tail hands new lines to an open Pulse (the real callback, over
HTTP, as the browser polls it): a line handed over more than HELICARRIER_SLO_PULSE_FRESHNESS_S after it
arrived is a bad event of the SLO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helicarrier.callbacks import watchtower
from helicarrier.layouts.watchtower_ids import ID
from helicarrier.slo.budget import Counts
from helicarrier.webapp import create_app
from tests.web.test_operations import PASSWORD, signed_in

OUTPUTS = (f"{ID.LOG}.children", f"{ID.LOG_CURSOR}.data", f"{ID.LOG_WAITING}.children")


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.server.config["HELICARRIER"].repo.create_user("omar", PASSWORD, "operator")
    return app


def _poll(app) -> dict:
    """One poll of the live tail after sequence 0: what an open Pulse asks every second."""
    body = {
        "output": ".." + "...".join(OUTPUTS) + "..",
        "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in OUTPUTS],
        "inputs": [
            {"id": ID.LOG_INTERVAL, "property": "n_intervals", "value": 5},
            {"id": ID.LOG_AGENT_FILTER, "property": "value", "value": None},
            {"id": ID.LOG_LEVEL_FILTER, "property": "value", "value": None},
            {"id": ID.LOG_TEXT_FILTER, "property": "value", "value": None},
        ],
        "state": [
            {"id": ID.LOG_PAUSE, "property": "n_clicks", "value": 0},
            {"id": ID.LOG_CURSOR, "property": "data", "value": {"seq": 0, "n": 0}},
        ],
        "changedPropIds": [f"{ID.LOG_INTERVAL}.n_intervals"],
    }
    resp = signed_in(app, "omar").post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["response"]


def _served_after(app, sender, monkeypatch, after: timedelta) -> Counts:
    now = datetime.now(UTC)
    sender.send(
        [sender.event("log", now, "a1", None, {"level": "info", "message": f"line {i}"}) for i in (1, 2)]
    )
    later = datetime.now(UTC) + after  # the Pulse's clock moved on; the lines arrived when they did
    monkeypatch.setattr(watchtower, "utcnow", lambda: later)
    assert _poll(app)[ID.LOG_CURSOR]["data"]["n"] == 2  # both lines went to the Pulse
    ctx = app.server.config["HELICARRIER"]
    assert ctx.slo.recorder.flush()
    (report,) = [r for r in ctx.slo.report(datetime.now(UTC)) if r.slo.name == "pulse_freshness"]
    return report.counts["1h"]


def test_lines_handed_over_within_the_threshold_are_fresh(app, sender, monkeypatch):
    assert _served_after(app, sender, monkeypatch, timedelta(milliseconds=500)) == Counts(2, 0)


def test_lines_that_waited_longer_are_stale(app, sender, monkeypatch):
    assert _served_after(app, sender, monkeypatch, timedelta(seconds=5)) == Counts(2, 2)  # threshold 2 s
