"""The Command page offers Release for a killed agent only, from the kill list's options: an agent cannot
name itself into looking killed."""

from __future__ import annotations

from helicarrier.callbacks.command import KILLED_TITLE, release_shown

HIDDEN = {"display": "none"}


def test_release_is_offered_for_the_killed_agent_picked():
    options = [
        {"label": "Atlas · atlas-01 (killed)", "value": "atlas-01", "title": KILLED_TITLE},
        {"label": "vega-03", "value": "vega-03"},
    ]
    assert release_shown(None, "atlas-01", options) is None
    assert release_shown(None, "vega-03", options) == HIDDEN
    assert release_shown(None, None, options) == HIDDEN


def test_a_name_that_says_killed_is_not_a_kill():
    options = [{"label": "evil (killed) · evil-1 (killed)", "value": "evil-1"}]
    assert release_shown(None, "evil-1", options) == HIDDEN
