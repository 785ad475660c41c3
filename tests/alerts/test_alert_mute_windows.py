"""Mute windows, on both backends, with a fixed ``now`` and a real webhook on 127.0.0.1: during a window
the receiver is sent nothing (other receivers are), and what fell due goes out when it ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alerting_helpers import add_agents, make_receiver, offline_rule, secs

from helicarrier.alerts import engine
from helicarrier.alerts.mutes import muted
from helicarrier.alerts.rules import RuleError
from helicarrier.alerts.validation import validate_receiver

NIGHTS = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "22:00",
    "end": "07:00",
    "tz": "Europe/Berlin",
}
WEEKENDS = {"days": ["sat", "sun"], "start": "00:00", "end": "24:00", "tz": "Europe/Berlin"}
MONDAY_2230_BERLIN = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)  # CET is UTC+1 in December


def test_a_muted_receiver_gets_what_fell_due_when_the_window_ends(ctx, hook, hook2):
    repo, t0 = ctx.repo, MONDAY_2230_BERLIN
    offline_rule(repo)
    make_receiver(repo, hook.url, group_wait_s=0, mute_windows=[NIGHTS, WEEKENDS])
    make_receiver(repo, hook2.url, group_wait_s=0)  # no windows: the storm reaches it at once
    add_agents(repo, 3, seen=t0 - secs(300))
    for at in (t0, t0 + secs(3600), t0 + secs(8 * 3600 + 1799)):  # to 06:59:59 on Tuesday, Berlin
        engine.run_cycle(repo, at)
        engine.dispatch(repo, at, allow_local=True)
    assert hook.posts == [] and [p["reason"] for p in hook2.posts] == ["new", "repeat"]  # 4 h repeat

    end = t0 + secs(8 * 3600 + 1800)  # 07:00 on Tuesday, Berlin: the window is over
    engine.run_cycle(repo, end)
    engine.dispatch(repo, end, allow_local=True)
    (note,) = hook.posts
    assert (note["status"], note["firing"], note["reason"]) == ("firing", 3, "new")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 12, 7, 21, 30, tzinfo=UTC), True),  # Mon 22:30 Berlin: a weeknight
        (datetime(2026, 12, 8, 5, 59, tzinfo=UTC), True),  # Tue 06:59: the night that began Monday
        (datetime(2026, 12, 8, 6, 0, tzinfo=UTC), False),  # Tue 07:00: over
        (datetime(2026, 12, 8, 12, 0, tzinfo=UTC), False),  # Tue noon
        (datetime(2026, 12, 11, 20, 0, tzinfo=UTC), False),  # Fri 21:00 Berlin: before the night
        (datetime(2026, 12, 11, 23, 30, tzinfo=UTC), True),  # Sat 00:30 Berlin: weekend (and Fri night)
        (datetime(2026, 12, 13, 22, 59, tzinfo=UTC), True),  # Sun 23:59 Berlin
        (datetime(2026, 12, 13, 23, 0, tzinfo=UTC), False),  # Mon 00:00: no night starts on a Sunday
        (datetime(2026, 12, 14, 21, 0, tzinfo=UTC), True),  # Mon 22:00 Berlin
        (datetime(2026, 7, 6, 20, 30, tzinfo=UTC), True),  # Mon 22:30 in July: CEST, UTC+2
        (datetime(2026, 7, 6, 19, 0, tzinfo=UTC), False),  # Mon 21:00 CEST: before the night
    ],
)
def test_windows_follow_the_zone_and_run_past_midnight(at, expected):
    assert muted([NIGHTS, WEEKENDS], at) is expected


@pytest.mark.parametrize(
    "windows",
    [
        "nights",
        [{**NIGHTS, "tz": "Mars/Olympus"}],
        [{**NIGHTS, "start": "7:00"}],
        [{**NIGHTS, "end": "24:30"}],
        [{**NIGHTS, "days": ["monday"]}],
        [{**NIGHTS, "days": []}],
        [{**NIGHTS, "end": "22:00"}],
        [{**NIGHTS, "every": "night"}],
    ],
)
def test_bad_windows_name_the_field(windows):
    with pytest.raises(RuleError) as err:
        validate_receiver({"name": "r", "url": "http://x.test/h", "mute_windows": windows})
    assert err.value.field == "mute_windows"
