"""The Intelligence page's budgets panel in a real Chromium, on both backends: a locked budget and one at its
soft line, each with its burn, rate and projected exhaustion, as of the last evaluation."""

from __future__ import annotations

from datetime import timedelta

from helicarrier.data.types import utcnow
from helicarrier.layouts.intelligence_ids import ID as INTEL


def _seed(ctx, now) -> None:
    """Agent atlas-01 spent one priced call a minute ago; two budgets around it."""

    ctx.repo.insert_budget(
        {
            "name": "fleet daily",
            "scope": "fleet",
            "scope_value": "",
            "period": "day",
            "limit_nanos": 10**10,
            "soft_percent": 80,
            "policy": "pause",
            "state": "locked",
            "spent_nanos": 12 * 10**9,
            "rate_nanos_per_h": 3 * 10**9,
            "lock_reason": "$12.00 of $10.00 spent this day",
            "locked_at": now,
            "period_start": now - timedelta(hours=5),
            "created_by": "ada",
            "created_at": now,
            "updated_at": now,
            "evaluated_at": now,
        }
    )
    ctx.repo.insert_budget(
        {
            "name": "infra month",
            "scope": "label",
            "scope_value": "team=infra",
            "period": "month",
            "limit_nanos": 100 * 10**9,
            "soft_percent": 80,
            "policy": "finish",
            "state": "soft",
            "spent_nanos": 85 * 10**9,
            "rate_nanos_per_h": 5 * 10**9,
            "projected_at": now + timedelta(hours=3),
            "period_start": now - timedelta(days=3),
            "created_by": "ada",
            "created_at": now,
            "updated_at": now,
            "evaluated_at": now,
        }
    )


def test_the_intelligence_page_shows_each_budgets_burn_rate_and_exhaustion(hud):
    now = utcnow()
    _seed(hud.ctx, now)
    hud.login("vera")
    hud.visit("/intelligence")
    hud.duo.wait_for_contains_text(f"#{INTEL.BUDGETS}", "infra month", timeout=30)
    text = hud.duo.find_element(f"#{INTEL.BUDGETS}").text
    assert text.index("fleet daily") < text.index("infra month")  # locked first
    assert (
        "LOCKED" in text.upper()
        and "120%" in text
        and "$12.00 of $10.00 this day" in text
        and "exhausted" in text
    )
    assert "85%" in text and "$5.00/h" in text and (now + timedelta(hours=3)).strftime("%H:%M") in text
    assert hud.duo.get_logs() == []
