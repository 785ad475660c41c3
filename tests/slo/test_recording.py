"""SLI events reach sli_rollups: ingest answers (through the real HTTP hooks), command deliveries, alert
cycles; counted in the process, written a few seconds at a time (not during maintenance), and a failed
write neither fails a request nor loses the counts."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from helicarrier.data.models import Command, SliRollup
from helicarrier.data.repository import Repository
from helicarrier.operations.maintenance import switch
from helicarrier.slo.budget import Counts
from helicarrier.slo.recorder import SliRecorder, minute_of
from helicarrier.slo.service import alert_cycle_events
from tests.control.test_control_api import act, poll


def _heartbeat(agent: str = "atlas-01") -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "version": "v2",
        "source": {"name": "t"},
        "events": [{"id": f"hb-{now}", "type": "agent.heartbeat", "ts": now, "agent_id": agent, "data": {}}],
    }


def _sums(api, sli: str) -> tuple[int, int]:
    rows = api.rows(SliRollup, SliRollup.sli == sli)
    return sum(r.total for r in rows), sum(r.bad for r in rows)


def test_ingest_answers_are_counted_and_a_5xx_is_bad(api):
    for _ in range(3):
        assert api.post(_heartbeat()).status_code == 200
    assert api.rows(SliRollup) == []  # counted in the process: no write per request
    api.ctx.slo.recorder.flush()
    assert _sums(api, "ingest_availability") == (3, 0)
    assert _sums(api, "ingest_latency")[0] == 3

    switch(api.repo, True, "cutover", "test")
    api.ctx.maintenance.cache_s = 0  # read the switch now
    assert api.post(_heartbeat()).status_code == 503
    api.ctx.slo.recorder.flush()
    assert _sums(api, "ingest_availability") == (3, 0)  # nothing written while a cutover copies tables
    switch(api.repo, False, None, "test")
    api.ctx.slo.recorder.flush()
    assert _sums(api, "ingest_availability") == (4, 1)


def test_an_answer_slower_than_the_threshold_is_bad_for_latency(make_api):
    api = make_api(slo_ingest_latency_ms=200)
    now = datetime.now(UTC)
    api.ctx.slo.ingest_answered(200, 0.199, now)
    api.ctx.slo.ingest_answered(200, 0.201, now)
    api.ctx.slo.recorder.flush()
    assert _sums(api, "ingest_latency") == (2, 1)
    assert _sums(api, "ingest_availability") == (2, 0)


def test_counts_are_kept_when_the_database_cannot_take_them(db_url):
    down = Repository.from_url("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")
    recorder = SliRecorder(down.add_sli_counts, every_s=3600)
    at = datetime.now(UTC)
    recorder.record("ingest_availability", False, at)
    recorder.record("ingest_availability", True, at)
    assert recorder.flush() is False  # logged, not raised
    up = Repository.from_url(db_url)
    recorder._write = weakref.WeakMethod(up.add_sli_counts)  # the database is back
    assert recorder.flush() is True
    rows = [(r.sli, r.total, r.bad) for r in _all(up)]
    assert rows == [("ingest_availability", 2, 1)]
    recorder.close()
    up.dispose()
    down.dispose()


def _all(repo):
    with repo.engine.connect() as conn:
        return conn.execute(SliRollup.__table__.select()).all()


def test_command_deliveries_are_counted_and_a_late_one_is_bad(ctl):
    assert act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "one"}).status_code == 201
    assert len(poll(ctl).get_json()["commands"]) == 1
    assert _sums(ctl, "command_delivery") == (1, 0)  # written with the delivery

    assert act(ctl, "/api/v1/agents/atlas-01/tasks", {"task": "two"}, key="two").status_code == 201
    with ctl.repo.engine.begin() as conn:  # issued 11 s ago: past the 10 s SLO
        conn.execute(
            update(Command)
            .where(Command.state == "pending")
            .values(created_at=datetime.now(UTC) - timedelta(seconds=11))
        )
    assert len(poll(ctl).get_json()["commands"]) == 1
    assert _sums(ctl, "command_delivery") == (2, 1)

    # Both handed over again, unanswered 31 s on (at least once): not new deliveries, not counted again.
    with ctl.repo.engine.begin() as conn:
        conn.execute(update(Command).values(delivered_at=datetime.now(UTC) - timedelta(seconds=31)))
    assert len(poll(ctl).get_json()["commands"]) == 2
    assert _sums(ctl, "command_delivery") == (2, 1)


def test_an_alert_cycle_after_a_long_gap_counts_every_missed_cycle_as_late():
    assert alert_cycle_events(None, 15, 60) == Counts(1, 0)  # the first cycle ever
    assert alert_cycle_events(timedelta(seconds=16), 15, 60) == Counts(1, 0)
    assert alert_cycle_events(timedelta(seconds=60), 15, 60) == Counts(1, 0)
    assert alert_cycle_events(timedelta(seconds=61), 15, 60) == Counts(4, 4)
    assert alert_cycle_events(timedelta(minutes=10), 15, 60) == Counts(40, 40)


def test_the_scheduler_job_records_the_alert_lag(ctx):
    from helicarrier.scheduler.runner import _evaluate_alerts

    _evaluate_alerts(ctx)
    _evaluate_alerts(ctx)
    rows = [(r.sli, r.total, r.bad) for r in _all(ctx.repo)]
    assert rows and all(sli == "alert_lag" for sli, _t, _b in rows)
    assert sum(t for _s, t, _b in rows) == 2 and sum(b for _s, _t, b in rows) == 0

    ctx.slo.alert_cycle(datetime.now(UTC) - timedelta(minutes=2), datetime.now(UTC), 15)
    assert sum(r.bad for r in _all(ctx.repo)) == 8
    assert minute_of(datetime(1970, 1, 1, 0, 2, 59, tzinfo=UTC)) == 2


def test_the_retention_job_drops_minutes_past_every_window(ctx):
    from helicarrier.scheduler.runner import _prune_retention

    now = minute_of(datetime.now(UTC))
    ctx.repo.add_sli_counts(
        {(now - 32 * 24 * 60, "ingest_latency"): (5, 1), (now - 30 * 24 * 60, "ingest_latency"): (7, 0)}
    )
    _prune_retention(ctx)
    assert [(r.total, r.bad) for r in _all(ctx.repo)] == [(7, 0)]
