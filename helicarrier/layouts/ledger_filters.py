"""The Ledger's filter bar, and turning its control values into ``SessionFilters``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.analytics.filters import SessionFilters
from helicarrier.layouts.controls import SEARCH_DEBOUNCE_S
from helicarrier.layouts.ledger_ids import ID
from helicarrier.localtime import FIRST_YEAR, LAST_YEAR

# (control id, placeholder, filter_options() key)
MULTI_FILTERS = (
    (ID.FILTER_AGENT, "Agent", "agents"),
    (ID.FILTER_MODEL, "Model", "models"),
    (ID.FILTER_PROVIDER, "Provider", "providers"),
    (ID.FILTER_STATUS, "Status", "statuses"),
    (ID.FILTER_LABEL, "Label", "labels"),
)
# The order the callbacks pass the control values in: the multi-selects, the dates, the search text.
FILTER_IDS = tuple(control_id for control_id, _, _ in MULTI_FILTERS)


def _day(value: str | None) -> date | None:
    """A picked day, or None (no bound) when it is not a date of the years people may ask about."""
    if not value:
        return None
    try:
        d = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return d if FIRST_YEAR <= d.year <= LAST_YEAR else None


def day_bounds(
    start: str | None, end: str | None, tz: str = "UTC"
) -> tuple[datetime | None, datetime | None]:
    """Picker dates (inclusive, in ``tz``) -> UTC [first day 00:00, the day after the last 00:00)."""
    zone = ZoneInfo(tz)
    first, last = _day(start), _day(end)
    lo = datetime.combine(first, time(), zone).astimezone(UTC) if first else None
    hi = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC) if last else None
    return lo, hi


def build_filters(
    agents=None,
    models=None,
    providers=None,
    statuses=None,
    labels=None,
    start: str | None = None,
    end: str | None = None,
    text: str | None = None,
) -> SessionFilters:
    """The control values as the repository's filters; empty controls filter nothing."""
    lo, hi = day_bounds(start, end)
    return SessionFilters(
        agent_ids=tuple(agents or ()),
        models=tuple(models or ()),
        providers=tuple(providers or ()),
        statuses=tuple(statuses or ()),
        labels=tuple(labels or ()),
        start=lo,
        end=hi,
        text=(text or "").strip() or None,
    )


def filter_bar() -> html.Div:
    selects = [
        dcc.Dropdown(
            id=control_id,
            options=[],
            multi=True,
            placeholder=placeholder,
            style={"minWidth": "9.5rem", "flex": "1 1 9.5rem"},
        )
        for control_id, placeholder, _ in MULTI_FILTERS
    ]
    return html.Div(
        [
            dcc.Input(
                id=ID.SEARCH,
                type="search",
                placeholder="Search task and error…",
                debounce=SEARCH_DEBOUNCE_S,
                className="form-control form-control-sm",
                style={"flex": "2 1 16rem", "minWidth": "12rem"},
            ),
            *selects,
            dcc.DatePickerRange(
                id=ID.DATES,
                clearable=True,
                display_format="YYYY-MM-DD",
                start_date_placeholder_text="From",
                end_date_placeholder_text="To",
                first_day_of_week=1,
            ),
            dbc.Button(
                [html.I(className="bi bi-x-lg me-1", **{"aria-hidden": "true"}), "Clear"],
                id=ID.CLEAR,
                size="sm",
                color="secondary",
                outline=True,
                n_clicks=0,
            ),
        ],
        className="d-flex flex-wrap gap-2 p-3 align-items-center",
    )
