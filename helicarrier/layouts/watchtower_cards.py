"""The Watchtower's agent cards, status badges and log rows (System Pulse, agent drawer). Plain functions of
plain data."""

from __future__ import annotations

from dash import html

from helicarrier.fleet.grid import CardModel
from helicarrier.fleet.status import STATUS_ICONS
from helicarrier.formatting import format_tokens
from helicarrier.layouts.watchtower_ids import ID
from helicarrier.money import format_usd
from helicarrier.sentinel.detectors import DETECTOR_NAMES

LEVEL_SHORT = {"debug": "dbg", "info": "info", "warning": "warn", "error": "err", "critical": "crit"}


def status_badge(status: str, badge_id: str | None = None) -> html.Span:
    kwargs = {"id": badge_id} if badge_id else {}
    return html.Span(
        [
            html.I(
                className=f"bi {STATUS_ICONS.get(status, 'bi-question-circle')} me-1",
                **{"aria-hidden": "true"},
            ),
            status.replace("_", " "),
        ],
        className=f"status-badge status-{status}",
        **kwargs,
    )


def sentinel_flags(findings) -> list[html.Div]:
    """The sentinel's open findings on an agent, one line: what it saw and how far up the ladder it went."""
    if not findings:
        return []
    text = ", ".join(f"{DETECTOR_NAMES.get(d, d)} ({step})" for d, step in findings)
    return [
        html.Div(
            [
                html.I(className="bi bi-shield-exclamation me-1", **{"aria-hidden": "true"}),
                "Sentinel: ",
                text,
            ],
            className="agent-sentinel status-stalled",
            title="The stuck-loop sentinel's open findings (Alerts page, or GET /api/v1/sentinel/findings)",
        )
    ]


def agent_card(card: CardModel) -> html.Div:
    if card.session_started_at is None:
        cost, tokens = "–", "–"  # no running session: nothing to count, which is not the same as zero
    else:
        cost = format_usd(card.cost_nanos) if card.unpriced_events == 0 or card.cost_nanos else "unpriced"
        tokens = format_tokens(card.tokens)
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(card.name, className="agent-name"),
                            html.Div(card.model or "–", className="agent-model"),
                        ],
                        style={"minWidth": 0},
                    ),
                    status_badge(card.status),
                ],
                className="agent-head",
            ),
            html.Div(card.task or "No current task", className="agent-task"),
            *sentinel_flags(card.sentinel),
            html.Div(
                [
                    html.Span(html.B(cost), title="Cost of the running session"),
                    html.Span([html.B(tokens), " tok"], title="Tokens of the running session"),
                    html.Span(
                        [
                            html.I(className="bi bi-clock me-1", **{"aria-hidden": "true"}),
                            html.B(
                                "–", **{"data-since": card.session_started_at or ""}, className="hc-since"
                            ),
                        ],
                        title="Session runtime",
                    ),
                    html.Span(
                        [
                            html.I(className="bi bi-heart-pulse me-1", **{"aria-hidden": "true"}),
                            html.B("–", **{"data-heartbeat-of": card.id}, className="hc-heartbeat"),
                        ],
                        title="Time since the last heartbeat",
                    ),
                ],
                className="agent-meta num",
            ),
        ],
        id={"type": ID.CARD, "agent": card.id},
        className=f"agent-card status-{card.status}",
        n_clicks=0,
        role="button",
        tabIndex="0",
        **{"data-agent": card.id, "aria-label": f"{card.name}: {card.status}"},
    )


def log_row(row: dict) -> html.Div:
    level = row["level"]
    return html.Div(
        [
            html.Span(row["ts"].strftime("%H:%M:%S"), className="pulse-time", title=row["ts"].isoformat()),
            html.Span(row["agent_id"], className="pulse-agent"),
            html.Span(LEVEL_SHORT.get(level, level), className=f"pulse-level level-{level}"),
            html.Span(row["message"], className="pulse-msg"),
        ],
        className=f"pulse-row level-{level}",
        # React keeps a keyed row where it is: without the key, each line prepended to the 500-row tail
        # rewrote every row below it (children are matched by position).
        key=f"log-{row['seq']}",
        **{"data-seq": str(row["seq"])},
    )
