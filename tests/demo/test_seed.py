"""The seeded demo history goes through the ingest service and is reproducible, on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import func, select

from helicarrier.context import build_context
from helicarrier.data.models import Agent, LogEvent, Session, UsageEvent
from helicarrier.demo.commands import seed_demo as seed_demo_command
from helicarrier.demo.scenario import FLEET, MODELS
from helicarrier.demo.seed import seed_demo

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def totals(ctx) -> dict:
    with ctx.repo.engine.connect() as conn:
        sessions = conn.execute(
            select(
                func.count(),
                func.sum(Session.input_tokens),
                func.sum(Session.output_tokens),
                func.sum(Session.cost_nanos),
            )
        ).one()
        usage_ids = conn.execute(select(UsageEvent.event_id).order_by(UsageEvent.event_id)).scalars().all()
        statuses = dict(conn.execute(select(Session.status, func.count()).group_by(Session.status)).all())
        logs = conn.execute(select(func.count()).select_from(LogEvent)).scalar_one()
        agents = conn.execute(select(func.count()).select_from(Agent)).scalar_one()
    return {
        "sessions": tuple(sessions),
        "usage_ids": usage_ids,
        "statuses": statuses,
        "logs": logs,
        "agents": agents,
    }


def test_seed_stores_a_fleet_history(ctx):
    counts = seed_demo(ctx.ingest, days=3, seed=7, now=NOW)
    assert counts["rejected"] == 0 and counts["accepted"] == counts["events"]
    got = totals(ctx)
    assert got["agents"] == len(FLEET) == counts["agents"]
    assert got["sessions"][0] == counts["sessions"] > 200
    assert len(got["usage_ids"]) == counts["usage"] and got["logs"] == counts["logs"]
    assert got["sessions"][3] > 0  # priced
    assert {"succeeded", "failed"} <= set(got["statuses"])
    with ctx.repo.engine.connect() as conn:
        running = conn.execute(select(func.count()).where(Session.status == "running")).scalar_one()
        latest = conn.execute(select(func.max(Session.ended_at))).scalar_one()
        providers = set(conn.execute(select(UsageEvent.provider).distinct()).scalars())
    assert running == 0 and latest <= NOW
    assert providers == {"openai", "anthropic", "gcp.gemini", "mistral_ai"}


def test_same_seed_same_history_and_reseeding_adds_nothing(ctx, settings, empty_db_url):
    seed_demo(ctx.ingest, days=2, seed=11, now=NOW)
    other = build_context(replace(settings, database_url=empty_db_url))
    try:
        seed_demo(other.ingest, days=2, seed=11, now=NOW)
        assert totals(other) == totals(ctx)
    finally:
        other.repo.dispose()
    before = totals(ctx)
    again = seed_demo(ctx.ingest, days=2, seed=11, now=NOW)
    assert again["accepted"] == 0 and again["duplicates"] == again["events"]
    assert totals(ctx) == before


def test_models_succeed_at_different_rates(ctx):
    seed_demo(ctx.ingest, days=3, seed=7, now=NOW)
    with ctx.repo.engine.connect() as conn:
        rows = conn.execute(
            select(Session.model, Session.status, func.count()).group_by(Session.model, Session.status)
        ).all()
    per_model: dict[str, list[int]] = {}
    for model, status, n in rows:
        ok_total = per_model.setdefault(model, [0, 0])
        ok_total[0] += n if status == "succeeded" else 0
        ok_total[1] += n
    assert set(per_model) == {m.model for m in MODELS}
    rates = {m: ok / total for m, (ok, total) in per_model.items()}
    assert max(rates.values()) - min(rates.values()) > 0.1, rates
    # And by design, per task kind: the matrix has a story, not noise.
    sonnet, mini = (
        next(m for m in MODELS if m.model == name) for name in ("claude-sonnet-4-5", "gpt-4.1-mini")
    )
    assert sonnet.success_rate("coding") - mini.success_rate("coding") > 0.3


def test_seed_demo_command_seeds_once_unless_forced(settings):
    env = {"HELICARRIER_DATABASE_URL": settings.database_url, "HELICARRIER_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    first = runner.invoke(seed_demo_command, ["--days", "1", "--seed", "3"], env=env)
    assert first.exit_code == 0, first.output
    assert "Seeded 12 agents" in first.output
    second = runner.invoke(seed_demo_command, ["--days", "1"], env=env)
    assert second.exit_code == 0 and "already holds 12 agents; not seeding" in second.output


def test_the_budget_guard_kill_is_said_only_of_a_session_that_spent_that_much(ctx):
    from helicarrier.demo.scenario import BUDGET_KILL
    from helicarrier.money import NANOS_PER_USD

    seed_demo(ctx.ingest, days=3, seed=7, now=NOW)
    with ctx.repo.engine.connect() as conn:
        guarded = conn.execute(select(Session.cost_nanos).where(Session.error == BUDGET_KILL)).scalars().all()
    assert guarded and all(cost > 5 * NANOS_PER_USD for cost in guarded)  # the runaway story: over $5.00


def test_the_demo_budget_is_just_above_todays_seeded_spend_and_soft_at_once(ctx):
    from decimal import Decimal

    from helicarrier.demo.budget import demo_budget

    seed_demo(ctx.ingest, days=2, seed=7, now=NOW)
    budget = demo_budget(ctx.budgets, NOW)
    spent, limit = Decimal(budget["spent_usd"]), Decimal(budget["limit_usd"])
    assert budget["scope_value"] == "team=research" and budget["policy"] == "pause"
    assert spent < limit <= max(spent * Decimal("1.05"), spent + Decimal("0.51"))
    assert budget["state"] == "soft"  # over 80% at once: the soft alert fires in make run's first minute
    assert demo_budget(ctx.budgets, NOW)["id"] == budget["id"]  # once
