"""Time zones people name: one parser, so every page, API and report refuses the same names the same way."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Paris)") from None
