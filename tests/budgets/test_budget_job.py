"""The budget evaluation is a leader job on the scheduler, at HELICARRIER_BUDGET_EVAL_S."""

from __future__ import annotations

from dataclasses import replace

from helicarrier.actors import Actor
from helicarrier.context import build_context
from helicarrier.scheduler.runner import Scheduler


def test_the_scheduler_evaluates_budgets_every_budget_eval_s(settings):
    ctx = build_context(replace(settings, budget_eval_s=20))
    try:
        job = next(j for j in Scheduler(ctx).jobs if j.name == "evaluate-budgets")
        assert job.seconds == 20
        created = ctx.budgets.create(
            Actor("ada", "user", "admin"), {"name": "b", "scope": "fleet", "limit_usd": "5"}
        )
        job.run(ctx)
        after = ctx.budgets.status(created["id"])
        assert after["evaluated_at"] > created["evaluated_at"] and after["state"] == "ok"
    finally:
        ctx.repo.dispose()
