"""Retention: each kind loses its rows past its days, in bounded batches, while the analytics of a range
whose raw rows are gone stay exact (from the rollups), and the Operations figures say what each kind holds
and when it was last pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from helicarrier.data.models import AuditEntry, LogEvent, UsageEvent, UsageRollup
from helicarrier.retention.service import effective_days, prune, status

USAGE = {"provider": "openai", "model": "gpt-4o", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
DAYS = {"usage": 30, "logs": 7, "audit": 60, "alerts": 30, "rollups": 365}


def _count(repo, model) -> int:
    with repo.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def _seed(ctx, sender, now: datetime) -> tuple[datetime, datetime]:
    old_day = (now - timedelta(days=100)).replace(hour=0, minute=0, second=0, microsecond=0)
    events = []
    for i in range(10):  # 10 old usage events and log lines, spread over one old day's hours
        ts = old_day + timedelta(hours=i, minutes=5)
        events.append(sender.event("usage", ts, "a1", "old", USAGE))
        events.append(sender.event("log", ts, "a1", "old", {"message": f"old {i}"}))
    for i in range(3):
        ts = now - timedelta(hours=i + 1)
        events.append(sender.event("usage", ts, "a1", "new", USAGE))
        events.append(sender.event("log", ts, "a1", "new", {"message": f"new {i}"}))
    sender.send(events)
    ctx.repo.record_audit(actor="t", actor_kind="user", role="admin", action="old.thing", outcome="ok")
    ctx.repo.record_audit(actor="t", actor_kind="user", role="admin", action="new.thing", outcome="ok")
    with ctx.repo.engine.begin() as conn:
        conn.execute(
            update(AuditEntry).where(AuditEntry.action == "old.thing").values(ts=now - timedelta(days=90))
        )
    return old_day, old_day + timedelta(days=1)


def test_prune_keeps_recent_rows_and_old_analytics_exact(ctx, sender):
    repo, now = ctx.repo, datetime.now(UTC)
    start, end = _seed(ctx, sender, now)
    before = repo.usage_totals(start, end)
    assert before["input_tokens"] == 10 * 1000

    deleted = prune(repo, DAYS, now, batch=3)

    assert deleted["usage"] == 10 and deleted["logs"] == 10 and deleted["audit"] == 1
    assert _count(repo, UsageEvent) == 3 and _count(repo, LogEvent) == 3
    with repo.engine.connect() as conn:
        assert conn.execute(select(AuditEntry.action)).scalars().all() == ["new.thing"]
    # The old day's usage is answered from the rollups: the same figures without a raw row left.
    assert repo.usage_totals(start, end) == before
    assert _count(repo, UsageRollup) > 0
    # A second run finds nothing more to do.
    assert prune(repo, DAYS, now, batch=3) == {k: 0 for k in deleted}


def test_a_run_deletes_a_bounded_number_of_batches(ctx, sender):
    repo, now = ctx.repo, datetime.now(UTC)
    _seed(ctx, sender, now)
    assert prune(repo, DAYS, now, batch=3, max_batches=2)["usage"] == 6  # 2 batches of 3, then the next run
    assert _count(repo, UsageEvent) == 3 + 4
    assert prune(repo, DAYS, now, batch=3, max_batches=2)["usage"] == 4


def test_rollups_are_pruned_past_their_days_never_before_the_raw_rows(ctx, sender):
    repo, now = ctx.repo, datetime.now(UTC)
    start, end = _seed(ctx, sender, now)
    assert effective_days({**DAYS, "rollups": 10})["rollups"] == 30  # not shorter than the raw usage
    assert effective_days({**DAYS, "usage": 0})["rollups"] == 0  # raw kept for ever: rollups too
    by_agent = repo.usage_series_rows(start, end, group_by="agent")  # from its usage_agent_day_rollups row
    assert [(r["group"], r["input_tokens"]) for r in by_agent] == [("a1", 10 * 1000)]
    prune(repo, {**DAYS, "rollups": 50}, now, batch=1000)
    assert repo.usage_totals(start, end)["input_tokens"] == 0  # both gone for the old day
    assert repo.usage_series_rows(start, end, group_by="agent") == []
    assert repo.usage_totals(now - timedelta(days=1), now)["input_tokens"] == 3 * 1000


def test_status_says_what_each_kind_holds_and_when_it_was_last_pruned(ctx, sender):
    repo, now = ctx.repo, datetime.now(UTC)
    _seed(ctx, sender, now)
    first = {s.kind: s for s in status(repo, DAYS)}
    assert first["usage"].rows == 13 and first["usage"].last_pruned is None and first["usage"].keep_days == 30
    prune(repo, DAYS, now)
    after = {s.kind: s for s in status(repo, DAYS)}
    assert after["usage"].rows == 3 and after["usage"].last_deleted == 10
    assert after["logs"].last_pruned is not None and after["logs"].oldest > now - timedelta(days=7)


def test_the_operations_page_shows_each_kind_and_its_last_prune(settings, sender, ctx):
    from helicarrier.layouts.operations import ID
    from helicarrier.webapp import create_app
    from tests.web.test_operations import PASSWORD, signed_in

    app = create_app(settings)
    app.server.config["HELICARRIER"].repo.create_user("omar", PASSWORD, "operator")
    client = signed_in(app, "omar")
    request = {
        "output": f"{ID.RETENTION}.children",
        "outputs": {"id": ID.RETENTION, "property": "children"},
        "inputs": [{"id": ID.INTERVAL, "property": "n_intervals", "value": 1}],
        "changedPropIds": [f"{ID.INTERVAL}.n_intervals"],
    }

    def row(kind: str) -> list[str]:
        resp = client.post("/_dash-update-component", json=request)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        table = resp.get_json()["response"][ID.RETENTION]["children"]["props"]["children"][0]
        for tr in table["props"]["children"][1:]:
            if tr["props"]["id"] == f"{ID.RETENTION}-{kind}":
                return [td["props"]["children"] for td in tr["props"]["children"]]
        raise AssertionError(f"no row for {kind}")

    now = datetime.now(UTC)
    _seed(ctx, sender, now)
    assert row("usage") == ["Raw usage events", "90 days", "13", row("usage")[3], "never"]
    prune(ctx.repo, settings.retention_days, now)
    usage = row("usage")
    assert usage[2] == "3" and usage[4].endswith("(10 deleted)"), usage
    assert row("rollups")[1] == "1825 days"


def test_resolved_alerts_age_out_with_their_history_open_ones_stay(ctx):
    from sqlalchemy import insert

    from helicarrier.actors import Actor
    from helicarrier.alerts.rules import validate_rule
    from helicarrier.data.models import Alert, AlertEvent

    repo, now = ctx.repo, datetime.now(UTC)
    rule = repo.create_alert_rule(
        validate_rule({"name": "offline", "metric": "agents_offline", "group_by": "agent", "threshold": "0"}),
        Actor("ada", "user", "admin"),
    )
    long_ago = now - timedelta(days=200)
    rows = {
        "old-resolved": ("resolved", long_ago),
        "new-resolved": ("resolved", now),
        "old-firing": ("firing", None),
    }
    with repo.engine.begin() as conn:
        for fingerprint, (state, resolved_at) in rows.items():
            alert_id = conn.execute(
                insert(Alert)
                .values(rule_id=rule["id"], fingerprint=fingerprint, state=state, resolved_at=resolved_at,
                        active_since=long_ago, eval_count=1, episode=1)
                .returning(Alert.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                insert(AlertEvent).values(
                    alert_id=alert_id, rule_id=rule["id"], ts=long_ago, from_state="inactive",
                    to_state="firing", event="breach", episode=1,
                )
            )  # fmt: skip
    assert prune(repo, DAYS, now)["alerts"] == 1
    with repo.engine.connect() as conn:
        assert sorted(conn.execute(select(Alert.fingerprint)).scalars()) == ["new-resolved", "old-firing"]
        assert _count(repo, AlertEvent) == 2  # the pruned alert's history went with it


def _resend(ctx, event: dict) -> dict:
    """The ingest answer for one event sent again, as a retrying client sends it."""
    import orjson

    from helicarrier.auth.binding import Speaker

    body = orjson.dumps({"version": "v2", "source": {"name": "tests"}, "events": [event]})
    status, text = ctx.ingest.ingest(Speaker.internal("tests"), body, None, "/api/v1/ingest")
    assert status == 200, text
    return orjson.loads(text)


def test_event_ids_are_forgotten_past_their_days_and_never_before_the_events(ctx, sender):
    from helicarrier.data.models import IngestEventId
    from helicarrier.data.rollups import day_of

    repo, now = ctx.repo, datetime.now(UTC)
    hour_ago = now - timedelta(hours=1)
    old = [sender.event("log", hour_ago, "a1", None, {"message": f"old {i}"}) for i in range(4)]
    new = [sender.event("log", hour_ago, "a1", None, {"message": f"new {i}"}) for i in range(2)]
    sender.send(old + new)
    with repo.engine.begin() as conn:
        assert set(conn.execute(select(IngestEventId.seen_day)).scalars()) == {day_of(now)}
        # The first four were first seen 100 days ago (their log lines are recent: sent late).
        ids = [e["id"] for e in old]
        conn.execute(
            update(IngestEventId).where(IngestEventId.event_id.in_(ids)).values(seen_day=day_of(now) - 100)
        )
    days = {**DAYS, "event_ids": 60}
    assert effective_days(days)["event_ids"] == 60
    assert effective_days({**days, "event_ids": 10})["event_ids"] == 30  # not before the raw usage
    assert effective_days({**days, "logs": 45, "event_ids": 10})["event_ids"] == 45  # nor the logs
    assert effective_days({**days, "logs": 0})["event_ids"] == 0  # logs kept for ever: their ids too
    assert status(repo, days)[-1].oldest == datetime.fromtimestamp((day_of(now) - 100) * 86400, UTC)

    assert prune(repo, days, now, batch=3)["event_ids"] == 4  # two batches, the second one short
    with repo.engine.connect() as conn:
        assert sorted(conn.execute(select(IngestEventId.event_id)).scalars()) == [e["id"] for e in new]
    # A remembered id is still a duplicate; a forgotten one is an event again (the window, documented).
    assert _resend(ctx, new[0])["duplicates"] == 1
    assert _resend(ctx, old[0])["accepted"] == 1
    assert prune(repo, days, now)["event_ids"] == 0
