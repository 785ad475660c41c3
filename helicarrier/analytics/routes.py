"""The analytics API (scope ``read``): the Ledger, usage analytics and the model matrix, as JSON.

    GET /api/v1/sessions?agent=&model=&provider=&status=&label=k=v&from=&to=&q=&sort=&order=&cursor=&limit=
    GET /api/v1/sessions/<id>
    GET /api/v1/usage?from=&to=&group_by=day|model|provider|agent&tz=&granularity=day|hour
    GET /api/v1/models/matrix?from=&to=&tz=&min_samples=

    curl -H "Authorization: Bearer $TOKEN" \\
         "http://127.0.0.1:8050/api/v1/usage?from=2026-11-01&to=2026-11-07&group_by=model&tz=Europe/Paris"

``from``/``to``: a date (``YYYY-MM-DD``, a whole local day in ``tz``, both ends included) or an ISO 8601
time with an offset (``to`` then excluded). ``agent``, ``model``, ``provider`` and ``status`` may repeat
or hold a comma-separated list; ``label`` (``key=value``) may repeat. Money comes as ``*_nanos`` integers
and ``*_usd`` decimal strings. Invalid parameters answer 422 with ``details.field`` naming the parameter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from helicarrier.analytics.filters import SessionFilters
from helicarrier.analytics.scoring import rank_models
from helicarrier.api.auth import require_scope
from helicarrier.data.queries.sessions import SESSION_STATUSES, SORTS, CursorError
from helicarrier.ingest.errors import ApiError
from helicarrier.reports.csv import nanos_to_usd_text

bp = Blueprint("analytics", __name__, url_prefix="/api/v1")

MAX_LIMIT = 500
DEFAULT_DAYS = 30
MAX_HOURLY_DAYS = 31
USAGE_GROUPS = {"day": None, "model": "model", "provider": "provider", "agent": "agent"}


def _repo():
    return current_app.config["HELICARRIER"].repo


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj, default=str), status=status, mimetype="application/json")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", f"{field}: {message}", {"field": field})


def _usd(nanos: int | None) -> str | None:
    return None if nanos is None else nanos_to_usd_text(int(nanos))


def _float(value: Any) -> float | None:
    return None if value is None or value != value else float(value)  # NaN is "no value"


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


# -- parameters ----------------------------------------------------------------------------------------


def _list(name: str, *, split: bool = True) -> tuple[str, ...]:
    out: list[str] = []
    for raw in request.args.getlist(name):
        parts = raw.split(",") if split else [raw]
        out.extend(p.strip() for p in parts if p.strip())
    return tuple(dict.fromkeys(out))


def _zone(name: str = "tz"):
    from helicarrier.data.queries.analytics import zone

    tz = request.args.get(name) or "UTC"
    try:
        return tz, zone(tz)
    except ValueError as exc:
        raise _invalid(name, str(exc)) from None


def _when(name: str, z, *, end: bool) -> datetime | None:
    """A date (a local day in ``z``; as an end, the day is included) or an aware ISO 8601 time."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) == 10:
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise _invalid(name, f"{raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
        if end:
            d = d + timedelta(days=1)
        return datetime(d.year, d.month, d.day, tzinfo=z).astimezone(UTC)
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(name, f"{raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if ts.tzinfo is None:
        raise _invalid(name, "a time needs an offset (e.g. 2026-11-26T10:00:00Z)")
    return ts.astimezone(UTC)


def _range(z, *, default_days: int | None = DEFAULT_DAYS) -> tuple[datetime | None, datetime | None]:
    start = _when("from", z, end=False)
    end = _when("to", z, end=True)
    if default_days is not None:
        if end is None:
            today = datetime.now(z).date() + timedelta(days=1)
            end = datetime(today.year, today.month, today.day, tzinfo=z).astimezone(UTC)
        if start is None:
            first = end.astimezone(z).date() - timedelta(days=default_days)
            start = datetime(first.year, first.month, first.day, tzinfo=z).astimezone(UTC)
    if start is not None and end is not None and end < start:
        raise _invalid("to", "is before from")
    return start, end


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"{raw!r} is not an integer") from None
    if not lo <= value <= hi:
        raise _invalid(name, f"must be between {lo} and {hi}")
    return value


# -- JSON shapes ---------------------------------------------------------------------------------------


def session_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "agent_id": row["agent_id"],
        "model": row["model"],
        "provider": row["provider"],
        "task": row["task"],
        "task_kind": row["task_kind"],
        "status": row["status"],
        "error": row["error"],
        "labels": row["labels"],
        "started_at": _iso(row["started_at"]),
        "ended_at": _iso(row["ended_at"]),
        "runtime_s": row["runtime_s"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_write_tokens": row["cache_write_tokens"],
        "reasoning_tokens": row["reasoning_tokens"],
        "total_tokens": row["total_tokens"],
        "cost_nanos": row["cost_nanos"],
        "cost_usd": _usd(row["cost_nanos"]),
        "unpriced_events": row["unpriced_events"],
        "pricing_version": row["pricing_version"],
    }


def _usage_json(u: dict[str, Any]) -> dict[str, Any]:
    out = {k: _iso(v) for k, v in u.items()}
    out["cost_usd"] = _usd(u["cost_nanos"])
    out["reported_cost_usd"] = _usd(u["reported_cost_nanos"])
    return out


def _with_usd(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    for k, v in d.items():
        if k.endswith("_nanos"):
            out[k[: -len("_nanos")] + "_usd"] = _usd(v)
    return out


# -- routes --------------------------------------------------------------------------------------------


@bp.get("/sessions")
@require_scope("read")
def sessions():
    """Sessions, newest first by default, filtered; cursor pagination (`next_cursor`)."""
    _tz, z = _zone()
    start, end = _range(z, default_days=None)
    statuses = _list("status")
    bad = [s for s in statuses if s not in SESSION_STATUSES]
    if bad:
        raise _invalid("status", f"unknown status {bad[0]!r}; known: {', '.join(SESSION_STATUSES)}")
    labels = _list("label", split=False)
    for label in labels:
        if "=" not in label or not label.split("=", 1)[0]:
            raise _invalid("label", f"{label!r} is not key=value")
    sort = request.args.get("sort") or "started_at"
    if sort not in SORTS:
        raise _invalid("sort", f"must be one of {', '.join(SORTS)}")
    order = (request.args.get("order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise _invalid("order", "must be asc or desc")
    filters = SessionFilters(
        agent_ids=_list("agent"),
        models=_list("model"),
        providers=_list("provider"),
        statuses=statuses,
        labels=labels,
        start=start,
        end=end,
        text=request.args.get("q") or None,
    )
    limit = _int("limit", 100, 1, MAX_LIMIT)
    try:
        page = _repo().sessions_page(
            filters,
            sort=sort,
            descending=order == "desc",
            cursor=request.args.get("cursor") or None,
            limit=limit,
        )
    except CursorError as exc:
        raise _invalid("cursor", str(exc)) from None
    return _json({"sessions": [session_json(r) for r in page.rows], "next_cursor": page.next_cursor})


@bp.get("/sessions/<session_id>")
@require_scope("read")
def session_detail(session_id: str):
    """One session: its usage timeline, logs, commands and token and cost breakdown."""
    found = _repo().session_detail(session_id)
    if found is None:
        raise ApiError(404, "unknown_session", f"no session {session_id}", {"session_id": session_id})
    prov = found["breakdown"]["cost_by_provenance"]
    breakdown = {k: v for k, v in found["breakdown"].items() if k != "cost_by_provenance"}
    breakdown["cost_by_provenance"] = {
        **{f"{k}_nanos": int(prov.get(k, 0)) for k in ("computed", "reported", "estimated")},
        **{f"{k}_usd": _usd(int(prov.get(k, 0))) for k in ("computed", "reported", "estimated")},
        "unpriced_events": int(prov.get("unpriced_events", 0)),
    }
    return _json(
        {
            "session": session_json(found["session"]),
            "usage": [_usage_json(u) for u in found["usage"]],
            "logs": [{k: _iso(v) for k, v in log.items()} for log in found["logs"]],
            "commands": [{k: _iso(v) for k, v in c.items()} for c in found["commands"]],
            "breakdown": breakdown,
            "usage_truncated": found["usage_truncated"],
            "logs_truncated": found["logs_truncated"],
        }
    )


@bp.get("/usage")
@require_scope("read")
def usage():
    """Totals and a daily (or hourly) series over a range, split by model, provider or agent."""
    tz, z = _zone()
    start, end = _range(z)
    group_by = request.args.get("group_by") or "day"
    if group_by not in USAGE_GROUPS:
        raise _invalid("group_by", f"must be one of {', '.join(USAGE_GROUPS)}")
    granularity = request.args.get("granularity") or "day"
    if granularity not in ("day", "hour"):
        raise _invalid("granularity", "must be day or hour")
    if granularity == "hour" and (end - start) > timedelta(days=MAX_HOURLY_DAYS):
        raise _invalid("granularity", f"hourly series cover at most {MAX_HOURLY_DAYS} days")
    repo = _repo()
    totals = repo.usage_totals(start, end)
    frame = repo.usage_series(start, end, group_by=USAGE_GROUPS[group_by], tz=tz, granularity=granularity)
    series = []
    for rec in frame.to_dict("records"):
        point = {k: (int(v) if k != "bucket" and k != "group" else v) for k, v in rec.items()}
        point["bucket"] = rec["bucket"].isoformat()
        series.append(_with_usd(point))
    return _json(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "tz": tz,
            "group_by": group_by,
            "granularity": granularity,
            "totals": _with_usd(totals),
            "series": series,
        }
    )


@bp.get("/models/matrix")
@require_scope("read")
def model_matrix():
    """Success per model x task kind with 95% intervals; models ranked by rate and by successes per dollar."""
    _tz, z = _zone()
    start, end = _range(z)
    min_samples = _int("min_samples", 20, 1, 1_000_000)
    frame = _repo().model_matrix(start, end)
    cells = []
    per_model: dict[str, dict[str, int]] = {}
    for rec in frame.to_dict("records"):
        cps = rec["cost_per_success_nanos"]
        cps = None if cps is None or cps != cps else int(cps)  # pandas NA
        cells.append(
            {
                "model": rec["model"],
                "task_kind": rec["task_kind"],
                **{k: int(rec[k]) for k in ("successes", "failures", "failed", "timeout", "killed", "total")},
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
                "top_failure_reasons": [
                    {"reason": r, "count": int(n)} for r, n in rec["top_failure_reasons"]
                ],
            }
        )
        m = per_model.setdefault(rec["model"], {"successes": 0, "total": 0, "cost_nanos": 0})
        m["successes"] += int(rec["successes"])
        m["total"] += int(rec["total"])
        m["cost_nanos"] += int(rec["cost_nanos"])
    models = [{"key": k, **v} for k, v in per_model.items()]
    return _json(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "min_samples": min_samples,
            "cells": cells,
            "models": [r.as_dict() for r in rank_models(models, min_samples)],
            "value": [r.as_dict() for r in rank_models(models, min_samples, by="value")],
        }
    )
