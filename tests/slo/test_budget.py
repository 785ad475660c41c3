"""Error budget and burn-rate arithmetic, checked against the Google SRE workbook's worked numbers
("Alerting on SLOs": a 99.9% SLO over 30 days)."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from helicarrier.slo.budget import (
    CONDITIONS,
    Counts,
    budget_left,
    budget_spent,
    burn_rate,
    conditions_holding,
    error_budget,
    sli,
)
from helicarrier.slo.definitions import percent_ppm

NINES3 = 999_000


def test_a_999_slo_allows_one_bad_event_in_a_thousand():
    assert error_budget(NINES3) == Fraction(1, 1000)
    assert percent_ppm("99.9") == NINES3 and percent_ppm("95") == 950_000


@pytest.mark.parametrize("text", ["100", "0", "abc", "99.99999", "-1"])
def test_a_target_that_is_not_a_usable_percentage_is_refused(text):
    with pytest.raises(ValueError):
        percent_ppm(text)


def test_burn_rate_is_the_bad_share_over_the_budget():
    # 1.44% errors against a 0.1% budget: the workbook's 14.4x.
    assert burn_rate(Counts(total=10_000, bad=144), NINES3) == Fraction("14.4")
    # Exactly the budget: 1x, the pace that spends it in 30 days.
    assert burn_rate(Counts(total=1000, bad=1), NINES3) == 1
    assert burn_rate(Counts(), NINES3) is None and sli(Counts()) is None
    assert sli(Counts(total=1000, bad=1)) == Fraction(999, 1000)


@pytest.mark.parametrize(
    ("rate", "window", "spent"),
    [
        (Fraction("14.4"), timedelta(hours=1), Fraction(2, 100)),  # page: 2% of the budget in 1 h
        (Fraction(6), timedelta(hours=6), Fraction(5, 100)),  # page: 5% in 6 h
        (Fraction(1), timedelta(days=3), Fraction(10, 100)),  # ticket: 10% in 3 days
        (Fraction(1), timedelta(days=30), Fraction(1)),  # 1x for the whole period spends all of it
    ],
)
def test_budget_spent_matches_the_workbook(rate, window, spent):
    assert budget_spent(rate, window) == spent


def test_the_conditions_are_the_workbooks_table():
    table = [(c.severity, c.burn_rate, c.long, c.short, c.budget_spent) for c in CONDITIONS]
    assert table == [
        ("page", Fraction("14.4"), timedelta(hours=1), timedelta(minutes=5), Fraction(2, 100)),
        ("page", Fraction(6), timedelta(hours=6), timedelta(minutes=30), Fraction(5, 100)),
        ("ticket", Fraction(1), timedelta(days=3), timedelta(hours=6), Fraction(10, 100)),
    ]


def test_budget_left_after_a_month_of_a_half_budget_error_rate():
    assert budget_left(Counts(total=1_000_000, bad=500), NINES3) == Fraction(1, 2)
    assert budget_left(Counts(total=1_000_000, bad=2000), NINES3) == -1  # overspent twice over


def test_a_fast_burn_pages_only_when_both_windows_burn():
    burning = Counts(total=10_000, bad=144)  # exactly 14.4x
    quiet = Counts(total=10_000, bad=0)
    held = conditions_holding({"1h": burning, "5m": burning}, NINES3)
    assert [c.name for c in held] == ["page_fast"]
    # The burning stopped five minutes ago: the short window clears the page though the hour still burns.
    assert conditions_holding({"1h": burning, "5m": quiet}, NINES3) == []
    # Just under the threshold does not page.
    assert conditions_holding({"1h": Counts(10_000, 143), "5m": burning}, NINES3) == []


def test_a_slow_steady_burn_opens_a_ticket_and_both_pages_at_high_rates():
    steady = Counts(total=1000, bad=1)  # 1x everywhere
    windows = dict.fromkeys(("5m", "30m", "1h", "6h", "3d"), steady)
    assert [c.name for c in conditions_holding(windows, NINES3)] == ["ticket"]
    hot = dict.fromkeys(windows, Counts(total=1000, bad=20))  # 20x everywhere
    assert [c.name for c in conditions_holding(hot, NINES3)] == ["page_fast", "page_slow", "ticket"]
