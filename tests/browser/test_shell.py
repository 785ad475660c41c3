"""The HUD shell loads in a real headless Chromium, with no console errors."""

from __future__ import annotations

import pytest

from helicarrier.webapp import create_app

pytestmark = pytest.mark.browser


def test_shell_loads(dash_duo, settings):
    app = create_app(settings)
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal(".hud-brand", "HELICARRIER", timeout=10)
    dash_duo.wait_for_text_to_equal("#watchtower-summary", "No agents have reported yet.", timeout=10)
    # The KPI strip filled from the database: zero agents online, no spend.
    dash_duo.wait_for_text_to_equal("#shell-kpi-agents_online", "0", timeout=10)
    assert dash_duo.get_logs() == []
