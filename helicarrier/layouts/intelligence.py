"""Intelligence: usage analytics (totals, daily/hourly cost and tokens), month-to-date spend, the model
performance matrix, and the scheduled reports. Figures and panels are built in intelligence_*.py; the page's
ids are in intelligence_ids.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.layouts.intelligence_charts import empty_figure
from helicarrier.layouts.intelligence_ids import ID
from helicarrier.layouts.url_state import intel_from_query, intel_preset_days
from helicarrier.localtime import zone

DEFAULT_DAYS = 30
HOURLY_MAX_DAYS = 3
MIN_SAMPLES = 20
TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
)
GROUPS = (("model", "Model"), ("provider", "Provider"), ("agent", "Agent"))
TOKEN_KINDS = (
    ("input_tokens", "Input"),
    ("output_tokens", "Output"),
    ("cache_read_tokens", "Cache read"),
    ("cache_write_tokens", "Cache write"),
    ("reasoning_tokens", "Reasoning"),
)
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"], "responsive": True}


def default_range(today: date | None = None) -> tuple[str, str]:
    today = today or datetime.now(UTC).date()
    return (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), today.isoformat()


def _label(text: str, target: str) -> html.Label:
    return html.Label(text, htmlFor=target, className="kpi-label d-block mb-1")


def download_button(key: str, title: str) -> dbc.Button:
    return dbc.Button(
        [html.I(className="bi bi-download me-1", **{"aria-hidden": "true"}), "CSV"],
        id=ID.DOWNLOAD_BUTTON[key],
        size="sm",
        color="secondary",
        outline=True,
        n_clicks=0,
        title=title,
        className="py-0 px-2",
    )


def _header(icon: str, title: str, right=None, note_id: str | None = None) -> html.Div:
    right_parts = []
    if note_id:
        right_parts.append(html.Span(id=note_id, className="muted small"))
    if right is not None:
        right_parts.append(right)
    return html.Div(
        [
            html.Span([html.I(className=f"bi {icon}", **{"aria-hidden": "true"}), title]),
            html.Div(right_parts, className="d-flex align-items-center gap-3"),
        ],
        className="glass-header",
    )


PRESETS = (("today", "Today"), ("7d", "7 d"), ("30d", "30 d"), ("month", "This month"))


def _presets() -> html.Div:
    buttons = [
        dbc.Button(label, id=ID.PRESET[key], size="sm", color="primary", outline=True, n_clicks=0)
        for key, label in PRESETS
    ]
    return html.Div(
        buttons, className="btn-group btn-group-sm mt-1", role="group", **{"aria-label": "Presets"}
    )


def controls(query: str | None = None) -> html.Div:
    """The range, zone and grouping, from the URL's query string where it names them."""
    state = intel_from_query(query)
    tz = state["tz"] or "UTC"
    start, end = default_range()
    if state["range"]:
        start, end = intel_preset_days(state["range"], datetime.now(zone(tz)).date())
    start, end = state["from"] or start, state["to"] or end
    zones = TIMEZONES if tz in TIMEZONES else (*TIMEZONES, tz)  # a link's zone is offered, not replaced
    return html.Div(
        [
            html.Div(
                [
                    _label("Date range", ID.DATES),
                    dcc.DatePickerRange(
                        id=ID.DATES,
                        start_date=start,
                        end_date=end,
                        display_format="YYYY-MM-DD",
                        first_day_of_week=1,
                    ),
                    _presets(),
                ]
            ),
            html.Div(
                [
                    _label("Time zone", ID.TZ),
                    dcc.Dropdown(
                        id=ID.TZ,
                        options=[{"label": z, "value": z} for z in zones],
                        value=tz,
                        clearable=False,
                        style={"minWidth": "13rem"},
                    ),
                ]
            ),
            html.Div(
                [
                    _label("Group by", ID.GROUP),
                    dbc.RadioItems(
                        id=ID.GROUP,
                        options=[{"label": label, "value": v} for v, label in GROUPS],
                        value=state["group"] or "model",
                        inline=True,
                        className="btn-group btn-group-sm",
                        inputClassName="btn-check",
                        labelClassName="btn btn-sm btn-outline-primary",
                        labelCheckedClassName="active",
                    ),
                ]
            ),
            html.Div(
                [
                    _label("Granularity", ID.GRANULARITY),
                    dbc.RadioItems(
                        id=ID.GRANULARITY,
                        options=[
                            {"label": "Day", "value": "day"},
                            {"label": "Hour", "value": "hour", "disabled": True},
                        ],
                        value="day",
                        inline=True,
                        className="btn-group btn-group-sm",
                        inputClassName="btn-check",
                        labelClassName="btn btn-sm btn-outline-primary",
                        labelCheckedClassName="active",
                    ),
                    html.Div(id=ID.GRANULARITY_NOTE, className="small muted mt-1"),
                ],
                title=f"Hourly buckets for ranges of {HOURLY_MAX_DAYS} days or less",
            ),
        ],
        className="glass glass-body d-flex flex-wrap gap-4 align-items-end mb-3",
        id=ID.CONTROLS,
    )


def _chart_panel(key: str, chart_id: str, note_id: str, icon: str, title: str, extra=None) -> html.Div:
    right = html.Div(
        [extra, download_button(key, "The data of this chart, as CSV")],
        className="d-flex align-items-center gap-2",
    )
    return html.Div(
        [
            _header(icon, title, right, note_id=note_id),
            dcc.Loading(
                dcc.Graph(
                    id=chart_id,
                    figure=empty_figure("Loading…"),
                    config=GRAPH_CONFIG,
                    style={"height": "340px"},
                ),
                type="dot",
                color="#38e1ff",
            ),
        ],
        className="glass h-100",
    )


def usage_section() -> html.Div:
    token_kind = dcc.Dropdown(
        id=ID.TOKEN_KIND,
        options=[{"label": label, "value": v} for v, label in TOKEN_KINDS],
        value="input_tokens",
        clearable=False,
        searchable=False,
        style={"minWidth": "9rem"},
    )
    return html.Div(
        [
            html.Div(
                [
                    _header(
                        "bi-speedometer2",
                        "Totals",
                        download_button("totals", "These totals, as CSV"),
                        note_id=ID.TOTALS_NOTE,
                    ),
                    html.Div(id=ID.TOTALS, className="glass-body"),
                ],
                className="glass mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _chart_panel("cost", ID.COST_CHART, ID.COST_NOTE, "bi-currency-dollar", "Cost"),
                        xl=6,
                        className="mb-3",
                    ),
                    dbc.Col(
                        _chart_panel(
                            "tokens", ID.TOKENS_CHART, ID.TOKENS_NOTE, "bi-cpu", "Tokens", token_kind
                        ),
                        xl=6,
                        className="mb-3",
                    ),
                ]
            ),
        ]
    )


ALERTS_REFRESH_MS = 10_000


def alerts_panel() -> html.Div:
    """The roadmap's Intelligence panel shows alerts beside usage and the matrix: what fires now."""
    return html.Div(
        [
            _header("bi-bell", "Active alerts", dcc.Link("All alerts →", href="/alerts", className="small")),
            html.Div(id=ID.ALERTS, className="glass-body", style={"maxHeight": "260px", "overflowY": "auto"}),
            dcc.Interval(id=ID.ALERTS_INTERVAL, interval=ALERTS_REFRESH_MS),
            dcc.Store(id=ID.ALERTS_SHOWN),
        ],
        className="glass h-100",
    )


def budgets_panel() -> html.Div:
    """Budget locks (issue 16): how fast each budget burns and when it would run out; refreshed with the
    alerts."""
    return html.Div(
        [
            _header(
                "bi-piggy-bank", "Budgets", html.Span("burn, rate, projected exhaustion", className="small")
            ),
            html.Div(
                id=ID.BUDGETS, className="glass-body", style={"maxHeight": "260px", "overflowY": "auto"}
            ),
            dcc.Store(id=ID.BUDGETS_SHOWN),
        ],
        className="glass h-100",
    )


def mtd_panel() -> html.Div:
    return html.Div(
        [
            _header("bi-calendar3", "Month to date", download_button("mtd", "Month-to-date figures, as CSV")),
            html.Div(id=ID.MTD, className="glass-body"),
        ],
        className="glass h-100",
    )


def reports_panel() -> html.Div:
    return html.Div(
        [
            _header(
                "bi-file-earmark-spreadsheet",
                "Scheduled reports",
                dbc.Button(
                    html.I(className="bi bi-arrow-clockwise", **{"aria-label": "Refresh the list"}),
                    id=ID.REPORTS_REFRESH,
                    size="sm",
                    color="secondary",
                    outline=True,
                    n_clicks=0,
                    className="py-0 px-2",
                ),
            ),
            html.Div(
                id=ID.REPORTS,
                className="glass-body",
                style={"maxHeight": "260px", "overflowY": "auto"},
            ),
        ],
        className="glass h-100",
    )


def matrix_section() -> html.Div:
    kind = dcc.Dropdown(
        id=ID.MATRIX_KIND,
        options=[{"label": "All task kinds", "value": "__all__"}],
        value="__all__",
        clearable=False,
        style={"minWidth": "12rem"},
    )
    tabs = dbc.Tabs(
        [
            dbc.Tab(
                [
                    html.Div(
                        [download_button("matrix", "Every cell of the heatmap, as CSV")],
                        className="d-flex justify-content-end px-3 pt-2",
                    ),
                    dcc.Loading(
                        dcc.Graph(
                            id=ID.MATRIX_CHART,
                            figure=empty_figure("Loading…"),
                            config=GRAPH_CONFIG,
                            style={"height": "440px"},
                        ),
                        type="dot",
                        color="#38e1ff",
                    ),
                ],
                label="Heatmap",
                tab_id="heatmap",
            ),
            dbc.Tab(
                [
                    html.Div(
                        [
                            html.Span("Task kind", className="kpi-label"),
                            kind,
                            download_button("ranked", "This table, as CSV"),
                        ],
                        className="d-flex align-items-center gap-2 justify-content-end px-3 pt-2",
                    ),
                    html.Div(
                        "Summed over task kinds, runtimes cannot be combined: pick a task kind to see them.",
                        id=ID.RANKED_HINT,
                        className="muted small px-3 pt-2",
                    ),
                    html.Div(id=ID.RANKED, className="p-3"),
                ],
                label="Ranking",
                tab_id="ranked",
            ),
            dbc.Tab(
                [
                    html.Div(
                        [download_button("value", "This table, as CSV")],
                        className="d-flex justify-content-end px-3 pt-2",
                    ),
                    html.Div(id=ID.VALUE, className="p-3"),
                ],
                label="Successes per dollar",
                tab_id="value",
            ),
        ],
        id=ID.MATRIX_TABS,
        active_tab="heatmap",
        className="px-3 pt-2",
    )
    return html.Div(
        [
            _header("bi-grid-3x3", "Model performance", note_id=ID.MATRIX_NOTE),
            html.P(
                [
                    "Coloured and ranked by the lower bound of the 95% Wilson interval of the success rate, "
                    "not the raw rate, so 3/3 does not outrank 970/1000. Models whose intervals overlap are "
                    f"statistically tied. Cells with fewer than {MIN_SAMPLES} sessions are marked ",
                    html.Em("insufficient data"),
                    ".",
                ],
                className="muted small px-3 pt-3 mb-0",
            ),
            tabs,
        ],
        className="glass mb-3",
    )


def layout(subpath: str | None = None, query: str | None = None) -> html.Div:
    return html.Div(
        [
            html.H1("Intelligence", className="page-title"),
            controls(query),
            usage_section(),
            dbc.Row(
                [
                    dbc.Col(mtd_panel(), lg=4, className="mb-3"),
                    dbc.Col(alerts_panel(), lg=4, className="mb-3"),
                    dbc.Col(reports_panel(), lg=4, className="mb-3"),
                ]
            ),
            dbc.Row([dbc.Col(budgets_panel(), lg=8, className="mb-3")]),
            matrix_section(),
            dcc.Download(id=ID.DOWNLOAD),
            dcc.Store(id=ID.URL_STATE),
            dcc.Store(id=ID.MATRIX_MODELS),
            dcc.Location(id=ID.NAV, refresh="callback-nav"),
        ],
        id=ID.PAGE,
    )
