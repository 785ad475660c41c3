"""The slo_burn alert metric: a rule on it fires once bad minutes make a workbook condition hold, and is
quiet while the SLO is within budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helicarrier.alerts import engine
from helicarrier.alerts.rules import RuleError, validate_rule
from helicarrier.slo.recorder import minute_of
from tests.alerts.alerting_helpers import make_rule


def _burn(repo, now):
    params = {"slo": "ingest_availability", "target_ppm": 999_000}
    return repo.alert_metric("slo_burn", "fleet", 0, params, now)[0].value


def _firing(repo) -> list[str]:
    return [a["state"] for a in repo.list_alerts()]


def test_a_fast_burn_fires_the_rule_and_a_steady_one_does_not(ctx):
    repo = ctx.repo
    make_rule(
        repo,
        name="ingest burning",
        metric="slo_burn",
        params={"slo": "ingest_availability"},
        comparator=">=",
        threshold="6",
    )
    now = datetime.now(UTC)
    minute = minute_of(now)
    # A day at exactly the budget (1x): the ticket condition holds (value 1), no page: the rule is quiet.
    repo.add_sli_counts({(minute - m, "ingest_availability"): (1000, 1) for m in range(24 * 60)})
    engine.run_cycle(repo, now, slo_targets=ctx.slo.targets)
    assert _firing(repo) == []
    assert _burn(repo, now) == 1
    # Then the last hour goes bad: 20 more errors a minute per thousand: 21x, a fast burn.
    repo.add_sli_counts({(minute - m, "ingest_availability"): (0, 20) for m in range(60)})
    engine.run_cycle(repo, now, slo_targets=ctx.slo.targets)
    assert _firing(repo) == ["firing"]
    assert str(_burn(repo, now)) == "14.4"


def test_a_rule_names_a_known_slo():
    with pytest.raises(RuleError, match="params.slo"):
        validate_rule({"name": "x", "metric": "slo_burn", "params": {"slo": "uptime"}, "threshold": "1"})
    with pytest.raises(RuleError, match="params.slo"):
        validate_rule({"name": "x", "metric": "slo_burn", "threshold": "1"})


def test_the_rule_editors_preview_judges_against_the_configured_slo(ctx):
    minute = minute_of(datetime.now(UTC))
    ctx.repo.add_sli_counts({(minute - m, "ingest_availability"): (1000, 20) for m in range(60)})
    rule = {"name": "p", "metric": "slo_burn", "params": {"slo": "ingest_availability"}, "threshold": "6"}
    preview = ctx.alerts.preview({**rule, "comparator": ">="})
    assert preview["error"] is None and preview["firing"] == 1
