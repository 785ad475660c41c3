"""The Ledger's filter bar, and turning its control values into ``SessionFilters``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.analytics.filters import SessionFilters
from helicarrier.layouts.controls import SEARCH_DEBOUNCE_S
from helicarrier.layouts.ledger_ids import ID
from helicarrier.layouts.url_state import ledger_from_query, preset_bounds
from helicarrier.localtime import FIRST_YEAR, LAST_YEAR

# (control id, placeholder, filter_options() key, the URL's key)
MULTI_FILTERS = (
    (ID.FILTER_AGENT, "Agent", "agents", "agent"),
    (ID.FILTER_MODEL, "Model", "models", "model"),
    (ID.FILTER_PROVIDER, "Provider", "providers", "provider"),
    (ID.FILTER_STATUS, "Status", "statuses", "status"),
    (ID.FILTER_LABEL, "Label", "labels", "label"),
)
PRESETS = (("1h", "1 h"), ("24h", "24 h"), ("7d", "7 d"), ("30d", "30 d"), ("month", "This month"))
# The order the callbacks pass the control values in: the multi-selects, the dates, the search text, the
# preset range.
FILTER_IDS = tuple(control_id for control_id, *_ in MULTI_FILTERS)


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
    preset: str | None = None,
) -> SessionFilters:
    """The control values as the repository's filters; empty controls filter nothing. A preset range (last
    hour, ..., this month) stands instead of the dates."""
    lo, hi = preset_bounds(preset) if preset else day_bounds(start, end)
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


def presets(value: str | None = None) -> dbc.RadioItems:
    return dbc.RadioItems(
        id=ID.PRESET,
        options=[{"label": label, "value": v} for v, label in PRESETS],
        value=value,
        inline=True,
        className="btn-group btn-group-sm",
        inputClassName="btn-check",
        labelClassName="btn btn-sm btn-outline-primary",
        labelCheckedClassName="active",
    )


def filter_bar(query: str | None = None) -> html.Div:
    """The filters, set from the URL's query string (a shared link, a reload, Back from a session)."""
    state = ledger_from_query(query)
    selects = [
        dcc.Dropdown(
            id=control_id,
            # The URL's values are offered at once, so they show before the options load.
            options=[{"label": v, "value": v} for v in state[key]],
            value=state[key],
            multi=True,
            placeholder=placeholder,
            style={"minWidth": "9.5rem", "flex": "1 1 9.5rem"},
        )
        for control_id, placeholder, _, key in MULTI_FILTERS
    ]
    return html.Div(
        [
            dcc.Input(
                id=ID.SEARCH,
                type="search",
                placeholder="Search task and error…",
                value=state["q"],
                debounce=SEARCH_DEBOUNCE_S,
                className="form-control form-control-sm",
                style={"flex": "2 1 16rem", "minWidth": "12rem"},
            ),
            *selects,
            dcc.DatePickerRange(
                id=ID.DATES,
                start_date=state["from"],
                end_date=state["to"],
                clearable=True,
                display_format="YYYY-MM-DD",
                start_date_placeholder_text="From",
                end_date_placeholder_text="To",
                first_day_of_week=1,
            ),
            presets(state["range"]),
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
