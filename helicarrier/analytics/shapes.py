"""The analytics answers as JSON: sessions, a session's detail, usage series and the model matrix. Plain
functions over what the repository returns, so the API and the CSV reports agree on every figure."""

from __future__ import annotations

from typing import Any

from helicarrier.analytics.scoring import rank_models
from helicarrier.money import usd_text


def _usd(nanos: Any) -> str | None:
    return None if nanos is None else usd_text(int(nanos))


def _float(value: Any) -> float | None:
    return None if value is None or value != value else float(value)  # NaN is "no value"


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


SESSION_FIELDS = (
    "id", "agent_id", "model", "provider", "task", "task_kind", "status", "error", "labels", "started_at",
    "ended_at", "runtime_s", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "total_tokens", "cost_nanos", "unpriced_events", "pricing_version",
)  # fmt: skip


def session_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: _iso(row[k]) for k in SESSION_FIELDS}
    out["cost_usd"] = _usd(row["cost_nanos"])
    return out


def with_usd(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with a ``*_usd`` decimal string beside each ``*_nanos`` integer."""
    out = dict(d)
    for k, v in d.items():
        if k.endswith("_nanos"):
            out[k[: -len("_nanos")] + "_usd"] = _usd(v)
    return out


def _usage_json(u: dict[str, Any]) -> dict[str, Any]:
    out = {k: _iso(v) for k, v in u.items()}
    out["cost_usd"] = _usd(u["cost_nanos"])
    out["reported_cost_usd"] = _usd(u["reported_cost_nanos"])
    return out


def session_detail_json(found: dict[str, Any]) -> dict[str, Any]:
    prov = found["breakdown"]["cost_by_provenance"]
    breakdown = {k: v for k, v in found["breakdown"].items() if k != "cost_by_provenance"}
    kinds = ("computed", "reported", "estimated")
    breakdown["cost_by_provenance"] = {
        **{f"{k}_nanos": int(prov.get(k, 0)) for k in kinds},
        **{f"{k}_usd": _usd(int(prov.get(k, 0))) for k in kinds},
        "unpriced_events": int(prov.get("unpriced_events", 0)),
    }
    return {
        "session": session_json(found["session"]),
        "usage": [_usage_json(u) for u in found["usage"]],
        "logs": [{k: _iso(v) for k, v in log.items()} for log in found["logs"]],
        "commands": [{k: _iso(v) for k, v in c.items()} for c in found["commands"]],
        "breakdown": breakdown,
        "usage_truncated": found["usage_truncated"],
        "logs_truncated": found["logs_truncated"],
    }


def series_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``usage_series_rows`` as JSON points (the bucket in ISO 8601 with its offset, dollars beside nanos).
    One dict per point, each bucket's time written once (a 90-day series by agent is 4,550 points)."""
    iso: dict[int, str] = {}
    series = []
    for rec in rows:
        stamp = rec["bucket"]
        bucket = iso.get(id(stamp))
        if bucket is None:
            bucket = iso[id(stamp)] = stamp.isoformat()
        point = {k: (v if k in ("bucket", "group") else int(v)) for k, v in rec.items()}
        point["bucket"] = bucket
        series.append(with_usd(point))
    return series


_COUNTS = ("successes", "failures", "failed", "timeout", "killed", "total")


def _cell(rec: dict[str, Any], min_samples: int) -> dict[str, Any]:
    cps = rec["cost_per_success_nanos"]
    cps = None if cps is None or cps != cps else int(cps)  # pandas NA
    return {
        "model": rec["model"],
        "task_kind": rec["task_kind"],
        **{k: int(rec[k]) for k in _COUNTS},
        "success_rate": float(rec["success_rate"]),
        "wilson_low": float(rec["wilson_low"]),
        "wilson_high": float(rec["wilson_high"]),
        "insufficient": int(rec["total"]) < min_samples,
        "median_runtime_s": _float(rec["median_runtime_s"]),
        "p95_runtime_s": _float(rec["p95_runtime_s"]),
        "cost_nanos": int(rec["cost_nanos"]),
        "cost_usd": _usd(int(rec["cost_nanos"])),
        "cost_per_success_nanos": cps,
        "cost_per_success_usd": _usd(cps),
        "unpriced_events": int(rec["unpriced_events"]),
        "top_failure_reasons": [{"reason": r, "count": int(n)} for r, n in rec["top_failure_reasons"]],
    }


def matrix_json(rows: list[dict[str, Any]], min_samples: int) -> dict[str, Any]:
    """The cells (``matrix_rows``), and the models ranked by success rate and by successes per dollar."""
    cells = [_cell(rec, min_samples) for rec in rows]
    per_model: dict[str, dict[str, int]] = {}
    for c in cells:
        m = per_model.setdefault(c["model"], {"successes": 0, "total": 0, "cost_nanos": 0})
        m["successes"] += c["successes"]
        m["total"] += c["total"]
        m["cost_nanos"] += c["cost_nanos"]
    models = [{"key": k, **v} for k, v in per_model.items()]
    return {
        "min_samples": min_samples,
        "cells": cells,
        "models": [r.as_dict() for r in rank_models(models, min_samples)],
        "value": [r.as_dict() for r in rank_models(models, min_samples, by="value")],
    }
