"""The model matrix reshaped for its three views: heatmap cells, the ranking and successes per dollar.

Scoring (Wilson intervals, ranks, ties) is helicarrier.analytics.scoring's; this only feeds it the cells of
one task kind (or every kind summed per model) and flattens its answers into rows for tables and CSVs.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from helicarrier.analytics.scoring import rank_models, wilson_interval

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd

ALL_KINDS = "__all__"
NO_KIND = "(none)"


def _clean(frame: pd.DataFrame | None) -> pd.DataFrame:
    import pandas as pd

    if frame is None or frame.empty:
        return pd.DataFrame(columns=["model", "task_kind", "successes", "total", "cost_nanos"])
    df = frame.copy()
    df["model"] = df["model"].fillna(NO_KIND).astype(str)
    df["task_kind"] = df["task_kind"].fillna(NO_KIND).astype(str)
    return df[df["total"] > 0]


def matrix_cells(frame: pd.DataFrame | None, min_samples: int) -> pd.DataFrame:
    """The matrix with, per (model, task kind), its 95% Wilson interval and the insufficient-data flag."""
    df = _clean(frame)
    if "wilson_low" not in df.columns or "wilson_high" not in df.columns:
        bounds = [wilson_interval(int(s), int(n)) for s, n in zip(df["successes"], df["total"], strict=True)]
        df["wilson_low"] = [b[0] for b in bounds]
        df["wilson_high"] = [b[1] for b in bounds]
    df["insufficient"] = df["total"] < min_samples
    return df.sort_values(["model", "task_kind"]).reset_index(drop=True)


def _reason_counts(value: Any) -> Counter:
    out: Counter = Counter()
    if not value:
        return out
    if isinstance(value, str):
        out[value] += 1
        return out
    for item in value:
        if isinstance(item, dict):
            out[str(item.get("reason") or item.get("error"))] += int(item.get("count") or 1)
        elif isinstance(item, list | tuple):
            out[str(item[0])] += int(item[1]) if len(item) > 1 and item[1] else 1
        else:
            out[str(item)] += 1
    return out


def model_cells(frame: pd.DataFrame | None, kind: str) -> list[dict[str, Any]]:
    """Per model: the cell of one task kind, or every kind summed (runtimes do not sum: left out)."""
    import pandas as pd

    df = _clean(frame)
    if df.empty:
        return []
    if kind != ALL_KINDS:
        part = df[df["task_kind"] == kind]
        return [
            {
                "model": r["model"],
                "successes": int(r["successes"]),
                "total": int(r["total"]),
                "cost_nanos": None if pd.isna(r["cost_nanos"]) else int(r["cost_nanos"]),
                "unpriced_events": int(r.get("unpriced_events") or 0),
                "median_runtime_s": r.get("median_runtime_s"),
                "p95_runtime_s": r.get("p95_runtime_s"),
                "top_failure_reasons": r.get("top_failure_reasons"),
            }
            for r in part.to_dict("records")
        ]
    out = []
    for model, part in df.groupby("model", sort=True):
        reasons: Counter = Counter()
        for value in part["top_failure_reasons"]:
            reasons.update(_reason_counts(value))
        costs = part["cost_nanos"].dropna()
        out.append(
            {
                "model": str(model),
                "successes": int(part["successes"].sum()),
                "total": int(part["total"].sum()),
                "cost_nanos": int(costs.sum()) if len(costs) else None,
                "unpriced_events": int(part["unpriced_events"].sum()) if "unpriced_events" in part else 0,
                "median_runtime_s": None,
                "p95_runtime_s": None,
                "top_failure_reasons": [[r, n] for r, n in reasons.most_common(3)],
            }
        )
    return out


def _num(v: Any) -> Any:
    # A missing number in a frame is NaN, the one float unequal to itself.
    return None if v is None or (isinstance(v, float) and v != v) else v


def ranked_rows(frame: pd.DataFrame | None, kind: str, min_samples: int) -> list[dict[str, Any]]:
    """The ranking table: rank by the lower bound, ties, runtimes, cost per success, failure reasons."""
    cells = {c["model"]: c for c in model_cells(frame, kind)}
    rows = []
    for r in rank_models(list(cells.values()), min_samples):
        c = cells[r.key]
        cost = r.cost_nanos
        rows.append(
            {
                "rank": r.rank,
                "model": r.key,
                "successes": r.successes,
                "total": r.total,
                "rate": r.rate,
                "lower": r.low,
                "upper": r.high,
                "tied_with": list(r.tied_with),
                "insufficient": r.insufficient,
                "median_runtime_s": _num(c["median_runtime_s"]),
                "p95_runtime_s": _num(c["p95_runtime_s"]),
                "cost_nanos": cost,
                "cost_per_success_nanos": cost // r.successes if cost and r.successes else None,
                "unpriced_events": c["unpriced_events"],
                "top_failure_reasons": c["top_failure_reasons"],
            }
        )
    return rows


def value_rows(frame: pd.DataFrame | None, kind: str, min_samples: int) -> list[dict[str, Any]]:
    """Successes per dollar with the success rate's 95% interval scaled by cost; ties as in the ranking.
    A model without a positive cost is "unpriced" and unranked, never infinitely good value; a model with
    some unpriced usage keeps its rank but says so (its cost is understated, its value overstated)."""
    cells = {c["model"]: c for c in model_cells(frame, kind)}
    rows = []
    for r in rank_models(list(cells.values()), min_samples, by="value"):
        rows.append(
            {
                "rank": r.rank,
                "model": r.key,
                "successes": r.successes,
                "total": r.total,
                "cost_nanos": r.cost_nanos,
                "per_dollar": r.successes_per_usd,
                "per_dollar_lower": r.successes_per_usd_low,
                "per_dollar_upper": r.successes_per_usd_high,
                "tied_with": list(r.tied_with),
                "insufficient": r.insufficient,
                "unpriced": not r.cost_nanos,
                "unpriced_events": cells[r.key]["unpriced_events"],
            }
        )
    return rows
