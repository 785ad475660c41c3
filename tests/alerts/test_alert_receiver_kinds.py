"""Receiver kinds end to end, on both backends: a Slack-compatible incoming webhook (a real HTTP server on
127.0.0.1) and e-mail through a real SMTP server (aiosmtpd on 127.0.0.1); the escaping of agent-typed text
in each, and validation of the kind and its address."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from alerting_helpers import add_agents, make_receiver, now_utc, offline_rule, secs

from helicarrier.alerts import engine
from helicarrier.alerts.receivers import SmtpSettings, mail_message, shown_url
from helicarrier.alerts.rules import RuleError
from helicarrier.alerts.validation import validate_receiver


class Mailbox:
    """An SMTP server on 127.0.0.1 keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.arrived = threading.Event()
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                box.messages.append((list(envelope.rcpt_tos), msg))
                box.arrived.set()
                return "250 OK"

        with socket.socket() as s:  # a free port: the controller's own readiness check needs a real one
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.close()


def storm(repo, t0, n, prefix="agent"):
    """``n`` agents gone offline; the cycles and dispatches that announce them (group wait 0)."""
    add_agents(repo, n, seen=t0 - secs(300), prefix=prefix)
    engine.run_cycle(repo, t0)


def test_a_slack_receiver_gets_one_message_per_group_with_agent_text_escaped(ctx, hook):
    repo, t0 = ctx.repo, now_utc()
    offline_rule(repo, name="offline <!channel> & co")
    make_receiver(repo, hook.url, kind="slack", group_wait_s=0)
    storm(repo, t0, 25, prefix="<@U123>")
    report = engine.dispatch(repo, t0, base_url="http://hud.test", allow_local=True)
    assert (report.sent, report.failed) == (1, 0)
    (msg,) = hook.posts
    assert set(msg) == {"text", "blocks"}
    assert msg["text"] == "[FIRING:25] alertname=offline &lt;!channel&gt; &amp; co"
    header, *alerts, footer = msg["blocks"]
    assert header == {"type": "section", "text": {"type": "mrkdwn", "text": f"*{msg['text']}*"}}
    assert len(alerts) == 20  # the first 20 listed, the other 5 counted
    first = alerts[0]["text"]["text"]
    assert re.fullmatch(
        r"firing warning offline &lt;!channel&gt; &amp; co: agent=&lt;@U123&gt;-0\d\d value 1 "
        r"<http://hud\.test/alerts\?alert=\d+\|open>",
        first,
    ), first
    assert footer == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "and 5 more. <http://hud.test/alerts|Alerts page>"}],
    }


def test_an_email_receiver_mails_every_recipient_with_a_plain_one_line_subject(ctx, mailbox):
    repo, t0 = ctx.repo, now_utc()
    offline_rule(repo, name="agent offline\r\nBcc: thief@evil.test")
    make_receiver(repo, "mailto:ops@example.org, oncall@example.org", kind="email", group_wait_s=0)
    storm(repo, t0, 3)
    smtp = SmtpSettings("127.0.0.1", mailbox.port, from_addr="hud@example.org", starttls=False)
    report = engine.dispatch(repo, t0, base_url="http://hud.test", allow_local=False, smtp=smtp)
    assert (report.sent, report.failed) == (1, 0)
    assert mailbox.arrived.wait(5)
    ((rcpts, msg),) = mailbox.messages
    assert rcpts == ["ops@example.org", "oncall@example.org"]  # no Bcc smuggled in by the rule's name
    assert msg["Bcc"] is None and "thief" not in msg["To"]
    assert msg["Subject"] == "[Helicarrier] [FIRING:3] alertname=agent offline Bcc: thief@evil.test"
    assert (msg["From"], msg.get_content_type()) == ("hud@example.org", "text/plain")
    body = msg.get_content()
    assert body.count("- firing ") == 3 and "agent=agent-002" in body
    assert "Alerts page: http://hud.test/alerts" in body


def test_an_email_without_an_smtp_server_is_a_failed_attempt_saying_why(ctx):
    repo, t0 = ctx.repo, now_utc()
    offline_rule(repo)
    make_receiver(repo, "mailto:ops@example.org", kind="email", group_wait_s=0)
    storm(repo, t0, 1)
    report = engine.dispatch(repo, t0)
    assert (report.sent, report.failed) == (0, 1)
    (d,) = repo.list_deliveries()
    assert d["error"] == "e-mail is not configured: set HELICARRIER_SMTP_HOST"


def test_a_subject_never_carries_a_line_break():
    payload = {"group_labels": {"alertname": "x\nBcc: a@b.test\r\nX-Evil: 1\x00"}, "firing": 1, "alerts": []}
    msg = mail_message(payload, ["ops@example.org"], "hud@example.org")
    headers = msg.as_string().split("\n\n", 1)[0]  # the body may say anything; headers end at a blank line
    assert "\nBcc:" not in headers and "\nX-Evil:" not in headers
    assert msg["Subject"] == "[Helicarrier] [FIRING:1] alertname=x Bcc: a@b.test X-Evil: 1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "sms", "url": "http://x.test/h"}, "kind"),
        ({"kind": "slack", "url": "mailto:a@b.test"}, "url"),
        ({"kind": "email", "url": "http://x.test/h"}, "url"),
        ({"kind": "email", "url": "mailto:"}, "url"),
        ({"kind": "email", "url": "mailto:ops@example.org\r\nBcc: thief@evil.test"}, "url"),
        ({"kind": "email", "url": "mailto:Ops <ops@example.org>"}, "url"),
    ],
)
def test_bad_kinds_and_addresses_name_the_field(body, field):
    with pytest.raises(RuleError) as err:
        validate_receiver({"name": "r", **body})
    assert err.value.field == field


def test_receiver_kinds_through_the_api(app, make_token):
    client = app.server.test_client()
    auth = {"Authorization": f"Bearer {make_token('admin-bot', 'admin')}"}
    made = client.post(
        "/api/v1/alert-receivers",
        json={"name": "mail", "kind": "email", "url": "mailto:a@example.org,b@example.org"},
        headers=auth,
    )
    assert made.status_code == 201
    rcv = made.get_json()["receiver"]
    assert (rcv["kind"], rcv["url"]) == ("email", "mailto:a@example.org,b@example.org")
    bad = client.post(
        "/api/v1/alert-receivers", json={"name": "x", "kind": "pager", "url": "http://x.test"}, headers=auth
    )
    assert (bad.status_code, bad.get_json()["error"]["details"]) == (422, {"field": "kind"})
    old = client.post("/api/v1/alert-receivers", json={"name": "w", "url": "http://x.test/h"}, headers=auth)
    assert old.get_json()["receiver"]["kind"] == "webhook"  # unchanged for clients that know no kinds


def test_a_test_message_is_sent_now_marked_as_a_test_and_audited(app, make_token, hook):
    client = app.server.test_client()
    repo = app.server.config["HELICARRIER"].repo
    auth = {"Authorization": f"Bearer {make_token('admin-bot', 'admin')}"}
    slack = make_receiver(repo, hook.url, kind="slack", name="chat")
    dead = make_receiver(repo, "http://127.0.0.1:9/hook", name="dead", enabled=False)

    ok = client.post(f"/api/v1/alert-receivers/{slack['id']}/test", headers=auth)
    assert (ok.status_code, ok.get_json()) == (200, {"receiver_id": slack["id"], "ok": True, "error": None})
    (msg,) = hook.posts
    assert msg["text"] == "[TEST] alertname=Helicarrier test message"
    assert "A test message from the Alerts page" in msg["blocks"][1]["text"]["text"]

    failed = client.post(f"/api/v1/alert-receivers/{dead['id']}/test", headers=auth).get_json()
    assert failed["ok"] is False and failed["error"].startswith("URLError: [Errno 111]")
    assert client.post("/api/v1/alert-receivers/999/test", headers=auth).status_code == 404
    audit = repo.audit_entries(action="alert_receiver.test")
    assert sorted(zip(audit["target_id"], audit["outcome"], strict=True)) == sorted(
        [(str(slack["id"]), "ok"), (str(dead["id"]), "error")]
    )
    assert repo.list_deliveries() == []  # a test is no notification: grouping memory untouched
    assert repo.get_receiver(dead["id"])["consecutive_failures"] == 0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com/…"),
        ("http://user:pw@10.0.0.1:9000/hook?token=abc", "http://10.0.0.1:9000/…"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/?k=v", "https://example.org/…"),
        ("http://[::1]:8080/hook", "http://[::1]:8080/…"),
        ("http://example.org:99999/x", "http://example.org/…"),  # a port that does not parse: left out
        ("mailto:a@example.org,b@example.org", "mailto:a@example.org,b@example.org"),
        ("not a url", "…"),
    ],
)
def test_the_hud_shows_where_a_receiver_goes_not_its_credential(url, shown):
    assert shown_url(url) == shown
