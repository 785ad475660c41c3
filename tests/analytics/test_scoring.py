"""Sample-aware scoring: Wilson intervals against known values, ranking by the lower bound, ties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helicarrier.analytics.scoring import rank_models, wilson_interval


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Wilson score interval (z = 1.959964). 81/263 is Newcombe (1998)'s worked example (0.2553-0.3662).
        # The "970/1000 -> (0.9576, 0.9791)" is off in the 4th decimal: the Wilson bounds are these
        # (the root-finding oracle below agrees).
        (970, 1000, 0.95750, 0.97891),
        (3, 3, 0.43850, 1.0),
        (0, 10, 0.0, 0.27753),
        (81, 263, 0.25529, 0.36621),
        (15, 148, 0.06239, 0.16049),
        (0, 20, 0.0, 0.16113),
        (1, 29, 0.00611, 0.17176),
        (50, 100, 0.40383, 0.59617),
    ],
)
def test_wilson_known_values(successes, n, low, high):
    got_low, got_high = wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def _oracle(s: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson bounds by definition: the p with |s/n - p| = z * sqrt(p(1-p)/n), found by bisection."""
    ph = s / n

    def f(p: float) -> float:
        return (ph - p) ** 2 - z * z * p * (1 - p) / n

    def root(lo: float, hi: float) -> float:
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if (f(lo) > 0) == (f(mid) > 0) else (lo, mid)
        return (lo + hi) / 2

    return (0.0 if s == 0 else root(0.0, ph)), (1.0 if s == n else root(ph, 1.0))


@given(st.integers(1, 5000), st.data())
def test_wilson_matches_its_definition(n, data):
    s = data.draw(st.integers(0, n))
    got, want = wilson_interval(s, n), _oracle(s, n)
    assert got[0] == pytest.approx(want[0], abs=1e-9) and got[1] == pytest.approx(want[1], abs=1e-9)


def test_wilson_empty_and_invalid():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_wilson_contains_the_rate_and_stays_in_0_1(a, b):
    n = max(a, b)
    s = min(a, b)
    low, high = wilson_interval(s, n)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= s / n <= high


def test_three_of_three_does_not_outrank_970_of_1000():
    ranked = rank_models(
        [
            {"model": "tiny", "successes": 3, "total": 3},
            {"model": "big", "successes": 970, "total": 1000},
        ]
    )
    assert [r.key for r in ranked] == ["big", "tiny"]
    assert ranked[0].rank == 1 and not ranked[0].insufficient
    assert ranked[1].insufficient and ranked[1].rank is None
    # Even with no minimum sample size, the lower bound ranks it below.
    ranked = rank_models(
        [{"key": "tiny", "successes": 3, "total": 3}, {"key": "big", "successes": 970, "total": 1000}],
        min_samples=1,
    )
    assert [r.key for r in ranked] == ["big", "tiny"]
    assert ranked[1].low < ranked[0].low


def test_overlapping_intervals_are_tied_and_separated_ones_ranked():
    ranked = rank_models(
        [
            {"model": "a", "successes": 970, "total": 1000},
            {"model": "b", "successes": 960, "total": 1000},  # overlaps a
            {"model": "c", "successes": 500, "total": 1000},  # far below both
        ]
    )
    by = {r.key: r for r in ranked}
    assert by["a"].tie_group == by["b"].tie_group != by["c"].tie_group
    assert by["a"].tied_with == ("b",) and by["b"].tied_with == ("a",) and by["c"].tied_with == ()
    assert by["a"].rank == by["b"].rank == 1
    assert by["c"].rank == 3  # two models are significantly better


def test_cost_aware_view_ranks_successes_per_dollar_with_intervals():
    ranked = rank_models(
        [
            {"model": "premium", "successes": 970, "total": 1000, "cost_nanos": 100 * 10**9},  # $100
            {"model": "cheap", "successes": 940, "total": 1000, "cost_nanos": 10 * 10**9},  # $10
            {"model": "free", "successes": 900, "total": 1000, "cost_nanos": 0},
        ],
        by="value",
    )
    assert [r.key for r in ranked[:2]] == ["cheap", "premium"]
    cheap = ranked[0]
    assert cheap.successes_per_usd == pytest.approx(94.0)
    assert cheap.successes_per_usd_low < 94.0 < cheap.successes_per_usd_high
    assert ranked[2].key == "free" and ranked[2].rank is None  # no cost: no per-dollar figure
