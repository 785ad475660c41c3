"""How a notification reaches each kind of receiver: the generic webhook's JSON document as it is, a
Slack-compatible incoming webhook's ``{"text", "blocks"}``, or a plain-text e-mail over SMTP.

The deliveries log stores the generic document; the kind's form is made from it at each attempt, so a
retry after the receiver was changed sends what the receiver now is. Label values, rule names and messages
come from agents and people: in Slack they are escaped for mrkdwn, in e-mail they never reach a header
with a line break in them.
"""

from __future__ import annotations

import smtplib
import ssl
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from helicarrier.alerts.validation import mail_recipients

SLACK_MAX_ALERTS = 20  # Slack allows 50 blocks a message; the rest are counted, not listed
MAIL_MAX_ALERTS = 200
SUBJECT_MAX = 200
SMTP_TIMEOUT_S = 10.0


def shown_url(url: str) -> str:
    """A receiver's address as the HUD shows it to everyone signed in: where it goes, not the credential.
    A Slack or chat webhook's path and a webhook's query are its secret (whoever has it can post to the
    channel), so only the scheme, host and port are shown, with an ellipsis for the rest; user and password
    never. A ``mailto:`` is who gets the mail, shown as it is. The full URL stays with the admin API."""
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address, as it is written in a URL
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that does not parse (stored before validation tightened): say nothing of it
        port = ""
    rest = "…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}/{rest}" if host else "…"


class DeliveryError(Exception):
    """A notification that did not arrive; the message is shown in the deliveries log."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    from_addr: str = "helicarrier@localhost"
    starttls: bool = True

    @classmethod
    def from_settings(cls, settings) -> SmtpSettings:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_from,
            settings.smtp_starttls,
        )


# -- Slack -----------------------------------------------------------------------------------------------


def slack_escape(text: Any) -> str:
    """Slack mrkdwn's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping):
    without this, a label value ``<!channel>`` pings everyone and ``<http://x|y>`` hides a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _labels_text(labels: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def headline(payload: Mapping[str, Any]) -> str:
    """``[FIRING:3] alertname=agent offline (1 resolved)``: the group and its counts, unescaped."""
    group = _labels_text(payload.get("group_labels")) or "all alerts"
    if payload.get("rate_capped"):
        capped = payload["rate_capped"]
        return f"[RATE CAP] {capped['groups']} alert groups ({capped['alerts']} alerts) suppressed"
    if payload.get("test"):
        return f"[TEST] {group}"
    firing, resolved = payload.get("firing", 0), payload.get("resolved", 0)
    state = f"FIRING:{firing}" if firing else f"RESOLVED:{resolved}"
    tail = f" ({resolved} resolved)" if firing and resolved else ""
    return f"[{state}] {group}{tail}"


def _alert_line(a: Mapping[str, Any], group: Mapping[str, Any] | None) -> str:
    """``firing critical agent offline: agent=a-1, provider=x value 95``; the labels the whole group
    shares (and the rule's own) are in the headline already."""
    shared = {*(group or {}), "alertname", "rule_id", "severity"}
    labels = {k: v for k, v in (a.get("labels") or {}).items() if k not in shared}
    value = "" if a.get("value") is None else f" value {a['value']}"
    head = f"{a.get('status', '')} {a.get('severity', '')} {a.get('rule', '')}"
    return f"{head}: {_labels_text(labels)}{value}"


def slack_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The Slack incoming-webhook message for a notification: ``text`` (the fallback, shown in
    notifications) and ``blocks`` (a header line, one line per alert up to SLACK_MAX_ALERTS, a count of the
    rest and a link to the Alerts page)."""
    title = slack_escape(headline(payload))
    alerts = list(payload.get("alerts") or [])
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}]
    if payload.get("message"):
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(payload["message"])}}
        )
    for a in alerts[:SLACK_MAX_ALERTS]:
        line = slack_escape(_alert_line(a, payload.get("group_labels")))
        if a.get("url"):
            line = f"{line} <{a['url']}|open>"
        if a.get("message"):
            line = f"{line}\n{slack_escape(a['message'])}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line}})
    more = len(alerts) - SLACK_MAX_ALERTS + int(payload.get("truncated") or 0)
    footer = f"<{payload['url']}|Alerts page>" if payload.get("url") else ""
    if more > 0:
        footer = f"and {more} more. {footer}".strip()
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return {"text": title, "blocks": blocks}


# -- e-mail ----------------------------------------------------------------------------------------------


def header_safe(text: str, limit: int = SUBJECT_MAX) -> str:
    """One line for a header: every control character (CR and LF among them) becomes a space, so no
    alert text can end the header and start another."""
    flat = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(flat.split())[:limit]


def mail_body(payload: Mapping[str, Any]) -> str:
    alerts = list(payload.get("alerts") or [])
    lines = [headline(payload), ""]
    if payload.get("message"):
        lines += [str(payload["message"]), ""]
    for a in alerts[:MAIL_MAX_ALERTS]:
        lines.append("- " + _alert_line(a, payload.get("group_labels")))
        if a.get("message"):
            lines.append(f"  {a['message']}")
        if a.get("url"):
            lines.append(f"  {a['url']}")
    more = len(alerts) - MAIL_MAX_ALERTS + int(payload.get("truncated") or 0)
    if more > 0:
        lines.append(f"and {more} more.")
    if payload.get("url"):
        lines += ["", f"Alerts page: {payload['url']}"]
    lines += ["", f"Receiver: {payload.get('receiver', '')}"]
    return "\n".join(lines) + "\n"


def mail_message(payload: Mapping[str, Any], recipients: list[str], from_addr: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = header_safe("[Helicarrier] " + headline(payload))
    msg["From"] = header_safe(from_addr, 320)
    msg["To"] = ", ".join(recipients)  # validated addresses only (validation.mail_recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="helicarrier")
    msg.set_content(mail_body(payload))
    return msg


def send_mail(url: str, payload: Mapping[str, Any], smtp: SmtpSettings) -> None:
    if not smtp.host:
        raise DeliveryError("e-mail is not configured: set HELICARRIER_SMTP_HOST")
    recipients = mail_recipients(url)
    msg = mail_message(payload, recipients, smtp.from_addr)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S) as conn:
            if smtp.starttls:
                conn.starttls(context=ssl.create_default_context())
            if smtp.username:
                conn.login(smtp.username, smtp.password)
            refused = conn.send_message(msg, from_addr=smtp.from_addr, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"SMTP refused {', '.join(sorted(refused))}")


# -- a test message -------------------------------------------------------------------------------------


def test_payload(receiver: str, base_url: str, now: datetime) -> dict[str, Any]:
    """The "Send test message" notification: the generic document's shape (so a webhook's parser meets
    what it will meet), marked ``test`` and ``reason: test``, with no alerts in it."""
    return {
        "version": "1",
        "test": True,
        "receiver": receiver,
        "status": "firing",
        "reason": "test",
        "group_key": "test",
        "group_labels": {"alertname": "Helicarrier test message"},
        "url": f"{base_url}/alerts",
        "firing": 0,
        "resolved": 0,
        "truncated": 0,
        "message": f"A test message from the Alerts page, sent {now:%Y-%m-%d %H:%M:%S} UTC: this receiver "
        "works. No alert is firing.",
        "alerts": [],
    }


# -- one delivery ----------------------------------------------------------------------------------------


def deliver(
    kind: str,
    url: str,
    payload: Mapping[str, Any],
    *,
    post: Callable[[str, Mapping[str, Any]], None],
    smtp: SmtpSettings,
) -> None:
    """Send one notification the receiver's way; raises DeliveryError (or what ``post`` raises)."""
    if kind == "slack":
        post(url, slack_payload(payload))
    elif kind == "email":
        send_mail(url, payload, smtp)
    else:
        post(url, payload)
