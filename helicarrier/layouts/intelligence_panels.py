"""Panels of the Intelligence page built from plain data: KPI cards, month to date, the ranked and the
cost-aware tables of the model matrix, and the list of scheduled reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.formatting import format_duration, format_tokens
from helicarrier.layouts.intelligence_ids import ID
from helicarrier.money import format_usd

AMBER = "#fbbf24"


def kpi(
    label: str, value: str, sub: Any = None, *, key: str, accent: bool = False, warn: bool = False
) -> html.Div:
    return html.Div(
        [
            html.Div(label, className="kpi-label"),
            html.Div(
                value,
                className="kpi-value num",
                id=ID.KPI[key],
                style={"color": AMBER} if warn else None,
            ),
            html.Div(sub, className="kpi-sub"),
        ],
        className="kpi glass" + (" kpi-accent" if accent else ""),
    )


def cost_text(cost_nanos: int | None, unpriced: int | None) -> str:
    """Spend as money; when nothing could be priced it says so instead of showing $0."""
    if unpriced and not cost_nanos:
        return "unpriced"
    return format_usd(cost_nanos or 0)


def success_rate(totals: dict[str, Any]) -> float | None:
    finished = (totals.get("succeeded") or 0) + (totals.get("failed") or 0)
    return (totals.get("succeeded") or 0) / finished if finished else None


def kpi_cards(totals: dict[str, Any]) -> list[html.Div]:
    """Two strips: money and outcomes, then tokens and time. Unpriced usage is counted, never shown as $0."""
    unpriced = int(totals.get("unpriced_events") or 0)
    rate = success_rate(totals)
    cps = totals.get("cost_per_success_nanos")
    unpriced_note = (
        html.Span(f"+ {unpriced:,} unpriced events", style={"color": AMBER})
        if unpriced
        else "all events priced"
    )
    money = [
        kpi("Cost", cost_text(totals.get("cost_nanos"), unpriced), unpriced_note, key="cost", accent=True),
        kpi(
            "Cost / success",
            "–" if cps is None else format_usd(cps),
            "per successful session" + (" (priced part)" if unpriced else ""),
            key="cost-per-success",
        ),
        kpi(
            "Sessions",
            f"{totals.get('sessions') or 0:,}",
            f"{totals.get('succeeded') or 0:,} succeeded · {totals.get('failed') or 0:,} not",
            key="sessions",
        ),
        kpi("Success rate", "–" if rate is None else f"{rate:.1%}", "of finished sessions", key="success"),
        kpi(
            "Unpriced events",
            f"{unpriced:,}",
            f"of {totals.get('events') or 0:,} usage events",
            key="unpriced",
            warn=unpriced > 0,
        ),
    ]
    usage = [
        kpi(
            "Tokens",
            format_tokens(totals.get("total_tokens")),
            f"in {format_tokens(totals.get('input_tokens'))} · "
            f"out {format_tokens(totals.get('output_tokens'))}",
            key="tokens",
        ),
        kpi("Cache read", format_tokens(totals.get("cache_read_tokens")), "tokens", key="cache-read"),
        kpi("Cache write", format_tokens(totals.get("cache_write_tokens")), "tokens", key="cache-write"),
        kpi("Reasoning", format_tokens(totals.get("reasoning_tokens")), "tokens", key="reasoning"),
        kpi("Runtime", format_duration(totals.get("runtime_s")), "summed over sessions", key="runtime"),
    ]
    return [
        html.Div(money, className="kpi-strip px-0 pt-0 mb-3"),
        html.Div(usage, className="kpi-strip px-0 pt-0 mb-0"),
    ]


def _per_day(spend_nanos: int | None, days: float) -> str:
    return "–" if not days else format_usd(round((spend_nanos or 0) / days))


def mtd_view(mtd: dict[str, Any], tz: str) -> html.Div:
    elapsed, days = mtd.get("days_elapsed") or 0, mtd.get("days_in_month") or 1
    unpriced = int(mtd.get("unpriced_events") or 0)
    projected = mtd.get("projected_nanos")
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.Div("Spent", className="kpi-label"),
                            html.Div(
                                cost_text(mtd.get("spend_nanos"), unpriced),
                                className="kpi-value num",
                                id=ID.MTD_SPEND,
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Div("Projected month end", className="kpi-label"),
                            html.Div(
                                "–" if projected is None else format_usd(projected),
                                className="kpi-value num",
                                id=ID.MTD_PROJECTED,
                                style={"color": "#38e1ff"},
                            ),
                        ],
                        className="text-end",
                    ),
                ],
                className="d-flex justify-content-between mb-3",
            ),
            dbc.Progress(value=100 * min(1, elapsed / days), style={"height": "6px"}, className="mb-2"),
            html.Div(
                [
                    html.Span(["Average per day ", html.B(_per_day(mtd.get("spend_nanos"), elapsed))]),
                    html.Span(["Days left ", html.B(f"{max(0.0, days - elapsed):.1f}")]),
                ],
                className="d-flex justify-content-between num small mb-2",
            ),
            html.Div(
                f"Day {elapsed:.1f} of {days} ({tz}); "
                "projection = spend so far ÷ days elapsed × days in month.",
                className="muted small",
            ),
            html.Div(
                f"{unpriced:,} unpriced usage events this month are not in these figures.",
                className="small mt-1",
                style={"color": AMBER},
            )
            if unpriced
            else None,
        ]
    )


def _interval(lower: float | None, upper: float | None) -> str:
    return "–" if lower is None or upper is None else f"{lower:.1%} – {upper:.1%}"


def _reasons(value: Any) -> str:
    if not value:
        return "–"
    if isinstance(value, str):
        return value
    parts = []
    for item in value:
        if isinstance(item, dict):
            reason, n = item.get("reason") or item.get("error"), item.get("count")
        elif isinstance(item, list | tuple):
            reason, n = (item[0], item[1] if len(item) > 1 else None)
        else:
            reason, n = item, None
        parts.append(f"{reason} ×{n}" if n else str(reason))
    return "; ".join(parts)


def _rank_cell(row: dict[str, Any]) -> html.Td:
    if row.get("insufficient"):
        return html.Td(
            html.Span(
                "insufficient data", className="small", style={"color": "#8b9bb4", "fontStyle": "italic"}
            )
        )
    return html.Td(f"#{row['rank']}", className="num", style={"color": "#38e1ff", "fontWeight": 600})


def _tied(row: dict[str, Any]) -> str:
    return ", ".join(row.get("tied_with") or []) or "–"


def _table(head: list[str], rows: list[html.Tr], table_id: str, right: set[int]) -> dbc.Table:
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [html.Th(h, className="text-end" if i in right else None) for i, h in enumerate(head)]
                )
            ),
            html.Tbody(rows or [html.Tr(html.Td("No finished sessions in this range.", colSpan=len(head)))]),
        ],
        id=table_id,
        size="sm",
        hover=True,
        responsive=True,
        className="mb-0",
    )


def ranked_table(rows: list[dict[str, Any]]) -> dbc.Table:
    head = [
        "Rank",
        "Model",
        "Successes",
        "Rate",
        "95% interval",
        "Tied with",
        "Median",
        "p95",
        "Cost / success",
        "Top failure reasons",
    ]
    body = [
        html.Tr(
            [
                _rank_cell(r),
                html.Td(r["model"], className="mono text-nowrap"),
                html.Td(f"{r['successes']:,}/{r['total']:,}", className="num text-end text-nowrap"),
                html.Td(
                    "–" if r.get("rate") is None else f"{r['rate']:.1%}", className="num text-end text-nowrap"
                ),
                html.Td(_interval(r.get("lower"), r.get("upper")), className="num text-end text-nowrap"),
                html.Td(_tied(r), className="small"),
                html.Td(format_duration(r.get("median_runtime_s")), className="num text-end text-nowrap"),
                html.Td(format_duration(r.get("p95_runtime_s")), className="num text-end text-nowrap"),
                html.Td(_cost_per_success(r), className="num text-end text-nowrap"),
                html.Td(
                    _reasons(r.get("top_failure_reasons")), className="small", style={"maxWidth": "22rem"}
                ),
            ],
            style={"opacity": 0.7} if r.get("insufficient") else None,
        )
        for r in rows
    ]
    return _table(head, body, ID.RANKED_TABLE, {2, 3, 4, 6, 7, 8})


def _cost_per_success(r: dict[str, Any]) -> str:
    if not r.get("successes"):
        return "–"
    cps = r.get("cost_per_success_nanos")
    return "unpriced" if cps is None or not r.get("cost_nanos") else format_usd(cps)


def _cost_with_unpriced(r: dict[str, Any]) -> Any:
    unpriced = int(r.get("unpriced_events") or 0)
    text = cost_text(r.get("cost_nanos"), unpriced)
    if not unpriced or text == "unpriced":
        return text
    return [text, html.Div(f"+ {unpriced:,} unpriced events", className="small", style={"color": AMBER})]


def value_table(rows: list[dict[str, Any]]) -> dbc.Table:
    head = ["Rank", "Model", "Successes", "Cost", "Successes / $", "95% interval", "Tied with"]
    body = []
    for r in rows:
        per = r.get("per_dollar")
        body.append(
            html.Tr(
                [
                    _rank_cell(r)
                    if per is not None or r.get("insufficient")
                    else html.Td(html.Span("unpriced", style={"color": AMBER}, className="small")),
                    html.Td(r["model"], className="mono text-nowrap"),
                    html.Td(f"{r['successes']:,}/{r['total']:,}", className="num text-end text-nowrap"),
                    html.Td(_cost_with_unpriced(r), className="num text-end text-nowrap"),
                    html.Td("–" if per is None else f"{per:,.1f}", className="num text-end text-nowrap"),
                    html.Td(
                        "–"
                        if per is None
                        else f"{r['per_dollar_lower']:,.1f} – {r['per_dollar_upper']:,.1f}",
                        className="num text-end text-nowrap",
                    ),
                    html.Td(_tied(r), className="small"),
                ],
                style={"opacity": 0.7} if r.get("insufficient") or per is None else None,
            )
        )
    return _table(head, body, ID.VALUE_TABLE, {2, 3, 4, 5})


def _size(n: int) -> str:
    for unit, size in (("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def reports_list(reports: list[dict[str, Any]]) -> html.Div:
    if not reports:
        return html.Div(
            "No scheduled reports yet. The daily job writes usage and session CSVs into the data directory.",
            className="muted small",
            id=ID.REPORTS_EMPTY,
        )
    items = []
    for r in reports:
        modified = r.get("modified")
        when = (
            modified.strftime("%Y-%m-%d %H:%M UTC") if isinstance(modified, datetime) else str(modified or "")
        )
        items.append(
            html.Li(
                [
                    html.A(
                        [html.I(className="bi bi-filetype-csv me-2", **{"aria-hidden": "true"}), r["name"]],
                        href=f"/reports/{quote(r['name'], safe='')}",
                        download=r["name"],
                        className="mono",
                    ),
                    html.Span(f"{_size(int(r.get('size') or 0))} · {when}", className="muted small num"),
                ],
                className="list-group-item d-flex justify-content-between align-items-center px-0",
            )
        )
    return html.Ul(items, className="list-group list-group-flush", id=ID.REPORTS_LIST)


ACTIVE_ALERT_ROWS = 8


def active_alerts_view(alerts: list[dict[str, Any]]) -> html.Div:
    """Firing and pending alerts, worst first, each with a link to itself and to the sessions behind it."""
    from helicarrier.layouts.alerts import alert_href, labels_text, sessions_href, state_badge

    if not alerts:
        return html.Div("Nothing is firing or pending.", className="muted")
    rows = [
        html.Tr(
            [
                html.Td(state_badge(a["state"])),
                html.Td(
                    [
                        dcc.Link(a.get("rule_name") or "alert", href=alert_href(a)),
                        html.Div(labels_text(a.get("labels")), className="mono small muted"),
                    ]
                ),
                html.Td(a.get("severity") or "", className="small"),
                html.Td(
                    dcc.Link("Sessions →", href=sessions_href(a), className="small"), className="text-end"
                ),
            ]
        )
        for a in alerts[:ACTIVE_ALERT_ROWS]
    ]
    more = len(alerts) - ACTIVE_ALERT_ROWS
    note = [html.Div(f"… and {more} more on the Alerts page", className="muted small")] if more > 0 else []
    return html.Div([dbc.Table(html.Tbody(rows), size="sm", className="mb-1"), *note])


BUDGET_STATE_CLASS = {
    "locked": "status-killed",
    "soft": "status-stalled",
    "overridden": "status-killing",
    "ok": "status-running",
}


def _budget_badge(state: str) -> html.Span:
    return html.Span(state, className=f"status-badge {BUDGET_STATE_CLASS.get(state, '')}")


def budgets_view(rows) -> html.Div:
    """Each budget (``budgets.burn.burn_rows``): state, spend against its limit, rate, when it runs out."""
    if not rows:
        return html.Div("No budgets yet (POST /api/v1/budgets, admin).", className="muted")
    body = [
        html.Tr(
            [
                html.Td(_budget_badge(r.state)),
                html.Td([html.Div(r.name), html.Div(r.scope, className="mono small muted")]),
                html.Td([html.Div(f"{r.percent}%"), html.Div(r.spent, className="small muted")]),
                html.Td(r.rate, className="small"),
                html.Td(r.exhaustion, className="small text-end"),
            ]
        )
        for r in rows
    ]
    head = html.Thead(
        html.Tr([html.Th(""), html.Th("Budget"), html.Th("Burn"), html.Th("Rate"), html.Th("Runs out")])
    )
    return html.Div(dbc.Table([head, html.Tbody(body)], size="sm", className="mb-1"))
