"""Checking what people send for silences and receivers (rules: ``helicarrier.alerts.rules``).

Each function returns column values or raises ``RuleError`` (field, message), which the API turns into a
422 and the page into a message next to the form.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from helicarrier.alerts.grouping import GROUP_INTERVAL_S, GROUP_WAIT_S, REPEAT_INTERVAL_S
from helicarrier.alerts.matchers import MatcherError, matches_everything, parse_matchers
from helicarrier.alerts.mutes import validate_windows
from helicarrier.alerts.rules import RuleError, bounded_int

MAX_SILENCE = timedelta(days=366)
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def parse_time(value: Any, field_name: str) -> datetime:
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RuleError(field_name, "an ISO 8601 time such as 2026-11-26T14:00:00Z is needed") from None
    else:
        raise RuleError(field_name, "an ISO 8601 time is needed")
    if ts.tzinfo is None:
        raise RuleError(field_name, "the time needs a zone (Z or +hh:mm)")
    return ts


def validate_silence(
    body: Mapping[str, Any], now: datetime, existing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """matchers (required, and not matching every alert), starts_at (default now), ends_at or
    duration_s, comment (required)."""
    unknown = set(body) - {"matchers", "starts_at", "ends_at", "duration_s", "comment"}
    if unknown:
        raise RuleError(sorted(unknown)[0], "unknown field")
    doc = {**(existing or {}), **body}
    try:
        matchers = parse_matchers(doc.get("matchers"), allow_empty=False)
    except MatcherError as exc:
        raise RuleError("matchers", str(exc)) from None
    if matches_everything(matchers):
        raise RuleError("matchers", "these matchers match every alert; name at least one label value")
    starts_at = parse_time(doc["starts_at"], "starts_at") if doc.get("starts_at") else now
    if body.get("duration_s") is not None:
        seconds = bounded_int(body["duration_s"], "duration_s", 1, int(MAX_SILENCE.total_seconds()))
        ends_at = max(starts_at, now) + timedelta(seconds=seconds)
    elif doc.get("ends_at"):
        ends_at = parse_time(doc["ends_at"], "ends_at")
    else:
        raise RuleError("ends_at", "ends_at or duration_s is needed")
    if ends_at <= starts_at:
        raise RuleError("ends_at", "must be after starts_at")
    if ends_at <= now:
        raise RuleError("ends_at", "must be in the future")
    if ends_at - starts_at > MAX_SILENCE:
        raise RuleError("ends_at", "a silence lasts at most a year")
    comment = doc.get("comment")
    if not isinstance(comment, str) or not comment.strip() or len(comment) > 2000:
        raise RuleError("comment", "say why (1 to 2000 characters)")
    return {
        "matchers": [m.to_dict() for m in matchers],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "comment": comment.strip(),
    }


def _seconds(value: Any, field_name: str, default: int, lo: int, hi: int) -> int:
    return default if value is None else bounded_int(value, field_name, lo, hi)


RECEIVER_FIELDS = (
    "name", "kind", "url", "enabled", "matchers", "group_by", "group_wait_s", "group_interval_s",
    "repeat_interval_s", "max_per_hour", "mute_windows",
)  # fmt: skip


def local_address(url: str) -> str | None:
    """The loopback or link-local address ``url``'s host is (or resolves to), if it is one: a webhook there
    reaches this machine's own services (or a cloud metadata endpoint) on an admin's say-so."""
    host = urlparse(url).hostname or ""
    try:
        addresses = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(a[4][0].split("%")[0]) for a in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError, ValueError):
            return None  # unresolvable now: delivery checks again
    for a in sorted(addresses, key=str):
        if a.is_loopback or a.is_link_local or a.is_unspecified:
            return str(a)
    return None


RECEIVER_KINDS = ("webhook", "slack", "email")
MAX_RECIPIENTS = 20
MAX_PER_HOUR = 60  # a receiver's default rate cap (helicarrier.alerts.ratecap)
# A plain address: no spaces, quotes, angle brackets or line breaks (nothing that could add a header).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
)


def mail_recipients(url: Any) -> list[str]:
    """The addresses of an e-mail receiver's ``mailto:a@x.org,b@y.org``; RuleError("url") names a bad one."""
    if not isinstance(url, str) or not url.startswith("mailto:") or len(url) > 2000:
        raise RuleError("url", "mailto:a@example.org,b@example.org is needed for an e-mail receiver")
    addresses = [a.strip() for a in url[len("mailto:") :].split(",") if a.strip()]
    if not addresses or len(addresses) > MAX_RECIPIENTS:
        raise RuleError("url", f"1 to {MAX_RECIPIENTS} addresses after mailto:")
    for a in addresses:
        if not _ADDRESS.match(a) or ".." in a:
            raise RuleError("url", f"{a!r} is not an e-mail address")
    return addresses


def _check_http_url(url: Any, allow_local: bool) -> None:
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 2000:
        raise RuleError("url", "an http:// or https:// URL is needed")
    local = None if allow_local else local_address(url)
    if local:
        raise RuleError("url", f"{parsed.hostname} is a loopback or link-local address ({local}): refused")


def validate_receiver(
    body: Mapping[str, Any], existing: Mapping[str, Any] | None = None, *, allow_local: bool = False
) -> dict[str, Any]:
    unknown = set(body) - set(RECEIVER_FIELDS) - {"id"}
    if unknown:
        raise RuleError(sorted(unknown)[0], "unknown field")
    doc = {**(existing or {}), **body}
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise RuleError("name", "a name of 1 to 100 characters is needed")
    kind = doc.get("kind") or "webhook"
    if kind not in RECEIVER_KINDS:
        raise RuleError("kind", f"one of {', '.join(RECEIVER_KINDS)}")
    url = doc.get("url")
    if kind == "email":
        url = "mailto:" + ",".join(mail_recipients(url))
    else:
        _check_http_url(url, allow_local)
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", "true or false")
    try:
        matchers = parse_matchers(doc.get("matchers"))
    except MatcherError as exc:
        raise RuleError("matchers", str(exc)) from None
    group_by = doc.get("group_by")
    if group_by is not None and (
        not isinstance(group_by, list) or not all(isinstance(x, str) and _LABEL.match(x) for x in group_by)
    ):
        raise RuleError("group_by", "a list of label names is needed")
    return {
        "name": name.strip(),
        "kind": kind,
        "url": url,
        "enabled": enabled,
        "matchers": [m.to_dict() for m in matchers],
        "group_by": group_by,
        "group_wait_s": _seconds(doc.get("group_wait_s"), "group_wait_s", GROUP_WAIT_S, 0, 3600),
        "group_interval_s": _seconds(
            doc.get("group_interval_s"), "group_interval_s", GROUP_INTERVAL_S, 1, 86400
        ),
        "repeat_interval_s": _seconds(
            doc.get("repeat_interval_s"), "repeat_interval_s", REPEAT_INTERVAL_S, 60, 7 * 86400
        ),
        "max_per_hour": _seconds(doc.get("max_per_hour"), "max_per_hour", MAX_PER_HOUR, 0, 100_000),
        "mute_windows": validate_windows(doc.get("mute_windows")),
    }
