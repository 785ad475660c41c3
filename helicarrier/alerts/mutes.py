"""Mute windows: times of the week (weekdays and HH:MM-HH:MM in an IANA zone, e.g. nights and weekends)
during which a receiver is sent nothing, beside silences (which mute alerts, not receivers).

Nothing is dropped: a muted receiver is not planned for, so what falls due stays unannounced, and the
first dispatch after the window plans it as usual (Grafana's mute timings behave the same way).
A window whose end is before its start runs past midnight into the next day; ``days`` are the days it
starts on. ``24:00`` ends a window at midnight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helicarrier.alerts.rules import RuleError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 20
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
FIELD = "mute_windows"


def _minutes(value: Any, what: str, i: int) -> int:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise RuleError(FIELD, f"window {i + 1}: {what} must be HH:MM (00:00 to 24:00)")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def validate_windows(value: Any) -> list[dict[str, Any]] | None:
    """``[{"days": ["sat", "sun"], "start": "00:00", "end": "24:00", "tz": "Europe/Berlin"}, ...]`` as
    stored; RuleError("mute_windows") says which window and what is wrong."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > MAX_WINDOWS:
        raise RuleError(FIELD, f"a list of at most {MAX_WINDOWS} windows is needed")
    out = []
    for i, w in enumerate(value):
        if not isinstance(w, dict) or set(w) - {"days", "start", "end", "tz"}:
            raise RuleError(FIELD, f"window {i + 1}: days, start, end and tz are needed, nothing else")
        days = w.get("days")
        if not isinstance(days, list) or not days or not all(d in DAYS for d in days):
            raise RuleError(FIELD, f"window {i + 1}: days are some of {', '.join(DAYS)}")
        start, end = _minutes(w.get("start"), "start", i), _minutes(w.get("end"), "end", i)
        if start == end or start == 24 * 60:
            raise RuleError(FIELD, f"window {i + 1}: start and end must differ (use 00:00 to 24:00)")
        tz = w.get("tz", "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise RuleError(FIELD, f"window {i + 1}: {tz!r} is not an IANA time zone") from None
        out.append({"days": [d for d in DAYS if d in days], "start": w["start"], "end": w["end"], "tz": tz})
    return out


def _in_window(w: Mapping[str, Any], now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(w["tz"]))
    minute = local.hour * 60 + local.minute
    start, end = _minutes(w["start"], "start", 0), _minutes(w["end"], "end", 0)
    today, yesterday = DAYS[local.weekday()], DAYS[(local.weekday() - 1) % 7]
    if start < end:
        return today in w["days"] and start <= minute < end
    return (today in w["days"] and minute >= start) or (yesterday in w["days"] and minute < end)


def muted(windows: Iterable[Mapping[str, Any]] | None, now: datetime) -> bool:
    """Whether ``now`` falls in any of the windows. A stored window that no longer reads (a zone
    removed from the system's database) mutes nothing: better a message too many than none."""
    for w in windows or ():
        try:
            if _in_window(w, now):
                return True
        except (RuleError, ZoneInfoNotFoundError, KeyError, ValueError, TypeError):
            continue
    return False
