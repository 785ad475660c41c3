"""Once retention has pruned raw usage, every place that shows usage says which part of it comes from the
rollups alone: the usage API (``raw_usage_pruned_before``), the Intelligence notes and a session's usage
panel. Nothing is said while nothing was pruned, nor for ranges after the cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helicarrier.callbacks import intelligence as intel_cb
from helicarrier.callbacks import ledger as ledger_cb
from helicarrier.retention.service import prune
from tests.retention.test_retention import USAGE
from tests.web.test_intelligence_layouts import text_of


def _seed(sender, now: datetime) -> None:
    """Ten usage events of session 'old' 100 days ago, three of session 'new' in the last hours."""
    old_day = (now - timedelta(days=100)).replace(hour=0, minute=0, second=0, microsecond=0)
    events = [
        sender.event("usage", old_day + timedelta(hours=i, minutes=5), "a1", "old", USAGE) for i in range(10)
    ]
    recent = [now - timedelta(hours=i + 1) for i in range(3)]
    events += [sender.event("usage", ts, "a1", "new", USAGE) for ts in recent]
    sender.send(events)


def _usage(client, headers, days: int) -> dict:
    today = datetime.now(UTC).date()
    r = client.get(f"/api/v1/usage?from={today - timedelta(days=days)}&to={today}", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_the_api_says_from_when_raw_usage_is_kept(ctx, sender, client, read_headers):
    now = datetime.now(UTC)
    _seed(sender, now)
    prune(ctx.repo, {"usage": 30}, now - timedelta(days=200))  # a prune that finds nothing to delete
    assert _usage(client, read_headers, 120)["raw_usage_pruned_before"] is None

    prune(ctx.repo, {"usage": 30}, now)

    body = _usage(client, read_headers, 120)
    assert datetime.fromisoformat(body["raw_usage_pruned_before"]) == now - timedelta(days=30)
    assert body["totals"]["events"] == 13  # the pruned day still counts, from the rollups


def test_the_intelligence_notes_say_which_figures_come_from_rollups_only(ctx, sender):
    now = datetime.now(UTC)
    _seed(sender, now)
    today = now.date()
    long_ago, recent = (today - timedelta(days=110)).isoformat(), (today - timedelta(days=3)).isoformat()
    assert (
        "rollups only"
        not in intel_cb.charts(
            ctx, long_ago, today.isoformat(), "Asia/Kolkata", "model", "day", "input_tokens"
        )[1]
    )

    prune(ctx.repo, {"usage": 30}, now)

    _cards, totals_note = intel_cb.totals(ctx, long_ago, today.isoformat(), "Asia/Kolkata")
    cost_note = intel_cb.charts(
        ctx, long_ago, today.isoformat(), "Asia/Kolkata", "model", "day", "input_tokens"
    )[1]
    for note in (totals_note, cost_note):
        assert "from rollups only (raw events pruned)" in note, note
    # A range that starts after the oldest raw event kept says nothing.
    assert "rollups" not in intel_cb.totals(ctx, recent, today.isoformat(), "Asia/Kolkata")[1]


def test_a_session_whose_usage_was_pruned_says_so(ctx, sender):
    now = datetime.now(UTC)
    _seed(sender, now)
    assert "pruned" not in text_of(ledger_cb.detail(ctx, "old"))

    prune(ctx.repo, {"usage": 30}, now)

    old, new = text_of(ledger_cb.detail(ctx, "old")), text_of(ledger_cb.detail(ctx, "new"))
    assert "were pruned by retention; the totals above still count them" in old
    assert "No usage events." in old
    assert "pruned" not in new
