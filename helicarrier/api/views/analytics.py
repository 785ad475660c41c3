"""The analytics API (scope ``read``): the Ledger, usage analytics and the model matrix, as JSON.

``from``/``to``: a date (``YYYY-MM-DD``, a whole local day in ``tz``, both ends included) or an ISO 8601
time with an offset (``to`` then excluded). ``agent``, ``model``, ``provider`` and ``status`` may repeat
or hold a comma-separated list; ``label`` (``key=value``) may repeat. Money comes as ``*_nanos`` integers
and ``*_usd`` decimal strings. Invalid parameters answer 422 with ``details.field`` naming the parameter.

    curl -H "Authorization: Bearer $TOKEN" \\
         "http://127.0.0.1:8050/api/v1/usage?from=2026-11-01&to=2026-11-07&group_by=model&tz=Europe/Paris"
"""

from __future__ import annotations

from flask import request

from helicarrier.analytics import matrix, shapes
from helicarrier.analytics.filters import SessionFilters
from helicarrier.api import params
from helicarrier.api.http import app_context, json_response
from helicarrier.data.queries.sessions import SESSION_STATUSES, SORTS, CursorError
from helicarrier.errors import Refused
from helicarrier.retention.service import raw_usage_pruned_before

MAX_LIMIT = 500
USAGE_GROUPS = {"day": None, "model": "model", "provider": "provider", "agent": "agent"}


def _filters() -> SessionFilters:
    _tz, z = params.time_zone()
    start, end = params.time_range(z, default_days=None)
    statuses = params.many("status")
    bad = [s for s in statuses if s not in SESSION_STATUSES]
    if bad:
        raise params.invalid("status", f"unknown status {bad[0]!r}; known: {', '.join(SESSION_STATUSES)}")
    labels = params.many("label", split=False)
    for label in labels:
        if "=" not in label or not label.split("=", 1)[0]:
            raise params.invalid("label", f"{label[:100]!r} is not key=value")
        key, value = label.split("=", 1)
        if len(key) > 64 or len(value) > 256:  # the longest label ingest stores
            raise params.invalid("label", "a label key has at most 64 characters and its value 256")
    return SessionFilters(
        agent_ids=params.many("agent"),
        models=params.many("model"),
        providers=params.many("provider"),
        statuses=statuses,
        labels=labels,
        start=start,
        end=end,
        text=request.args.get("q") or None,
    )


def sessions():
    """Sessions, newest first by default, filtered; cursor pagination (``next_cursor``)."""
    filters = _filters()
    sort = params.choice("sort", SORTS, "started_at")
    order = params.choice("order", ("asc", "desc"), "desc")
    limit = params.integer("limit", 100, 1, MAX_LIMIT)
    try:
        page = app_context().read_repo.sessions_page(
            filters, sort=sort, descending=order == "desc", cursor=params.text("cursor"), limit=limit
        )
    except CursorError as exc:
        raise params.invalid("cursor", str(exc)) from None
    return json_response(
        {"sessions": [shapes.session_json(r) for r in page.rows], "next_cursor": page.next_cursor}
    )


def session_detail(session_id: str):
    """One session: its usage timeline, logs, commands and token and cost breakdown."""
    found = app_context().read_repo.session_detail(session_id)
    if found is None:
        raise Refused(404, "unknown_session", f"no session {session_id}", {"session_id": session_id})
    return json_response(shapes.session_detail_json(found))


def usage():
    """Totals and a daily (or hourly) series over a range, split by model, provider or agent."""
    tz, z = params.time_zone()
    start, end = params.time_range(z)
    group_by = params.choice("group_by", tuple(USAGE_GROUPS), "day")
    granularity = params.choice("granularity", ("day", "hour"), "day")
    params.series_range(start, end, granularity)
    repo = app_context().read_repo
    totals, rows = repo.usage_overview(
        start, end, group_by=USAGE_GROUPS[group_by], tz=tz, granularity=granularity
    )
    pruned = raw_usage_pruned_before(repo)
    return json_response(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "tz": tz,
            "group_by": group_by,
            "granularity": granularity,
            "raw_usage_pruned_before": pruned.isoformat() if pruned else None,
            "totals": shapes.with_usd(totals),
            "series": shapes.series_json(rows),
        }
    )


def model_matrix():
    """Success per model x task kind with 95% intervals; models ranked by rate and by successes per dollar."""
    _tz, z = params.time_zone()
    start, end = params.time_range(z)
    min_samples = params.integer("min_samples", 20, 1, 1_000_000)
    rows = matrix.model_matrix_rows(app_context().read_repo, start, end)
    return json_response(
        {"from": start.isoformat(), "to": end.isoformat(), **shapes.matrix_json(rows, min_samples)}
    )
