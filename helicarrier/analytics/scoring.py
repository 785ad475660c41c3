"""Sample-aware model scoring: Wilson score intervals, ranking by the lower bound, statistical ties.

Rates are floats (they are estimates, not money). A model is ranked by the lower bound of its 95% Wilson
interval, never by the raw rate, so 3 successes out of 3 (interval 0.44-1.00) does not outrank 970 out of
1000 (0.958-0.979). Two models whose intervals overlap are *tied*: the data cannot tell them apart.
Cells with fewer than ``min_samples`` sessions are flagged ``insufficient`` and left unranked.

The cost-aware view ranks by successes per dollar: ``n * [low, high] / cost``. The cost of the sessions
is known exactly; the uncertainty is the success rate's, so the interval is the Wilson interval scaled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from helicarrier.money import NANOS_PER_USD

Z95 = 1.959964  # two-sided 95%


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` out of ``n``; (0.0, 1.0) when n is 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamp the rounding noise at the ends: 0/n has a lower bound of exactly 0, n/n an upper of exactly 1.
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return low, high


@dataclass(frozen=True)
class RankedModel:
    key: str  # the model (or whatever the cell stands for)
    successes: int
    total: int
    rate: float | None  # successes / total, None when total is 0
    low: float  # 95% Wilson interval of the rate
    high: float
    insufficient: bool  # total < min_samples: shown, never ranked
    rank: int | None  # 1 + how many ranked models are significantly better (their low > this high)
    tie_group: int | None  # models in one group are statistically tied with the group's leader
    tied_with: tuple[str, ...]  # every ranked model whose interval overlaps this one's
    cost_nanos: int | None
    successes_per_usd: float | None  # None without a positive cost
    successes_per_usd_low: float | None
    successes_per_usd_high: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "successes": self.successes,
            "total": self.total,
            "rate": self.rate,
            "low": self.low,
            "high": self.high,
            "insufficient": self.insufficient,
            "rank": self.rank,
            "tie_group": self.tie_group,
            "tied_with": list(self.tied_with),
            "cost_nanos": self.cost_nanos,
            "successes_per_usd": self.successes_per_usd,
            "successes_per_usd_low": self.successes_per_usd_low,
            "successes_per_usd_high": self.successes_per_usd_high,
        }


def _get(cell: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(cell, Mapping):
            if name in cell:
                return cell[name]
        elif hasattr(cell, name):
            return getattr(cell, name)
    return default


def _interval(r: RankedModel, by: str) -> tuple[float, float] | None:
    if by == "rate":
        return r.low, r.high
    if r.successes_per_usd_low is None or r.successes_per_usd_high is None:
        return None
    return r.successes_per_usd_low, r.successes_per_usd_high


def rank_models(
    cells: Iterable[Any], min_samples: int = 20, *, by: str = "rate", z: float = Z95
) -> list[RankedModel]:
    """Rank cells by the lower bound of their 95% interval; overlapping intervals are statistical ties.

    ``cells`` are mappings or objects with ``key`` (or ``model``), ``successes``, ``total`` (or ``n``) and
    optionally ``cost_nanos``. ``by="rate"`` ranks the success rate; ``by="value"`` ranks successes per
    dollar (cells without a positive cost are then left unranked, like insufficient ones).

    Returns every cell: ranked ones first, by lower bound (best first), then the unranked ones.
    """
    if by not in ("rate", "value"):
        raise ValueError("by must be 'rate' or 'value'")
    base: list[RankedModel] = []
    for cell in cells:
        key = str(_get(cell, "key", "model"))
        successes = int(_get(cell, "successes", default=0))
        total = int(_get(cell, "total", "n", default=0))
        cost = _get(cell, "cost_nanos")
        low, high = wilson_interval(successes, total, z)
        spd = spd_low = spd_high = None
        if cost is not None and cost > 0:
            usd = cost / NANOS_PER_USD
            spd, spd_low, spd_high = successes / usd, low * total / usd, high * total / usd
        base.append(
            RankedModel(
                key=key,
                successes=successes,
                total=total,
                rate=successes / total if total else None,
                low=low,
                high=high,
                insufficient=total < min_samples,
                rank=None,
                tie_group=None,
                tied_with=(),
                cost_nanos=None if cost is None else int(cost),
                successes_per_usd=spd,
                successes_per_usd_low=spd_low,
                successes_per_usd_high=spd_high,
            )
        )

    def order(r: RankedModel):
        iv = _interval(r, by) or (-math.inf, -math.inf)
        return (-iv[0], -iv[1], -r.total, r.key)

    rankable = sorted((r for r in base if not r.insufficient and _interval(r, by) is not None), key=order)
    rest = sorted((r for r in base if r.insufficient or _interval(r, by) is None), key=order)
    intervals = {r.key: _interval(r, by) for r in rankable}

    groups: dict[str, int] = {}
    group = 0
    for leader in rankable:
        if leader.key in groups:
            continue
        group += 1
        lead_low = intervals[leader.key][0]
        for r in rankable:
            if r.key not in groups and intervals[r.key][1] >= lead_low:
                groups[r.key] = group
    out = []
    for r in rankable:
        low, high = intervals[r.key]
        better = sum(1 for o in rankable if o.key != r.key and intervals[o.key][0] > high)
        tied = tuple(
            o.key
            for o in rankable
            if o.key != r.key and intervals[o.key][0] <= high and intervals[o.key][1] >= low
        )
        out.append(_replace(r, rank=1 + better, tie_group=groups[r.key], tied_with=tied))
    return out + rest


def _replace(r: RankedModel, **changes: Any) -> RankedModel:
    from dataclasses import replace

    return replace(r, **changes)
