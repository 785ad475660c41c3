"""Two evaluators started at once on one database (two processes, each with its scheduler): only the leader
evaluates; every cycle names the process that ran it."""

from __future__ import annotations

import multiprocessing as mp
import time

from alerting_helpers import add_agents, now_utc, offline_rule, secs
from sqlalchemy import func, select

from helicarrier.data.models import Alert, AlertEvent
from helicarrier.scheduler.runner import Job, Scheduler, _evaluate_alerts, default_jobs


def _evaluator(settings, go, seconds: float) -> None:
    from helicarrier.context import build_context

    ctx = build_context(settings)
    scheduler = Scheduler(ctx, [Job("evaluate-alerts", 1, _evaluate_alerts)])
    go.wait(30)
    scheduler.start()
    time.sleep(seconds)
    scheduler.shutdown()
    ctx.repo.dispose()


def test_alert_jobs_are_scheduled():
    jobs = {j.name: j.seconds for j in default_jobs()}
    assert jobs["evaluate-alerts"] == 15 and jobs["dispatch-alerts"] == 5


def test_the_evaluation_job_ticks_at_the_minimum_rule_interval(ctx):
    # Rules have their own intervals (issue 15): the job runs often enough for the fastest one allowed.
    jobs = {j.name: j.seconds for j in Scheduler(ctx).jobs}
    assert jobs["evaluate-alerts"] == ctx.settings.alert_min_interval_s == 5


def test_two_evaluators_started_at_once_only_one_evaluates(ctx, settings):
    repo, t0 = ctx.repo, now_utc()
    add_agents(repo, 20, seen=t0 - secs(600))
    offline_rule(repo)
    fork = mp.get_context("fork")
    go = fork.Event()
    procs = [fork.Process(target=_evaluator, args=(settings, go, 5.0)) for _ in range(2)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    cycles = repo.eval_cycles(limit=100)
    holders = {c["holder"] for c in cycles}
    assert len(cycles) >= 2 and len(holders) == 1, holders
    (holder,) = holders
    assert holder.split(":")[-1] in {str(p.pid) for p in procs}
    with repo.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Alert)).scalar_one() == 20
        assert (
            conn.execute(select(func.count()).select_from(AlertEvent)).scalar_one() == 20
        )  # each fired once
