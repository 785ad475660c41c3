"""The Ledger's sessions grid: column definitions, the grid component and the shaping of repository rows
into grid rows. Sorting and filtering happen on the server (AG Grid's infinite row model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_ag_grid as dag

from helicarrier.formatting import format_duration, format_tokens
from helicarrier.layouts.ledger_ids import ID
from helicarrier.money import format_usd
from helicarrier.names import short_model

BLOCK_SIZE = 100  # rows per getRowsRequest

# What the grid shows for a query that matched nothing: one row that says so, spanning every column. The
# grid is never told "0 rows": dash-ag-grid 35.3 then delivers no later answer (its workaround for a zero
# count cancels its own timer), and the Ledger stayed blank until a reload. A session id cannot start with
# a space (ingest strips them), so this id is never a session's.
EMPTY_ROW_ID = " no-match "
EMPTY_MESSAGE = "No sessions match these filters. Clear them, or widen the dates."
EMPTY_ROW = {"id": EMPTY_ROW_ID, "empty": True, "start": EMPTY_MESSAGE}

# Session statuses (helicarrier.ingest.schemas) -> colour and icon: status is never told by colour alone.
SESSION_STATUS_COLORS = {
    "running": "#38e1ff",
    "succeeded": "#3ddc97",
    "failed": "#f87171",
    "killed": "#f87171",
    "timeout": "#fbbf24",
}
SESSION_STATUS_ICONS = {
    "running": "bi-play-circle-fill",
    "succeeded": "bi-check-circle-fill",
    "failed": "bi-x-circle-fill",
    "killed": "bi-x-octagon-fill",
    "timeout": "bi-hourglass-bottom",
}
_STATUS_MARK = {"running": "▶", "succeeded": "✓", "failed": "✗", "killed": "■", "timeout": "⧗"}

# colId -> the repository's sort key. The grid reports sorts by colId; anything else sorts by start.
SORT_KEYS = {
    "started_at": "started_at",
    "agent_id": "agent_id",
    "model": "model",
    "status": "status",
    "runtime_s": "runtime_s",
    "total_tokens": "total_tokens",
    "cost_nanos": "cost_nanos",
}

_NUM = {"cellClass": "num", "type": "rightAligned"}

COLUMNS: list[dict[str, Any]] = [
    {
        "headerName": "Start (UTC)",
        "field": "start",
        "colId": "started_at",
        "sort": "desc",
        "minWidth": 170,
        "colSpan": {"function": "params.data && params.data.empty ? 99 : 1"},
    },
    # Names shown, ids on hover (helicarrier.names); the columns sort by id.
    {
        "headerName": "Agent",
        "field": "agent",
        "colId": "agent_id",
        "tooltipField": "agent_id",
        "minWidth": 120,
    },
    {"headerName": "Model", "field": "model", "colId": "model", "tooltipField": "model_id", "minWidth": 150},
    {
        "headerName": "Task",
        "field": "task",
        "tooltipField": "task",
        "flex": 3,
        "minWidth": 220,
        "sortable": False,
    },
    {
        "headerName": "Status",
        "field": "status_label",
        "colId": "status",
        "minWidth": 120,
        "cellStyle": {
            "styleConditions": [
                {"condition": f"params.data && params.data.status === '{s}'", "style": {"color": c}}
                for s, c in SESSION_STATUS_COLORS.items()
            ]
        },
    },
    {"headerName": "Runtime", "field": "runtime", "colId": "runtime_s", "minWidth": 100, **_NUM},
    {"headerName": "Tokens", "field": "tokens", "colId": "total_tokens", "minWidth": 100, **_NUM},
    {
        "headerName": "Cost",
        "field": "cost",
        "colId": "cost_nanos",
        "minWidth": 150,
        "headerTooltip": "Computed cost; 'unpriced' counts usage events no price book could price",
        "cellStyle": {
            "styleConditions": [
                {
                    "condition": "params.data && params.data.unpriced_events > 0",
                    "style": {"color": "#fbbf24"},
                }
            ]
        },
        **_NUM,
    },
    {
        "headerName": "Pricing",
        "field": "pricing_version",
        "tooltipField": "pricing_version",
        "minWidth": 160,
        "cellClass": "mono",
        "sortable": False,
    },
]


def sessions_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=ID.GRID,
        columnDefs=COLUMNS,
        defaultColDef={
            "sortable": True,
            "filter": False,
            "resizable": True,
            "flex": 1,
            "suppressMovable": True,
        },
        rowModelType="infinite",
        getRowId="params.data.id",
        dashGridOptions={
            "cacheBlockSize": BLOCK_SIZE,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 0,
            "tooltipShowDelay": 400,
            "rowHeight": 38,
            "suppressCellFocus": True,
            "getRowClass": {"function": "params.data && params.data.empty ? 'hud-grid-empty' : ''"},
        },
        className="hud-grid",
        style={"height": "620px", "width": "100%", "cursor": "pointer"},
    )


def sort_from_model(sort_model: list[dict] | None) -> tuple[str, bool]:
    """The repository's (sort key, descending) for the grid's sortModel; newest first when unsorted."""
    for item in sort_model or []:
        key = SORT_KEYS.get(item.get("colId"))
        if key:
            return key, item.get("sort") != "asc"
    return "started_at", True


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "–"


def cost_label(cost_nanos: int | None, unpriced_events: int | None) -> str:
    """USD from nanos; unpriced usage is said, never shown as $0."""
    unpriced = unpriced_events or 0
    if not unpriced:
        return format_usd(cost_nanos or 0)
    if not cost_nanos:
        return f"unpriced ({unpriced})"
    return f"{format_usd(cost_nanos)} + {unpriced} unpriced"


def status_label(status: str) -> str:
    return f"{_STATUS_MARK.get(status, '•')} {status}"


def grid_row(row: dict[str, Any], agent_names: dict[str, str] | None = None) -> dict[str, Any]:
    """A repository session row -> the display row the grid shows (values formatted here, sorted in SQL).
    ``agent_names``: agent id -> the name shown (helicarrier.names.agent_labels)."""
    agent_id = row.get("agent_id")
    return {
        "id": row["id"],
        "start": _ts(row.get("started_at")),
        "agent_id": agent_id,
        "agent": (agent_names or {}).get(agent_id) or agent_id,
        "model": short_model(row.get("model")) or "–",
        "model_id": row.get("model") or "",
        "task": row.get("task") or "",
        "status": row.get("status"),
        "status_label": status_label(row.get("status") or "?"),
        "runtime": format_duration(row.get("runtime_s")),
        "tokens": format_tokens(row.get("total_tokens")),
        "cost": cost_label(row.get("cost_nanos"), row.get("unpriced_events")),
        "unpriced_events": row.get("unpriced_events") or 0,
        "pricing_version": row.get("pricing_version") or "–",
    }
