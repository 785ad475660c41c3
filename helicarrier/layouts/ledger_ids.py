"""The Ledger page's component ids (its layout spans ledger.py and the ledger_*.py modules)."""

from __future__ import annotations


class ID:
    PAGE = "ledger-page"
    COUNT = "ledger-count"
    GRID = "ledger-grid"
    NAV = "ledger-nav"
    REFRESH = "ledger-refresh"
    OPTIONS_LOAD = "ledger-options-load"
    DOWNLOAD_BUTTON = "ledger-download-btn"
    DOWNLOAD_NOTE = "ledger-download-note"
    DOWNLOAD = "ledger-download"
    # the filter bar
    SEARCH = "ledger-search"
    FILTER_AGENT = "ledger-filter-agent"
    FILTER_MODEL = "ledger-filter-model"
    FILTER_PROVIDER = "ledger-filter-provider"
    FILTER_STATUS = "ledger-filter-status"
    FILTER_LABEL = "ledger-filter-label"
    DATES = "ledger-dates"
    PRESET = "ledger-preset"
    URL_STATE = "ledger-url-state"
    CLEAR = "ledger-clear"
    # one session: /ledger/<session id>
    DETAIL_PAGE = "ledger-detail-page"
    DETAIL_SESSION = "ledger-detail-session"
    DETAIL_BACK = "ledger-detail-back"
    DETAIL_BODY = "ledger-detail-body"
    DETAIL_SENTINEL = "ledger-detail-sentinel"  # the stuck-loop sentinel's findings in the session
    DETAIL_DOWNLOAD_BUTTON = "ledger-detail-download-btn"
    DETAIL_DOWNLOAD = "ledger-detail-download"
    DETAIL_NOT_FOUND = "ledger-detail-not-found"
    DETAIL_STATUS = "ledger-detail-status"
    DETAIL_SESSION_ID = "ledger-detail-session-id"
    DETAIL_TASK = "ledger-detail-task"
    DETAIL_ERROR = "ledger-detail-error"
    DETAIL_AGENT = "ledger-detail-agent"
    DETAIL_MODEL = "ledger-detail-model"
    DETAIL_COST = "ledger-detail-cost"
    DETAIL_TOTAL_TOKENS = "ledger-detail-tokens"
    DETAIL_TOKENS = {
        kind: f"ledger-detail-{kind}"
        for kind in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        )
    }
    DETAIL_PROVENANCE = "ledger-detail-provenance"
    DETAIL_TIMELINE = "ledger-detail-timeline"
    DETAIL_USAGE = "ledger-detail-usage"
