"""The model performance matrix: from the sessions' outcomes per (model, task kind), each cell's success
rate with its 95% Wilson interval, median and p95 runtime (from the runtime histogram, within ~9%), cost per
success and top failure reasons. Plain functions over what ``repo.model_outcomes`` returns."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from helicarrier.analytics.scoring import wilson_interval
from helicarrier.data.rollups import SUCCESS, percentile_from_histogram

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd

UNKNOWN = "(unknown)"
TOP_REASONS = 5
MATRIX_COLUMNS = (
    "model", "task_kind", "successes", "failures", "failed", "timeout", "killed", "total", "success_rate",
    "wilson_low", "wilson_high", "median_runtime_s", "p95_runtime_s", "cost_nanos", "cost_per_success_nanos",
    "unpriced_events", "top_failure_reasons",
)  # fmt: skip
_COUNTS = ("successes", "failures", "failed", "timeout", "killed", "total", "cost_nanos", "unpriced_events")


def score_cell(model: str, kind: str, c: dict[str, Any]) -> dict[str, Any] | None:
    st = c["status"]
    total = sum(st.values())
    if total == 0:
        return None
    ok = st.get(SUCCESS, 0)
    low, high = wilson_interval(ok, total)
    return {
        "model": model or UNKNOWN,
        "task_kind": kind or UNKNOWN,
        "successes": ok,
        "failures": total - ok,
        "failed": st.get("failed", 0),
        "timeout": st.get("timeout", 0),
        "killed": st.get("killed", 0),
        "total": total,
        "success_rate": ok / total,
        "wilson_low": low,
        "wilson_high": high,
        "median_runtime_s": percentile_from_histogram(c["hist"], 0.5),
        "p95_runtime_s": percentile_from_histogram(c["hist"], 0.95),
        "cost_nanos": c["cost"],
        # Rounded to the nearest nano-dollar, in integers.
        "cost_per_success_nanos": None if ok == 0 else (c["cost"] + ok // 2) // ok,
        "unpriced_events": c["unpriced"],
        "top_failure_reasons": sorted(c["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS],
    }


def matrix_rows(outcomes: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, task kind) with sessions, in model and kind order (what the API answers)."""
    return [r for (model, kind), c in sorted(outcomes.items()) if (r := score_cell(model, kind, c))]


def matrix_frame(outcomes: dict[tuple[str, str], dict[str, Any]]) -> pd.DataFrame:
    """``matrix_rows`` as a frame, for the Intelligence page's views."""
    import pandas as pd

    frame = pd.DataFrame(matrix_rows(outcomes), columns=list(MATRIX_COLUMNS))
    for col in _COUNTS:
        frame[col] = frame[col].astype("int64")
    frame["cost_per_success_nanos"] = frame["cost_per_success_nanos"].astype("Int64")
    return frame


def model_matrix(repo, start: datetime, end: datetime) -> pd.DataFrame:
    return matrix_frame(repo.model_outcomes(start, end))


def model_matrix_rows(repo, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return matrix_rows(repo.model_outcomes(start, end))
