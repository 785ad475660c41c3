"""Ledger callbacks: thin wiring between the page and the repository's session queries."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import dash
from dash import Input, Output, State, no_update

from helicarrier.analytics.filters import SessionFilters
from helicarrier.callbacks.registry import Callbacks
from helicarrier.context import AppContext
from helicarrier.layouts.ledger import EXPORT_CAP, ID
from helicarrier.layouts.ledger_csv import csv_download
from helicarrier.layouts.ledger_detail import not_found, session_view
from helicarrier.layouts.ledger_filters import FILTER_IDS, MULTI_FILTERS, build_filters
from helicarrier.layouts.ledger_grid import BLOCK_SIZE, EMPTY_ROW, EMPTY_ROW_ID, grid_row, sort_from_model
from helicarrier.layouts.ledger_timeline import usage_csv_rows
from helicarrier.layouts.url_state import ledger_query
from helicarrier.money import nanos_to_usd
from helicarrier.names import agent_labels
from helicarrier.retention.service import raw_usage_pruned_before

EXPORT_CHUNK = 5000
SESSION_CSV_COLUMNS = (
    "id",
    "started_at",
    "ended_at",
    "agent_id",
    "model",
    "provider",
    "task",
    "task_kind",
    "status",
    "error",
    "runtime_s",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_nanos",
    "cost_usd",
    "unpriced_events",
    "pricing_version",
    "labels",
)

CALLBACKS = Callbacks()


def _filter_deps(kind: type) -> list:
    """The filter controls, in build_filters' argument order."""
    return [
        *(kind(i, "value") for i in FILTER_IDS),
        kind(ID.DATES, "start_date"),
        kind(ID.DATES, "end_date"),
        kind(ID.SEARCH, "value"),
        kind(ID.PRESET, "value"),
    ]


def _options(values: list[Any] | None) -> list[dict[str, str]]:
    out = []
    for v in values or []:
        value = v.get("value") if isinstance(v, dict) else v
        if value is not None:
            option = {
                "label": str(v.get("label", value)) if isinstance(v, dict) else str(value),
                "value": value,
            }
            if isinstance(v, dict) and v.get("title"):
                option["title"] = str(v["title"])
            out.append(option)
    return out


def csv_cell(row: dict[str, Any], key: str) -> Any:
    if key == "cost_usd":
        return nanos_to_usd(row.get("cost_nanos"))
    v = row.get(key)
    if key == "labels":
        return ";".join(f"{k}={val}" for k, val in sorted((v or {}).items()))
    return v.isoformat() if hasattr(v, "isoformat") else v


def export_rows(
    ctx: AppContext, filters: SessionFilters, sort: str, descending: bool, cap: int
) -> tuple[list, bool]:
    """At most ``cap`` session rows for the CSV, paged by cursor; and whether more matched."""
    rows: list[list[Any]] = []
    cursor = None
    while len(rows) < cap:
        page = ctx.read_repo.sessions_page(
            filters, sort=sort, descending=descending, cursor=cursor, limit=min(EXPORT_CHUNK, cap - len(rows))
        )
        rows.extend([csv_cell(r, k) for k in SESSION_CSV_COLUMNS] for r in page.rows)
        cursor = page.next_cursor
        if not cursor or not page.rows:
            return rows, False
    return rows, True


def rows_response(ctx: AppContext, request: dict | None, filters: SessionFilters) -> dict[str, Any]:
    """One block of the infinite row model; the row count is told once the last block is reached."""
    request = request or {}
    start = int(request.get("startRow") or 0)
    end = int(request.get("endRow") or start + BLOCK_SIZE)
    limit = max(1, min(end - start, 1000))
    sort, descending = sort_from_model(request.get("sortModel"))
    rows = ctx.read_repo.sessions_rows(filters, sort=sort, descending=descending, offset=start, limit=limit)
    if not rows and start == 0:
        return {"rowData": [EMPTY_ROW], "rowCount": 1}
    count = start + len(rows) if len(rows) < limit else -1
    names = agent_labels(ids := [r["agent_id"] for r in rows], ctx.read_repo.agent_names(ids))
    return {"rowData": [grid_row(r, names) for r in rows], "rowCount": count}


def _download_note(ctx: AppContext, filters: SessionFilters, rows: list, more: bool) -> str:
    if not more:
        return f"Downloaded {len(rows):,} session{'s' if len(rows) != 1 else ''}."
    total = ctx.read_repo.session_count(filters)
    return f"Downloaded the first {len(rows):,} of {total:,} matching sessions (the cap is {EXPORT_CAP:,})."


@CALLBACKS.on(
    *(Output(i, "options") for i in FILTER_IDS),
    Input(ID.OPTIONS_LOAD, "data"),
    *(State(i, "value") for i in FILTER_IDS),
)
def load_options(ctx: AppContext, _, *selected):
    """Every value the database knows, plus any a link selected that it does not (shown, matching nothing,
    rather than silently dropped from the filter)."""
    opts = ctx.read_repo.filter_options()
    agents = opts.get("agents") or []
    names = agent_labels(agents, ctx.read_repo.agent_names(agents))
    # Agents by name, as on every page; the id on hover (and still what the filter and the URL hold).
    opts["agents"] = [{"label": names[a], "value": a, "title": a} for a in agents]
    out = []
    for (_, _, key, _), chosen in zip(MULTI_FILTERS, selected, strict=True):
        options = _options(opts.get(key))
        known = {o["value"] for o in options}
        out.append(options + [{"label": str(v), "value": v} for v in chosen or [] if v not in known])
    return tuple(out)


@CALLBACKS.on(
    Output(ID.DATES, "start_date", allow_duplicate=True),
    Output(ID.DATES, "end_date", allow_duplicate=True),
    Output(ID.PRESET, "value", allow_duplicate=True),
    Input(ID.DATES, "start_date"),
    Input(ID.DATES, "end_date"),
    Input(ID.PRESET, "value"),
    prevent_initial_call=True,
)
def one_range(_ctx: AppContext, start, end, preset):
    """Dates and a preset range exclude each other: the one just picked wins."""
    if dash.callback_context.triggered_id == ID.PRESET:
        return (None, None, no_update) if preset else (no_update, no_update, no_update)
    return no_update, no_update, (None if start or end else no_update)


@CALLBACKS.on(Output(ID.URL_STATE, "data"), *_filter_deps(Input))
def url_state(_ctx: AppContext, *values):
    lists = {url_key: v for (_, _, _, url_key), v in zip(MULTI_FILTERS, values, strict=False)}
    start, end, text, preset = values[len(FILTER_IDS) :]
    return ledger_query(lists, start, end, text, preset)


# The filters go into the address bar without a reload or a history entry per keystroke (Back leaves the
# Ledger, as in Grafana), and are remembered for the session page's "← Ledger".
CALLBACKS.clientside(
    """function(query) {
        if (typeof query !== "string") { return window.dash_clientside.no_update; }
        if (window.location.pathname === "/ledger" && window.location.search !== query) {
            window.history.replaceState(window.history.state, "", "/ledger" + query + window.location.hash);
        }
        try { window.sessionStorage.setItem("helicarrier.ledger.query", query); } catch (e) {}
        return window.dash_clientside.no_update;
    }""",
    Output(ID.URL_STATE, "modified_timestamp"),
    Input(ID.URL_STATE, "data"),
)
CALLBACKS.clientside(
    """function(_session) {
        let query = "";
        try { query = window.sessionStorage.getItem("helicarrier.ledger.query") || ""; } catch (e) {}
        return "/ledger" + (query.startsWith("?") ? query : "");
    }""",
    Output(ID.DETAIL_BACK, "href"),
    Input(ID.DETAIL_SESSION, "data"),
)


@CALLBACKS.on(
    *(Output(i, "value") for i in FILTER_IDS),
    Output(ID.DATES, "start_date"),
    Output(ID.DATES, "end_date"),
    Output(ID.SEARCH, "value"),
    Output(ID.PRESET, "value"),
    Input(ID.CLEAR, "n_clicks"),
    prevent_initial_call=True,
)
def clear(_ctx: AppContext, _n):
    return (*([] for _ in FILTER_IDS), None, None, "", None)


@CALLBACKS.on(Output(ID.COUNT, "children"), *_filter_deps(Input))
def count(ctx: AppContext, *values):
    n = ctx.read_repo.session_count(build_filters(*values))
    return f"{n:,} session{'s' if n != 1 else ''}"


# A filter changed: the grid drops its cached blocks and asks again (getRowsRequest below).
CALLBACKS.clientside(
    f"""function() {{
        const api = window.dash_ag_grid && window.dash_ag_grid.getApi({json.dumps(ID.GRID)});
        if (api) {{ api.purgeInfiniteCache(); }}
        return Date.now();
    }}""",
    Output(ID.REFRESH, "data"),
    *_filter_deps(Input),
    prevent_initial_call=True,
)


@CALLBACKS.on(
    Output(ID.GRID, "getRowsResponse"),
    Input(ID.GRID, "getRowsRequest"),
    *_filter_deps(State),
    prevent_initial_call=True,
)
def rows(ctx: AppContext, request, *values):
    if request is None:
        return no_update
    return rows_response(ctx, request, build_filters(*values))


# The whole href, not the pathname: the Location compares each part with the props it had at mount, and the
# filters written into the address bar since then (replaceState) made a pathname change push "/ledger".
@CALLBACKS.on(Output(ID.NAV, "href"), Input(ID.GRID, "cellClicked"), prevent_initial_call=True)
def open_session(_ctx: AppContext, clicked):
    row_id = (clicked or {}).get("rowId")
    if not row_id or row_id == EMPTY_ROW_ID:
        return no_update
    return f"/ledger/{quote(str(row_id), safe='')}"


@CALLBACKS.on(
    Output(ID.DOWNLOAD, "data"),
    Output(ID.DOWNLOAD_NOTE, "children"),
    Input(ID.DOWNLOAD_BUTTON, "n_clicks"),
    State(ID.GRID, "getRowsRequest"),
    *_filter_deps(State),
    prevent_initial_call=True,
)
def download(ctx: AppContext, _n, request, *values):
    filters = build_filters(*values)
    sort, descending = sort_from_model((request or {}).get("sortModel"))
    rows, more = export_rows(ctx, filters, sort, descending, EXPORT_CAP)
    return csv_download("sessions", SESSION_CSV_COLUMNS, rows), _download_note(ctx, filters, rows, more)


@CALLBACKS.on(Output(ID.DETAIL_BODY, "children"), Input(ID.DETAIL_SESSION, "data"))
def detail(ctx: AppContext, session_id):
    found = ctx.read_repo.session_detail(session_id) if session_id else None
    if not found:
        return not_found(session_id or "")
    found = {**found, "sentinel": ctx.read_repo.list_findings(session_id=session_id, limit=20)}
    return session_view(found, raw_usage_pruned_before(ctx.read_repo))


@CALLBACKS.on(
    Output(ID.DETAIL_DOWNLOAD, "data"),
    Input(ID.DETAIL_DOWNLOAD_BUTTON, "n_clicks"),
    State(ID.DETAIL_SESSION, "data"),
    prevent_initial_call=True,
)
def download_usage(ctx: AppContext, _n, session_id):
    found = ctx.read_repo.session_detail(session_id) if session_id else None
    if not found:
        return no_update
    header, rows = usage_csv_rows(found.get("usage") or [])
    return csv_download(f"session-{session_id}-usage", header, rows)


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)
