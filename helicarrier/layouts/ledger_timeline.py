"""A session's timeline (usage events, logs and commands merged by time) and its usage rows table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from helicarrier.formatting import format_tokens
from helicarrier.layouts.ledger_ids import ID
from helicarrier.money import format_usd

TIMELINE_LIMIT = 2000  # rows shown; the usage CSV has every usage event
KIND_STYLE = {
    "usage": ("bi-coin", "#38e1ff"),
    "log": ("bi-terminal", "#8b9bb4"),
    "command": ("bi-broadcast", "#a78bfa"),
}
LEVEL_COLORS = {
    "debug": "#7d8ba1",
    "info": "#38e1ff",
    "warning": "#fbbf24",
    "error": "#f87171",
    "critical": "#ff5c8a",
}
CONFIDENCE_COLORS = {"high": "#3ddc97", "medium": "#fbbf24", "low": "#f87171"}

# Columns of the usage CSV: (key, header). Numbers unformatted; cost in nano-dollars and in USD.
USAGE_CSV_COLUMNS = (
    ("ts", "ts"),
    ("provider", "provider"),
    ("model", "model"),
    ("price_model", "matched_price_model"),
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_tokens", "cache_read_tokens"),
    ("cache_write_tokens", "cache_write_tokens"),
    ("reasoning_tokens", "reasoning_tokens"),
    ("cost_nanos", "cost_nanos"),
    ("reported_cost_nanos", "reported_cost_nanos"),
    ("pricing_version", "pricing_version"),
    ("cost_provenance", "cost_provenance"),
    ("cost_confidence", "cost_confidence"),
    ("warnings", "warnings"),
)


def _when(value: datetime | None) -> datetime:
    return value if value is not None else datetime.min.replace(tzinfo=UTC)


def _usage_text(u: dict[str, Any]) -> str:
    cost = "unpriced" if u.get("cost_nanos") is None else format_usd(u["cost_nanos"])
    return (
        f"{u.get('model') or '?'} · in {format_tokens(u.get('input_tokens'))} · out "
        f"{format_tokens(u.get('output_tokens'))} · {cost} ({u.get('cost_provenance') or '?'}, "
        f"{u.get('cost_confidence') or '?'})"
    )


def _command_text(c: dict[str, Any]) -> str:
    parts = [f"{c.get('kind')} → {c.get('state')}", f"by {c.get('issued_by') or '?'}"]
    if c.get("reason"):
        parts.append(f"reason: {c['reason']}")
    if c.get("result_message"):
        parts.append(f"result: {c['result_message']}")
    return " · ".join(parts)


def timeline_entries(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Usage events, logs and commands as one list ordered by time: {ts, kind, level, text}."""
    entries = [
        {"ts": u.get("ts"), "kind": "usage", "level": None, "text": _usage_text(u)}
        for u in detail.get("usage") or []
    ]
    entries += [
        {"ts": r.get("ts"), "kind": "log", "level": r.get("level"), "text": r.get("message") or ""}
        for r in detail.get("logs") or []
    ]
    entries += [
        {"ts": c.get("created_at") or c.get("ts"), "kind": "command", "level": None, "text": _command_text(c)}
        for c in detail.get("commands") or []
    ]
    order = {"command": 0, "usage": 1, "log": 2}
    return sorted(entries, key=lambda e: (_when(e["ts"]), order[e["kind"]]))


def _timeline_row(e: dict[str, Any]) -> html.Tr:
    icon, color = KIND_STYLE[e["kind"]]
    tag = e["level"] or e["kind"]
    ts = e["ts"]
    return html.Tr(
        [
            html.Td(
                ts.strftime("%H:%M:%S.%f")[:-3] if ts else "–",
                className="num muted",
                title=ts.isoformat() if ts else None,
                style={"whiteSpace": "nowrap"},
            ),
            html.Td(
                [html.I(className=f"bi {icon} me-1", **{"aria-hidden": "true"}), tag],
                className="mono small",
                style={"color": LEVEL_COLORS.get(e["level"], color), "whiteSpace": "nowrap"},
            ),
            html.Td(e["text"], style={"whiteSpace": "pre-wrap", "overflowWrap": "anywhere"}),
        ],
        className=f"timeline-{e['kind']}",
    )


def _panel(icon: str, title: str, note: str, body, body_id: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Span([html.I(className=f"bi {icon}", **{"aria-hidden": "true"}), title]),
                    html.Span(note, className="muted num"),
                ],
                className="glass-header",
            ),
            html.Div(
                body, id=body_id, style={"maxHeight": "460px", "overflowY": "auto"}, className="px-3 pb-2"
            ),
        ],
        className="glass mb-3",
    )


def timeline_panel(detail: dict[str, Any]) -> html.Div:
    entries = timeline_entries(detail)
    counts = {k: sum(1 for e in entries if e["kind"] == k) for k in KIND_STYLE}
    note = f"{counts['usage']} usage · {counts['log']} logs · {counts['command']} commands"
    shown = entries[:TIMELINE_LIMIT]
    table = dbc.Table(
        [
            html.Thead(html.Tr([html.Th("Time (UTC)"), html.Th("Kind"), html.Th("Event")])),
            html.Tbody(
                [_timeline_row(e) for e in shown] or [html.Tr(html.Td("Nothing recorded.", colSpan=3))]
            ),
        ],
        size="sm",
        hover=True,
        className="mb-0",
    )
    if len(entries) > len(shown):
        note += f" (first {TIMELINE_LIMIT:,} shown)"
    if detail.get("usage_truncated") or detail.get("logs_truncated"):
        note += " · long session: the oldest events only"
    return _panel("bi-clock-history", "Timeline", note, table, ID.DETAIL_TIMELINE)


def sentinel_panel(findings: list[dict[str, Any]]) -> html.Div:
    """The stuck-loop sentinel's findings in this session: what it saw (the evidence), how far it went."""
    rows = []
    for f in findings:
        lines = (f.get("evidence") or {}).get("lines") or []
        rows.append(
            html.Tr(
                [
                    html.Td(f["first_seen_at"].strftime("%H:%M:%S"), className="num"),
                    html.Td(f"{f['detector']} · {f['step']}", className="mono"),
                    html.Td(f["state"]),
                    html.Td(
                        [
                            html.Div(f["summary"]),
                            html.Pre("\n".join(x["message"] for x in lines[-3:]), className="small mb-0")
                            if lines
                            else None,
                        ]
                    ),
                ],
                **{"data-finding": str(f["id"])},
            )
        )
    table = dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("First seen (UTC)"),
                        html.Th("Detector · rung"),
                        html.Th("State"),
                        html.Th("Evidence"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        size="sm",
        className="mb-0",
    )
    note = f"{len(findings)} finding" + ("s" if len(findings) != 1 else "")
    return _panel("bi-shield-exclamation", "Sentinel", note, table, ID.DETAIL_SENTINEL)


def _confidence(value: str | None) -> html.Span:
    return html.Span(value or "–", style={"color": CONFIDENCE_COLORS.get(value or "", "#8b9bb4")})


def usage_panel(
    usage: list[dict[str, Any]], truncated: bool = False, pruned_before: datetime | None = None
) -> html.Div:
    """The session's usage events; ``pruned_before``: retention has deleted the raw events older than
    this, some of this session's among them (its totals still count them: they come from the session)."""
    head = [
        "Time (UTC)",
        "Model",
        "Matched price",
        "Input",
        "Output",
        "Cache R",
        "Cache W",
        "Reasoning",
        "Cost",
        "Reported",
        "Pricing",
        "Provenance",
        "Confidence",
    ]
    num = {"className": "num text-end"}
    rows = [
        html.Tr(
            [
                html.Td(u["ts"].strftime("%H:%M:%S") if u.get("ts") else "–", className="num muted"),
                html.Td(u.get("model") or "–", className="mono"),
                html.Td(u.get("price_model") or "–", className="mono muted"),
                html.Td(f"{u.get('input_tokens') or 0:,}", **num),
                html.Td(f"{u.get('output_tokens') or 0:,}", **num),
                html.Td(f"{u.get('cache_read_tokens') or 0:,}", **num),
                html.Td(f"{u.get('cache_write_tokens') or 0:,}", **num),
                html.Td("–" if u.get("reasoning_tokens") is None else f"{u['reasoning_tokens']:,}", **num),
                html.Td(
                    "unpriced" if u.get("cost_nanos") is None else format_usd(u["cost_nanos"]),
                    **num,
                    style={"color": "#fbbf24"} if u.get("cost_nanos") is None else None,
                ),
                html.Td(
                    "–" if u.get("reported_cost_nanos") is None else format_usd(u["reported_cost_nanos"]),
                    **num,
                ),
                html.Td(u.get("pricing_version") or "–", className="mono"),
                html.Td(u.get("cost_provenance") or "–", className="mono"),
                html.Td(_confidence(u.get("cost_confidence"))),
            ],
            title="; ".join(str(w) for w in u.get("warnings") or []) or None,
        )
        for u in usage
    ]
    table = dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [html.Th(h, className="text-end" if 3 <= i <= 9 else None) for i, h in enumerate(head)]
                )
            ),
            html.Tbody(rows or [html.Tr(html.Td("No usage events.", colSpan=len(head), className="muted"))]),
        ],
        size="sm",
        hover=True,
        className="mb-0",
    )
    note = f"{len(usage):,} events" + (" (the first ones; the CSV has the same)" if truncated else "")
    if pruned_before is not None:
        note += (
            f" · events before {pruned_before:%Y-%m-%d %H:%M} UTC were pruned by retention;"
            " the totals above still count them"
        )
    return _panel("bi-receipt", "Usage events", note, table, ID.DETAIL_USAGE)


def usage_csv_rows(usage: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """The usage rows as a CSV header and rows (unformatted numbers, ISO timestamps)."""
    header = [h for _, h in USAGE_CSV_COLUMNS]
    rows = []
    for u in usage:
        row = []
        for key, _ in USAGE_CSV_COLUMNS:
            v = u.get(key)
            if isinstance(v, datetime):
                v = v.isoformat()
            elif isinstance(v, list):
                v = "; ".join(str(w) for w in v)
            row.append(v)
        rows.append(row)
    return header, rows
