"""One session in detail (/ledger/<session id>): header, token and cost breakdown, timeline, usage rows.

Everything an agent or a user typed (task, error, log messages, command reasons) goes in as a plain string
child, which Dash renders as text: never Markdown, never HTML.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.formatting import format_duration, format_tokens
from helicarrier.layouts.ledger_grid import SESSION_STATUS_COLORS, SESSION_STATUS_ICONS, cost_label
from helicarrier.layouts.ledger_ids import ID
from helicarrier.layouts.ledger_timeline import sentinel_panel, timeline_panel, usage_panel
from helicarrier.layouts.url_state import ledger_link
from helicarrier.money import format_usd

TOKEN_KINDS = (
    ("input_tokens", "Input"),
    ("output_tokens", "Output"),
    ("cache_read_tokens", "Cache read"),
    ("cache_write_tokens", "Cache write"),
    ("reasoning_tokens", "Reasoning"),
)
CONFIDENCE_COLORS = {"high": "#3ddc97", "medium": "#fbbf24", "low": "#f87171"}


def ts_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "–"


def session_status_badge(status: str, badge_id: str | None = None) -> html.Span:
    color = SESSION_STATUS_COLORS.get(status, "#8b9bb4")
    kwargs = {"id": badge_id} if badge_id else {}
    return html.Span(
        [
            html.I(
                className=f"bi {SESSION_STATUS_ICONS.get(status, 'bi-question-circle')} me-1",
                **{"aria-hidden": "true"},
            ),
            status,
        ],
        className="session-status mono",
        style={
            "color": color,
            "border": f"1px solid {color}55",
            "background": f"{color}14",
            "borderRadius": "999px",
            "padding": "0.1rem 0.6rem",
            "fontSize": "0.8rem",
        },
        **kwargs,
    )


def _field(label: str, value: Any, value_id: str | None = None, mono: bool = True) -> html.Div:
    kwargs = {"id": value_id} if value_id else {}
    return html.Div(
        [
            html.Div(label, className="kpi-label"),
            html.Div(value, className="num" if mono else "", style={"overflowWrap": "anywhere"}, **kwargs),
        ],
        className="mb-2",
    )


def _filter_link(value: str | None, **filters: str) -> Any:
    """The value as a link to the Ledger filtered on it (every session of this agent, of this model)."""
    if not value:
        return "–"
    return dcc.Link(value, href=ledger_link(**filters), title=f"Every session with {value}")


def header_panel(s: dict[str, Any]) -> html.Div:
    labels = ", ".join(f"{k}={v}" for k, v in sorted((s.get("labels") or {}).items())) or "–"
    fields = dbc.Row(
        [
            dbc.Col(
                _field("Agent", _filter_link(s.get("agent_id"), agent=s.get("agent_id")), ID.DETAIL_AGENT),
                md=3,
                sm=6,
            ),
            dbc.Col(
                _field("Model", _filter_link(s.get("model"), model=s.get("model")), ID.DETAIL_MODEL),
                md=3,
                sm=6,
            ),
            dbc.Col(_field("Provider", s.get("provider") or "–"), md=2, sm=6),
            dbc.Col(_field("Task kind", s.get("task_kind") or "–"), md=2, sm=6),
            dbc.Col(_field("Pricing version", s.get("pricing_version") or "–"), md=2, sm=6),
            dbc.Col(_field("Started", ts_text(s.get("started_at"))), md=3, sm=6),
            dbc.Col(_field("Ended", ts_text(s.get("ended_at"))), md=3, sm=6),
            dbc.Col(_field("Runtime", format_duration(s.get("runtime_s"))), md=2, sm=6),
            dbc.Col(_field("Labels", labels), md=4, sm=6),
        ],
        className="g-3",
    )
    parts: list = [
        html.Div(
            [
                session_status_badge(s.get("status") or "?", ID.DETAIL_STATUS),
                html.Span(s["id"], className="mono muted ms-2", id=ID.DETAIL_SESSION_ID),
            ],
            className="mb-3",
        ),
        html.Div(
            s.get("task") or "No task recorded.",
            id=ID.DETAIL_TASK,
            className="mb-3",
            style={"fontSize": "1.05rem", "whiteSpace": "pre-wrap", "overflowWrap": "anywhere"},
        ),
        fields,
    ]
    if s.get("error"):
        parts.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.I(className="bi bi-exclamation-triangle me-2", **{"aria-hidden": "true"}),
                            "Error",
                        ],
                        className="kpi-label mb-1",
                        style={"color": "#f87171"},
                    ),
                    html.Pre(s["error"], id=ID.DETAIL_ERROR, className="mono mb-0"),
                ],
                className="mt-3 p-3",
                style={
                    "border": "1px solid rgba(248,113,113,0.35)",
                    "borderRadius": "8px",
                    "background": "rgba(248,113,113,0.06)",
                    "whiteSpace": "pre-wrap",
                },
            )
        )
    return html.Div(parts, className="glass glass-body mb-3")


def _kpi(label: str, value: str, sub: str | None = None, value_id: str | None = None) -> html.Div:
    kwargs = {"id": value_id} if value_id else {}
    return html.Div(
        [
            html.Div(label, className="kpi-label"),
            html.Div(value, className="kpi-value num", **kwargs),
            html.Div(sub or "", className="kpi-sub"),
        ],
        className="kpi glass",
    )


def token_breakdown(s: dict[str, Any]) -> html.Div:
    total = sum(int(s.get(k) or 0) for k, _ in TOKEN_KINDS) or 1
    rows = []
    for key, label in TOKEN_KINDS:
        n = int(s.get(key) or 0)
        rows.append(
            html.Tr(
                [
                    html.Td(label),
                    html.Td(f"{n:,}", className="num text-end", id=ID.DETAIL_TOKENS[key]),
                    html.Td(
                        dbc.Progress(value=100 * n / total, style={"height": "6px", "minWidth": "6rem"}),
                        style={"width": "40%", "verticalAlign": "middle"},
                    ),
                ]
            )
        )
    return html.Div(
        [
            html.Div(
                [html.Span([html.I(className="bi bi-cpu", **{"aria-hidden": "true"}), "Tokens by kind"])],
                className="glass-header",
            ),
            dbc.Table(
                [
                    html.Thead(
                        html.Tr([html.Th("Kind"), html.Th("Tokens", className="text-end"), html.Th("")])
                    ),
                    html.Tbody(rows),
                ],
                className="mb-2 mx-3 mt-1",
                size="sm",
                style={"width": "calc(100% - 2rem)"},
            ),
        ],
        className="glass h-100",
    )


def provenance_rows(breakdown: dict[str, Any], usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cost per provenance (computed, reported, estimated...) with its events and their confidence.

    The money is the breakdown's (summed in SQL over every event); the event counts and confidences come
    from the usage rows, which the repository caps for very long sessions."""
    raw = dict((breakdown or {}).get("cost_by_provenance") or {})
    unpriced = int(raw.pop("unpriced_events", 0) or 0)
    events: dict[str, int] = {}
    confidence: dict[str, dict[str, int]] = {}
    for u in usage:
        if u.get("cost_nanos") is None:
            continue
        prov = u.get("cost_provenance") or "unknown"
        events[prov] = events.get(prov, 0) + 1
        conf = confidence.setdefault(prov, {})
        level = u.get("cost_confidence") or "unknown"
        conf[level] = conf.get(level, 0) + 1
    rows = [
        {
            "provenance": p,
            "events": events.get(p, 0),
            "cost_nanos": int(c or 0),
            "confidence": confidence.get(p, {}),
        }
        for p, c in raw.items()
        if c or events.get(p)
    ]
    rows.sort(key=lambda r: -r["cost_nanos"])
    if unpriced:
        rows.append({"provenance": "unpriced", "events": unpriced, "cost_nanos": None, "confidence": {}})
    return rows


def confidence_text(confidence: dict[str, int]) -> html.Span:
    """Events per confidence level, e.g. "high ×12  low ×1"."""
    if not confidence:
        return html.Span("–", className="muted")
    return html.Span(
        [
            html.Span(f"{k} ×{n}", style={"color": CONFIDENCE_COLORS.get(k, "#8b9bb4")}, className="me-2")
            for k, n in sorted(confidence.items())
        ]
    )


def cost_breakdown(s: dict[str, Any], breakdown: dict[str, Any], usage: list[dict[str, Any]]) -> html.Div:
    rows = provenance_rows(breakdown, usage)
    body = [
        html.Tr(
            [
                html.Td(r["provenance"], className="mono"),
                html.Td(f"{r['events']:,}", className="num text-end"),
                html.Td(
                    "not priced" if r["cost_nanos"] is None else format_usd(r["cost_nanos"]),
                    className="num text-end",
                    style={"color": "#fbbf24"} if r["cost_nanos"] is None else None,
                ),
                html.Td(confidence_text(r["confidence"])),
            ]
        )
        for r in rows
    ] or [html.Tr(html.Td("No usage events.", colSpan=4, className="muted"))]
    return html.Div(
        [
            html.Div(
                [
                    html.Span(
                        [html.I(className="bi bi-cash-coin", **{"aria-hidden": "true"}), "Cost by provenance"]
                    )
                ],
                className="glass-header",
            ),
            dbc.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th("Provenance"),
                                html.Th("Events", className="text-end"),
                                html.Th("Cost", className="text-end"),
                                html.Th("Confidence"),
                            ]
                        )
                    ),
                    html.Tbody(body, id=ID.DETAIL_PROVENANCE),
                ],
                className="mb-2 mx-3 mt-1",
                size="sm",
                style={"width": "calc(100% - 2rem)"},
            ),
            html.Div(
                "Computed: tokens × the price book; reported: the provider’s own figure; estimated: another "
                "provider’s price list for the model. Confidence is per usage event.",
                className="muted small px-3 pb-2",
            ),
            html.Div(
                f"{s.get('unpriced_events')} usage event(s) could not be priced and are not in the total.",
                className="px-3 pb-2 small",
                style={"color": "#fbbf24"},
            )
            if s.get("unpriced_events")
            else None,
        ],
        className="glass h-100",
    )


def session_view(detail: dict[str, Any], raw_usage_pruned_before: datetime | None = None) -> html.Div:
    """A session's page; ``raw_usage_pruned_before``: retention's cutoff for raw usage, if it pruned any."""
    s = detail["session"]
    started, cutoff = s.get("started_at"), raw_usage_pruned_before
    pruned = cutoff if cutoff and started and started < cutoff else None
    usage = detail.get("usage") or []
    kpis = html.Div(
        [
            _kpi("Cost", cost_label(s.get("cost_nanos"), s.get("unpriced_events")), None, ID.DETAIL_COST),
            _kpi(
                "Tokens",
                format_tokens(s.get("total_tokens")),
                f"{s.get('total_tokens') or 0:,} total",
                ID.DETAIL_TOTAL_TOKENS,
            ),
            _kpi("Runtime", format_duration(s.get("runtime_s"))),
            _kpi("Usage events", f"{len(usage):,}", f"{len(detail.get('logs') or []):,} log lines"),
        ],
        className="kpi-strip px-0 pt-0 mb-3",
    )
    return html.Div(
        [
            header_panel(s),
            kpis,
            dbc.Row(
                [
                    dbc.Col(token_breakdown(s), lg=5, className="mb-3"),
                    dbc.Col(cost_breakdown(s, detail.get("breakdown") or {}, usage), lg=7, className="mb-3"),
                ]
            ),
            sentinel_panel(detail["sentinel"]) if detail.get("sentinel") else None,
            timeline_panel(detail),
            usage_panel(usage, bool(detail.get("usage_truncated")), pruned),
        ]
    )


def not_found(session_id: str) -> html.Div:
    return html.Div(
        [
            html.H2(
                [
                    html.I(className="bi bi-question-octagon me-2", **{"aria-hidden": "true"}),
                    "Session not found",
                ],
                className="h5",
            ),
            html.P(["No session has the id ", html.Code(session_id), "."], className="mb-2"),
            dcc.Link("Back to the Ledger", href="/ledger"),
        ],
        id=ID.DETAIL_NOT_FOUND,
        className="glass glass-body",
    )


def detail_layout(session_id: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    dcc.Link(
                        [html.I(className="bi bi-arrow-left me-1", **{"aria-hidden": "true"}), "Ledger"],
                        href="/ledger",
                        id=ID.DETAIL_BACK,
                        className="hud-nav-link ps-0",
                    ),
                    dbc.Button(
                        [html.I(className="bi bi-download me-1", **{"aria-hidden": "true"}), "Usage CSV"],
                        id=ID.DETAIL_DOWNLOAD_BUTTON,
                        size="sm",
                        color="primary",
                        outline=True,
                        n_clicks=0,
                        title="Every usage event of this session, with its pricing version and provenance",
                    ),
                ],
                className="d-flex justify-content-between align-items-center mb-2",
            ),
            html.H1(["Session ", html.Span(session_id, className="mono muted")], className="page-title"),
            html.Div(dbc.Spinner(color="info", size="sm"), id=ID.DETAIL_BODY, className="mb-3"),
            dcc.Store(id=ID.DETAIL_SESSION, data=session_id),
            dcc.Download(id=ID.DETAIL_DOWNLOAD),
        ],
        id=ID.DETAIL_PAGE,
    )
