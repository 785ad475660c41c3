"""The detectors: plain functions over what the service read for one agent, each answering a ``Detection``
(with its evidence) or None. Thresholds come from ``helicarrier.sentinel.thresholds``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helicarrier.data.rollups import percentile_from_histogram
from helicarrier.sentinel.normalize import line_key
from helicarrier.sentinel.thresholds import Thresholds

DETECTORS = ("repeat", "no_output", "long_run", "silent")
# How the HUD names each detector's finding.
DETECTOR_NAMES = {
    "repeat": "repeating itself",
    "no_output": "tokens, nothing new",
    "long_run": "far past p99 runtime",
    "silent": "running, no model calls",
}
SAMPLES = 5  # repeated lines kept as evidence
MAX_LINE = 500


@dataclass(frozen=True)
class Detection:
    detector: str
    summary: str  # one line, for the card, the feed and the audit log
    advice: str  # the corrective instruction a steer injects
    evidence: dict[str, Any] = field(default_factory=dict)


def _line(row: dict[str, Any]) -> dict[str, Any]:
    return {"ts": row["ts"].isoformat(), "message": row["message"][:MAX_LINE]}


def _exact(message: str) -> str:
    return " ".join(message.split())


def _since(now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)


def repeat(lines: list[dict[str, Any]], t: Thresholds, now: datetime) -> Detection | None:
    """The same normalized line or tool call at least ``repeat_n`` times within ``repeat_window_s``."""
    start = _since(now, t.repeat_window_s)
    recent = [r for r in lines if start <= r["ts"] < now]
    # Each line masked once (up to 2,000 lines an agent, every cycle: the masking is most of the cycle's CPU).
    keys = [line_key(r["message"], r.get("attrs")) for r in recent]
    counts = Counter(keys)
    if not counts:
        return None
    key, n = counts.most_common(1)[0]
    if n < t.repeat_n or n * 100 <= t.repeat_share_pct * len(recent):
        return None
    same = [r for r, k in zip(recent, keys, strict=True) if k == key]
    example = same[-1]["message"][:120]
    minutes = max(1, round(t.repeat_window_s / 60))
    return Detection(
        "repeat",
        f'"{example}" repeated {n} times in {t.repeat_window_s} s',
        f'Helicarrier sentinel: you have repeated "{example}" {n} times in the last {minutes} min. '
        "Stop, say what is failing, and change approach.",
        {
            "pattern": key,
            "count": n,
            "window_s": t.repeat_window_s,
            "threshold": t.repeat_n,
            "lines_in_window": len(recent),
            "share_pct": n * 100 // len(recent),
            "lines": [_line(r) for r in same[-SAMPLES:]],
        },
    )


def no_output(
    lines: list[dict[str, Any]],
    usage: dict[str, Any],
    running_since: datetime | None,
    t: Thresholds,
    now: datetime,
) -> Detection | None:
    """Tokens spent for ``no_output_s`` without one log line the session had not written before, word for
    word. (Not by shape, as ``repeat`` counts: a working agent's lines are a few shapes, each new in its
    details; an agent that says nothing new says the very same thing, or nothing.)
    ``lines``: the session's lines up to now (the window's and before); ``usage``: the window's calls."""
    start = _since(now, t.no_output_s)
    if running_since is None or running_since > start or usage["tokens"] <= 0:
        return None
    before = {_exact(r["message"]) for r in lines if r["ts"] < start}
    window = [r for r in lines if start <= r["ts"] < now]
    new = {_exact(r["message"]) for r in window} - before
    if new:
        return None
    return Detection(
        "no_output",
        f"{usage['tokens']:,} tokens in {usage['calls']} calls over {t.no_output_s} s, nothing new logged",
        f"Helicarrier sentinel: you spent {usage['tokens']:,} tokens in the last {t.no_output_s // 60} min "
        "without producing anything new. Summarize where you are and change approach.",
        {
            "tokens": usage["tokens"],
            "calls": usage["calls"],
            "window_s": t.no_output_s,
            "threshold_s": t.no_output_s,
            "lines_in_window": len(window),
            "lines": [_line(r) for r in window[-SAMPLES:]],
        },
    )


def long_run(
    running_since: datetime | None,
    task_kind: str | None,
    histogram: dict[int, int],
    t: Thresholds,
    now: datetime,
) -> Detection | None:
    """A session running longer than ``long_run_factor`` times the p99 runtime of its task kind."""
    sessions = sum(histogram.values())
    if running_since is None or not task_kind or sessions < t.long_run_min_sessions:
        return None
    p99 = percentile_from_histogram(histogram, 0.99)
    runtime_s = int((now - running_since).total_seconds())
    if p99 is None or runtime_s <= t.long_run_factor * p99:
        return None
    return Detection(
        "long_run",
        f"running {runtime_s} s; {task_kind}'s p99 is {p99:.0f} s over {sessions} sessions",
        f"Helicarrier sentinel: this {task_kind} task has run {runtime_s // 60} min, over "
        f"{t.long_run_factor}x the usual longest ({p99 / 60:.0f} min). Wrap up or say what blocks you.",
        {
            "runtime_s": runtime_s,
            "task_kind": task_kind,
            "p99_s": round(p99),
            "sessions": sessions,
            "factor": t.long_run_factor,
        },
    )


def silent(
    status: str,
    running_since: datetime | None,
    last_usage_at: datetime | None,
    t: Thresholds,
    now: datetime,
) -> Detection | None:
    """Heartbeats say ``running`` and no model call for ``silent_s`` (in a session older than that)."""
    start = _since(now, t.silent_s)
    if status != "running" or running_since is None or running_since > start:
        return None
    if last_usage_at is not None and last_usage_at >= start:
        return None
    quiet = int((now - (last_usage_at or running_since)).total_seconds())
    return Detection(
        "silent",
        f"says running, no model call for {quiet} s",
        "Helicarrier sentinel: you report running but made no model call for "
        f"{quiet // 60} min. If you wait on something, send a waiting heartbeat with expected_s.",
        {
            "quiet_s": quiet,
            "threshold_s": t.silent_s,
            "last_usage_at": last_usage_at and last_usage_at.isoformat(),
        },
    )
