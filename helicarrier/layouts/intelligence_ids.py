"""The Intelligence page's component ids (its layout spans intelligence.py and the intelligence_*.py
modules)."""

from __future__ import annotations

# What the page offers as CSV, one button each: the totals, each chart and each table.
DOWNLOADS = ("totals", "cost", "tokens", "mtd", "matrix", "ranked", "value")
# The KPI cards of the totals panel.
KPI_KEYS = (
    "cost", "cost-per-success", "sessions", "success", "unpriced",
    "tokens", "cache-read", "cache-write", "reasoning", "runtime",
)  # fmt: skip


class ID:
    PAGE = "intelligence-page"
    DOWNLOAD = "intelligence-download"
    DOWNLOAD_BUTTON = {key: f"intelligence-dl-{key}" for key in DOWNLOADS}
    # the controls
    CONTROLS = "intelligence-controls"
    DATES = "intelligence-dates"
    PRESET = {key: f"intelligence-preset-{key}" for key in ("today", "7d", "30d", "month")}
    URL_STATE = "intelligence-url-state"
    NAV = "intelligence-nav"
    MATRIX_MODELS = "intelligence-matrix-models"  # the heatmap's rows, to turn a clicked row into a model
    TZ = "intelligence-tz"
    GROUP = "intelligence-group"
    GRANULARITY = "intelligence-granularity"
    GRANULARITY_NOTE = "intelligence-granularity-note"  # why Hour is off, said beside it
    # totals and usage charts
    TOTALS = "intelligence-kpis"
    KPI = {key: f"intelligence-kpi-{key}" for key in KPI_KEYS}
    TOTALS_NOTE = "intelligence-totals-note"
    COST_CHART = "intelligence-cost-chart"
    COST_NOTE = "intelligence-cost-note"
    TOKENS_CHART = "intelligence-tokens-chart"
    TOKENS_NOTE = "intelligence-tokens-note"
    TOKEN_KIND = "intelligence-token-kind"
    # month to date and scheduled reports
    ALERTS = "intelligence-alerts"  # the active-alerts feed
    ALERTS_SHOWN = "intelligence-alerts-shown"
    ALERTS_INTERVAL = "intelligence-alerts-interval"
    BUDGETS = "intelligence-budgets"  # each budget's burn, rate and projected exhaustion
    BUDGETS_SHOWN = "intelligence-budgets-shown"
    MTD = "intelligence-mtd"
    MTD_SPEND = "intelligence-mtd-spend"
    MTD_PROJECTED = "intelligence-mtd-projected"
    MTD_NOTICE = "intelligence-mtd-notice"
    REPORTS = "intelligence-reports"
    REPORTS_REFRESH = "intelligence-reports-refresh"
    REPORTS_LIST = "intelligence-reports-list"
    REPORTS_EMPTY = "intelligence-reports-empty"
    # the model performance matrix
    MATRIX_TABS = "intelligence-matrix-tabs"
    MATRIX_NOTE = "intelligence-matrix-note"
    MATRIX_CHART = "intelligence-matrix-chart"
    MATRIX_KIND = "intelligence-matrix-kind"
    RANKED = "intelligence-ranked"
    RANKED_HINT = "intelligence-ranked-hint"
    RANKED_TABLE = "intelligence-ranked-table"
    VALUE = "intelligence-value"
    VALUE_TABLE = "intelligence-value-table"
