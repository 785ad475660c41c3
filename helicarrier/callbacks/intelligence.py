"""Intelligence callbacks: read the controls, ask the repository, shape figures and tables.

Each chart and table is drawn from one frame (``*_frame`` below); its CSV download recomputes the same frame
from the same controls, so the file holds exactly what the chart shows, with the active filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import dash
from dash import Input, Output, State, html, no_update
from dash import ctx as dash_ctx

from helicarrier.alerts import engine as alert_engine
from helicarrier.analytics.matrix import model_matrix
from helicarrier.budgets.burn import burn_rows
from helicarrier.callbacks.registry import Callbacks
from helicarrier.callbacks.unchanged import if_changed
from helicarrier.context import AppContext
from helicarrier.data.types import utcnow
from helicarrier.layouts.intelligence import HOURLY_MAX_DAYS, ID, MIN_SAMPLES, TOKEN_KINDS, default_range
from helicarrier.layouts.intelligence_charts import (
    chart_frame,
    cost_figure,
    heatmap_figure,
    heatmap_height,
    paired_colors,
    tokens_figure,
)
from helicarrier.layouts.intelligence_ids import DOWNLOADS
from helicarrier.layouts.intelligence_matrix import ALL_KINDS, matrix_cells, ranked_rows, value_rows
from helicarrier.layouts.intelligence_panels import (
    active_alerts_view,
    budgets_view,
    kpi_cards,
    mtd_view,
    ranked_table,
    reports_list,
    value_table,
)
from helicarrier.layouts.ledger_csv import records_download
from helicarrier.layouts.ledger_filters import day_bounds
from helicarrier.layouts.url_state import intel_preset_days, intel_query, ledger_link
from helicarrier.localtime import FIRST_YEAR, LAST_YEAR, zone
from helicarrier.names import agent_labels, hover_ids, model_labels
from helicarrier.reports.jobs import list_reports
from helicarrier.retention.service import raw_usage_pruned_before

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd

TOKEN_LABELS = dict(TOKEN_KINDS)
DOWNLOAD_OF = {button: key for key, button in ID.DOWNLOAD_BUTTON.items()}  # button id -> what it downloads
DATES = (Input(ID.DATES, "start_date"), Input(ID.DATES, "end_date"))

CALLBACKS = Callbacks()


@dataclass(frozen=True)
class Query:
    """The page's controls, resolved: a UTC half-open range [start, end) of whole days in ``tz``."""

    first: str
    last: str
    tz: str
    start: datetime
    end: datetime
    group: str = "model"
    granularity: str = "day"
    notice: str | None = None  # why the controls were not taken as given (a zone that is not one)

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))

    @property
    def label(self) -> str:
        return f"{self.first}_{self.last}_{self.tz.replace('/', '-')}"


def resolve_zone(tz: str | None) -> tuple[str, str | None]:
    """The zone to show, and a notice when the one asked for is not an IANA zone (then UTC is shown)."""
    name = tz or "UTC"
    try:
        zone(name)
    except ValueError as exc:
        return "UTC", f"{exc}: showing UTC"
    return name, None


def _picked(value: str | None, default: str) -> str:
    """A date picker's value as YYYY-MM-DD, or ``default`` when it is not a date in the years allowed."""
    try:
        d = date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return default
    return d.isoformat() if FIRST_YEAR <= d.year <= LAST_YEAR else default


def make_query(start_date, end_date, tz, group=None, granularity=None) -> Query:
    first, last = default_range()
    first, last = _picked(start_date, first), _picked(end_date, last)
    if last < first:
        first, last = last, first
    tz, notice = resolve_zone(tz)
    lo, hi = day_bounds(first, last, tz)
    hourly = granularity == "hour" and (hi - lo).total_seconds() <= HOURLY_MAX_DAYS * 86400
    return Query(first, last, tz, lo, hi, group or "model", "hour" if hourly else "day", notice)


def series(ctx: AppContext, q: Query) -> pd.DataFrame:
    return ctx.read_repo.usage_series(q.start, q.end, group_by=q.group, tz=q.tz, granularity=q.granularity)


def group_labels(ctx: AppContext, group: str, data: pd.DataFrame) -> dict[str, str]:
    """The charts' display names: models by their short id, agents by name (helicarrier.names)."""
    groups = [] if data is None or data.empty else [str(g) for g in data["group"].dropna().unique()]
    if group == "model":
        return model_labels(groups)
    if group == "agent":
        return agent_labels(groups, ctx.read_repo.agent_names(groups))
    return {}


def cost_frame(ctx: AppContext, q: Query) -> pd.DataFrame:
    return chart_frame(series(ctx, q), ["cost_nanos", "unpriced_events"])


def tokens_frame(ctx: AppContext, q: Query, kind: str) -> pd.DataFrame:
    return chart_frame(series(ctx, q), [kind])


def matrix_frame(ctx: AppContext, q: Query) -> pd.DataFrame:
    return model_matrix(ctx.read_repo, q.start, q.end)


def download_payload(
    ctx: AppContext, which: str, q: Query, token_kind: str, matrix_kind: str
) -> dict[str, Any]:
    """The CSV of one chart or table, for the controls as they are."""
    kind_label = "all-kinds" if matrix_kind == ALL_KINDS else matrix_kind
    if which == "totals":
        totals = ctx.read_repo.usage_totals(q.start, q.end)
        return records_download(f"totals-{q.label}", [{"from": q.first, "to": q.last, "tz": q.tz, **totals}])
    if which == "cost":
        return records_download(f"cost-by-{q.group}-{q.granularity}-{q.label}", cost_frame(ctx, q))
    if which == "tokens":
        frame = tokens_frame(ctx, q, token_kind)
        return records_download(f"{token_kind}-by-{q.group}-{q.granularity}-{q.label}", frame)
    if which == "mtd":
        mtd = ctx.read_repo.month_to_date(utcnow(), tz=q.tz)  # q.tz is a zone (resolve_zone)
        return records_download(f"month-to-date-{q.tz}", [{"tz": q.tz, **mtd}])
    frame = matrix_frame(ctx, q)
    if which == "matrix":
        return records_download(f"model-matrix-{q.label}", matrix_cells(frame, MIN_SAMPLES))
    if which == "ranked":
        return records_download(
            f"model-ranking-{kind_label}-{q.label}", ranked_rows(frame, matrix_kind, MIN_SAMPLES)
        )
    rows = value_rows(frame, matrix_kind, MIN_SAMPLES)
    return records_download(f"successes-per-dollar-{kind_label}-{q.label}", rows)


def _rollups_note(ctx: AppContext, q: Query) -> str:
    """Where part of the range lies before retention's cutoff for raw usage: its figures come from the
    rollups alone (exact, as the range is whole local days), and the Ledger has no per-call detail there."""
    pruned = raw_usage_pruned_before(ctx.read_repo)
    if pruned is None or q.start >= pruned:
        return ""
    return f" · before {pruned.astimezone(zone(q.tz)):%Y-%m-%d %H:%M} from rollups only (raw events pruned)"


def _range_note(q: Query, unpriced: int, rollups_note: str = "") -> str:
    note = f"{q.first} → {q.last} · {q.tz} · per {q.granularity}" + (f" · {q.notice}" if q.notice else "")
    return note + (f" · {unpriced:,} unpriced events not in cost" if unpriced else "") + rollups_note


@CALLBACKS.on(
    Output(ID.GRANULARITY, "options"),
    Output(ID.GRANULARITY, "value"),
    Output(ID.GRANULARITY_NOTE, "children"),
    *DATES,
    State(ID.GRANULARITY, "value"),
)
def granularity(_ctx: AppContext, start, end, value):
    q = make_query(start, end, "UTC")
    short = q.days <= HOURLY_MAX_DAYS
    options = [
        {"label": "Day", "value": "day"},
        {"label": "Hour", "value": "hour", "disabled": not short},
    ]
    # Said beside the control, not only in a tooltip: a disabled button gives no other hint.
    note = "" if short else f"Hour: for ranges of {HOURLY_MAX_DAYS} days or less ({q.days} chosen)."
    return options, value if short else "day", note


@CALLBACKS.on(
    Output(ID.TOTALS, "children"), Output(ID.TOTALS_NOTE, "children"), *DATES, Input(ID.TZ, "value")
)
def totals(ctx: AppContext, start, end, tz):
    q = make_query(start, end, tz)
    note = f"{q.first} → {q.last} · {q.tz}" + (f" · {q.notice}" if q.notice else "") + _rollups_note(ctx, q)
    return kpi_cards(ctx.read_repo.usage_totals(q.start, q.end)), note


@CALLBACKS.on(
    Output(ID.COST_CHART, "figure"),
    Output(ID.COST_NOTE, "children"),
    Output(ID.TOKENS_CHART, "figure"),
    Output(ID.TOKENS_NOTE, "children"),
    *DATES,
    Input(ID.TZ, "value"),
    Input(ID.GROUP, "value"),
    Input(ID.GRANULARITY, "value"),
    Input(ID.TOKEN_KIND, "value"),
)
def charts(ctx: AppContext, start, end, tz, group, gran, kind):
    q = make_query(start, end, tz, group, gran)
    kind = kind if kind in TOKEN_LABELS else "input_tokens"
    data = series(ctx, q)
    labels = group_labels(ctx, q.group, data)
    costs = chart_frame(data, ["cost_nanos", "unpriced_events"], labels=labels)
    tokens = chart_frame(data, [kind], labels=labels)
    unpriced = int(costs["unpriced_events"].sum()) if not costs.empty else 0
    rollups = _rollups_note(ctx, q)
    colors = paired_colors(costs, tokens, kind)  # a model is one colour in both charts
    ids = hover_ids(labels)
    return (
        cost_figure(costs, colors, ids),
        _range_note(q, unpriced, rollups),
        tokens_figure(tokens, kind, TOKEN_LABELS[kind], colors, ids),
        _range_note(q, 0, rollups),
    )


def month_to_date_panel(ctx: AppContext, tz: str | None, now: datetime | None = None) -> html.Div:
    """Month-to-date spend in ``tz``; in UTC, with a notice saying so, when ``tz`` is not a zone."""
    name, notice = resolve_zone(tz)
    view = mtd_view(ctx.read_repo.month_to_date(now or utcnow(), tz=name), name)
    if notice is None:
        return view
    return html.Div([html.Div(notice, className="small text-warning mb-2", id=ID.MTD_NOTICE), view])


@CALLBACKS.on(Output(ID.MTD, "children"), Input(ID.TZ, "value"))
def month_to_date(ctx: AppContext, tz):
    return month_to_date_panel(ctx, tz)


@CALLBACKS.on(
    Output(ID.MATRIX_CHART, "figure"),
    Output(ID.MATRIX_CHART, "style"),
    Output(ID.MATRIX_NOTE, "children"),
    Output(ID.MATRIX_KIND, "options"),
    Output(ID.RANKED, "children"),
    Output(ID.VALUE, "children"),
    Output(ID.RANKED_HINT, "style"),
    Output(ID.MATRIX_MODELS, "data"),
    *DATES,
    Input(ID.TZ, "value"),
    Input(ID.MATRIX_KIND, "value"),
)
def matrix(ctx: AppContext, start, end, tz, kind):
    q = make_query(start, end, tz)
    frame = matrix_frame(ctx, q)
    cells = matrix_cells(frame, MIN_SAMPLES)
    kinds = sorted({str(k) for k in frame["task_kind"].dropna()}) if not frame.empty else []
    kind = kind if kind in kinds else ALL_KINDS
    options = [{"label": "All task kinds", "value": ALL_KINDS}] + [{"label": k, "value": k} for k in kinds]
    sessions = int(frame["total"].sum()) if not frame.empty else 0
    note = f"{sessions:,} finished sessions · {q.first} → {q.last}"
    return (
        heatmap_figure(cells, MIN_SAMPLES),
        {"height": f"{heatmap_height(cells)}px"},
        note,
        options,
        ranked_table(ranked_rows(frame, kind, MIN_SAMPLES)),
        value_table(value_rows(frame, kind, MIN_SAMPLES)),
        None if kind == ALL_KINDS else {"display": "none"},
        sorted(cells["model"].unique(), key=str) if not cells.empty else [],  # the heatmap's row order
    )


@CALLBACKS.on(
    Output(ID.NAV, "href"),
    Input(ID.MATRIX_CHART, "clickData"),
    State(ID.MATRIX_MODELS, "data"),
    *(State(d.component_id, d.component_property) for d in DATES),
    prevent_initial_call=True,
)
def open_ledger_for_cell(_ctx: AppContext, click, models, start, end):
    """A heatmap cell opens the Ledger on that model's sessions of the range (a model's row is what the
    Ledger can filter on; the task kind is in the cell's hover)."""
    points = (click or {}).get("points") or []
    row = points[0].get("y") if points and isinstance(points[0], dict) else None
    if not isinstance(row, int) or not models or not 0 <= row < len(models):
        return no_update
    q = make_query(start, end, "UTC")
    return ledger_link(model=str(models[row]), start=q.first, end=q.last)


@CALLBACKS.on(
    Output(ID.DATES, "start_date"),
    Output(ID.DATES, "end_date"),
    *(Input(ID.PRESET[k], "n_clicks") for k in ID.PRESET),
    State(ID.TZ, "value"),
    prevent_initial_call=True,
)
def preset(_ctx: AppContext, *args):
    """Today, the last 7 or 30 days, this month: whole days in the chosen zone, ending today there."""
    key = next((k for k, i in ID.PRESET.items() if i == dash_ctx.triggered_id), None)
    if key is None or not any(args[:-1]):
        return no_update, no_update
    tz, _notice = resolve_zone(args[-1])
    return intel_preset_days(key, utcnow().astimezone(zone(tz)).date())


@CALLBACKS.on(Output(ID.URL_STATE, "data"), *DATES, Input(ID.TZ, "value"), Input(ID.GROUP, "value"))
def url_state(_ctx: AppContext, start, end, tz, group):
    return intel_query(start, end, tz, group)


# The range, zone and grouping go into the address bar (no reload, no history entry per change).
CALLBACKS.clientside(
    """function(query) {
        if (typeof query === "string" && window.location.pathname === "/intelligence"
                && window.location.search !== query) {
            window.history.replaceState(window.history.state, "", "/intelligence" + query);
        }
        return window.dash_clientside.no_update;
    }""",
    Output(ID.URL_STATE, "modified_timestamp"),
    Input(ID.URL_STATE, "data"),
)


@CALLBACKS.on(
    Output(ID.ALERTS, "children"),
    Output(ID.ALERTS_SHOWN, "data"),
    Input(ID.ALERTS_INTERVAL, "n_intervals"),
    State(ID.ALERTS_SHOWN, "data"),
)
def active_alerts(ctx: AppContext, _n, shown):
    """Firing before pending, critical first; redrawn only when what it shows changes."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    alerts = alert_engine.feed(ctx.repo, utcnow(), states=("firing", "pending"))
    alerts.sort(key=lambda a: (a["state"] != "firing", rank.get(a.get("severity"), 3), -int(a["id"])))
    return if_changed(active_alerts_view(alerts), shown)


@CALLBACKS.on(Output(ID.REPORTS, "children"), Input(ID.REPORTS_REFRESH, "n_clicks"))
def reports(ctx: AppContext, _n):
    return reports_list(list_reports(ctx.settings.data_dir))


@CALLBACKS.on(
    Output(ID.DOWNLOAD, "data"),
    *(Input(ID.DOWNLOAD_BUTTON[k], "n_clicks") for k in DOWNLOADS),
    State(ID.DATES, "start_date"),
    State(ID.DATES, "end_date"),
    State(ID.TZ, "value"),
    State(ID.GROUP, "value"),
    State(ID.GRANULARITY, "value"),
    State(ID.TOKEN_KIND, "value"),
    State(ID.MATRIX_KIND, "value"),
    prevent_initial_call=True,
)
def download(ctx: AppContext, *args):
    start, end, tz, group, gran, kind, matrix_kind = args[len(DOWNLOADS) :]
    which = DOWNLOAD_OF.get(dash_ctx.triggered_id or "")
    if which is None or not any(args[: len(DOWNLOADS)]):
        return no_update
    q = make_query(start, end, tz, group, gran)
    kind = kind if kind in TOKEN_LABELS else "input_tokens"
    return download_payload(ctx, which, q, kind, matrix_kind or ALL_KINDS)


def register(app: dash.Dash, ctx: AppContext) -> None:
    CALLBACKS.register(app, ctx)


@CALLBACKS.on(
    Output(ID.BUDGETS, "children"),
    Output(ID.BUDGETS_SHOWN, "data"),
    Input(ID.ALERTS_INTERVAL, "n_intervals"),
    State(ID.BUDGETS_SHOWN, "data"),
)
def budgets(ctx: AppContext, _n, shown):
    """As of the last evaluation (the leader's job); redrawn only when what it shows changes."""
    return if_changed(budgets_view(burn_rows(ctx.repo.budgets(), utcnow())), shown)
