"""The Watchtower's agent drawer: current session, recent logs, commands, and a Kill for operators."""

from __future__ import annotations

import uuid
from datetime import datetime

from dash import dcc, html

from helicarrier.fleet.status import effective_status
from helicarrier.formatting import format_duration, format_tokens
from helicarrier.layouts.watchtower_cards import log_row, status_badge
from helicarrier.layouts.watchtower_ids import ID
from helicarrier.money import format_usd


def _kv(label: str, value) -> html.Div:
    return html.Div(
        [html.Span(label, className="kpi-label"), html.Span(value, className="num")],
        className="d-flex justify-content-between py-1 border-bottom border-secondary-subtle",
    )


def kill_control(agent_id: str) -> html.Div:
    """Operators only: a Kill button, then an inline confirmation with a required reason and strength (its
    result is said outside it, by kill_result: the control goes once the agent is being killed)."""

    def pid(kind: str) -> dict:
        return {"type": kind, "agent": agent_id}

    return html.Div(
        [
            html.Button(
                [html.I(className="bi bi-x-octagon-fill", **{"aria-hidden": "true"}), "Kill"],
                id=pid(ID.DETAIL_KILL_OPEN),
                className="btn-kill btn-sm",
                n_clicks=0,
            ),
            html.Div(
                [
                    html.Label("Reason (required)", className="kpi-label d-block mt-2 mb-1"),
                    dcc.Textarea(id=pid(ID.DETAIL_KILL_REASON), value="", className="form-control mb-2"),
                    dcc.RadioItems(
                        id=pid(ID.DETAIL_KILL_STRENGTH),
                        options=[
                            {"label": " graceful", "value": "graceful"},
                            {"label": " force", "value": "force"},
                        ],
                        value="graceful",
                        inline=True,
                        className="mb-2 small",
                    ),
                    html.Button(
                        "Confirm kill",
                        id=pid(ID.DETAIL_KILL_CONFIRM),
                        className="btn-kill btn-sm",
                        n_clicks=0,
                    ),
                    dcc.Store(id=pid(ID.DETAIL_KILL_KEY), data=uuid.uuid4().hex),
                ],
                id=pid(ID.DETAIL_KILL_BOX),
                style={"display": "none"},
            ),
        ],
        className="mb-2",
    )


def kill_result(agent_id: str) -> html.Div:
    return html.Div(
        id={"type": ID.DETAIL_KILL_RESULT, "agent": agent_id}, className="small mb-3", role="status"
    )


NEXT_REPORTER = ""  # the owner picker's "nobody: the next token that reports for it claims it"


def owner_control(agent_id: str, owner: str | None, tokens: list[str]) -> html.Div:
    """Admins only: give the agent to another token (audited; the server refuses it to other roles)."""

    def pid(kind: str) -> dict:
        return {"type": kind, "agent": agent_id}

    options = [{"label": "nobody (the next token that reports)", "value": NEXT_REPORTER}]
    options += [{"label": t, "value": t} for t in tokens]
    return html.Div(
        [
            dcc.Dropdown(
                id=pid(ID.DETAIL_OWNER_PICK),
                options=options,
                value=owner or NEXT_REPORTER,
                clearable=False,
                className="flex-grow-1",
            ),
            html.Button(
                "Give", id=pid(ID.DETAIL_OWNER_SET), className="btn btn-sm btn-outline-info ms-2", n_clicks=0
            ),
            html.Div(id=pid(ID.DETAIL_OWNER_RESULT), className="small ms-2", role="status"),
        ],
        className="d-flex align-items-center my-2",
    )


def exempt_control(agent_id: str, exempt: bool) -> html.Div:
    """Operators exempt an agent from the sentinel's actions (its findings are still shown), or lift that."""
    return html.Div(
        [
            html.Button(
                "Lift the sentinel exemption" if exempt else "Exempt from the sentinel",
                id={"type": ID.DETAIL_EXEMPT, "agent": agent_id},
                className="btn btn-sm btn-outline-info",
                n_clicks=0,
                title="An exempt agent's findings are recorded and shown; it is not steered or killed",
            ),
            html.Span(
                id={"type": ID.DETAIL_EXEMPT_RESULT, "agent": agent_id}, className="small ms-2", role="status"
            ),
        ],
        className="d-flex align-items-center my-2",
    )


def sentinel_section(findings: list[dict], exemption: dict | None) -> list:
    """The sentinel's findings on the agent, newest first, each with its evidence and the ladder's rung."""
    parts: list = [html.H6("Sentinel", className="mt-4 glass-header")]
    if exemption:
        who = exemption["created_by"]
        why = f": {exemption['reason']}" if exemption.get("reason") else ""
        parts.append(
            html.Div(f"Exempt from the sentinel's actions (by {who}{why}).", className="muted small")
        )
    if not findings:
        parts.append(html.Div("No findings.", className="muted"))
        return parts
    for f in findings:
        lines = f["evidence"].get("lines") or []
        parts.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(
                                f["state"],
                                className="me-2 " + ("status-stalled" if f["state"] == "open" else "muted"),
                            ),
                            html.Span(
                                f"{f['detector']} · {f['step']} (policy {f['policy']})", className="mono me-2"
                            ),
                        ]
                    ),
                    html.Div(f["summary"], className="small"),
                    html.Pre("\n".join(line["message"] for line in lines[-3:]), className="small mb-1")
                    if lines
                    else None,
                ],
                className="mb-2",
            )
        )
    return parts


def detail_status(detail: dict, now: datetime, offline_after_s: int) -> str:
    a = detail["agent"]
    return effective_status(a["status"], a["control_state"], a["last_heartbeat_at"], now, offline_after_s)


def controls_hidden(status: str) -> bool:
    """Kill is offered until the agent is being killed or is killed."""
    return status in ("killing", "killed")


def agent_detail(
    detail: dict,
    now: datetime,
    offline_after_s: int,
    *,
    can_control: bool = False,
    tokens: list[str] | None = None,
) -> html.Div:
    """The drawer's body. ``tokens``: the live tokens' names, given to admins (who may re-assign the
    agent). Its head and live part are redrawn while it is open (detail_head, detail_live); the controls
    are not."""
    agent_id = detail["agent"]["id"]
    status = detail_status(detail, now, offline_after_s)

    def pid(kind: str) -> dict:
        return {"type": kind, "agent": agent_id}

    kill = kill_control(agent_id) if can_control else None
    owner = owner_control(agent_id, detail["agent"].get("owner"), tokens) if tokens is not None else None
    exempt = exempt_control(agent_id, bool(detail.get("exemption"))) if can_control else None
    return html.Div(
        [
            html.Div(detail_head(detail, status), id=pid(ID.DETAIL_HEAD)),
            html.Div(kill, id=pid(ID.DETAIL_CONTROLS), hidden=controls_hidden(status)),
            kill_result(agent_id) if can_control else None,
            exempt,
            owner,
            html.Div(detail_live(detail, now), id=pid(ID.DETAIL_LIVE)),
        ]
    )


def detail_head(detail: dict, status: str) -> html.Div:
    a = detail["agent"]
    return html.Div(
        [status_badge(status, ID.DETAIL_STATUS), html.Span(a["id"], className="mono muted ms-2")],
        className="mb-3",
    )


def waiting_line(a: dict, now: datetime) -> list:
    """A stated wait still running: what for and for how long more (the sentinel leaves the agent alone)."""
    until = a.get("waiting_until")
    if a["status"] != "waiting" or until is None or until <= now:
        return []
    what = a.get("waiting_for") or "something"
    return [_kv("Waiting", f"for {what}, {format_duration((until - now).total_seconds())} more")]


def detail_live(detail: dict, now: datetime) -> list:
    """What the drawer shows of the agent now: its figures, current session, recent logs and commands."""
    a = detail["agent"]
    s = detail["session"]
    parts: list = [
        _kv("Model", a["model"] or "–"),
        _kv("Provider", a["provider"] or "–"),
        _kv("Current task", a["current_task"] or "–"),
        *waiting_line(a, now),
        _kv(
            "Last heartbeat",
            f"{format_duration((now - a['last_heartbeat_at']).total_seconds())} ago"
            if a["last_heartbeat_at"]
            else "never",
        ),
        _kv("Labels", ", ".join(f"{k}={v}" for k, v in sorted((a["labels"] or {}).items())) or "–"),
        _kv(
            "Reports with token",
            html.Span(a.get("owner") or "nobody yet", id=ID.DETAIL_OWNER, className="mono"),
        ),
    ]
    if s:
        parts += [
            html.H6("Current session", className="mt-4 glass-header"),
            _kv("Session", html.A(s["id"], href=f"/ledger/{s['id']}", className="mono")),
            _kv("Status", s["status"]),
            _kv("Runtime", format_duration((now - s["started_at"]).total_seconds())),
            _kv(
                "Tokens in / out", f"{format_tokens(s['input_tokens'])} / {format_tokens(s['output_tokens'])}"
            ),
            _kv(
                "Cost",
                format_usd(s["cost_nanos"])
                + (f" (+{s['unpriced_events']} unpriced)" if s["unpriced_events"] else ""),
            ),
        ]
    if "sentinel" in detail:
        parts.append(
            html.Div(sentinel_section(detail["sentinel"], detail.get("exemption")), id=ID.DETAIL_SENTINEL)
        )
    parts.append(html.H6("Recent logs", className="mt-4 glass-header"))
    parts.append(
        html.Div(
            [log_row({**r, "agent_id": a["id"]}) for r in detail["logs"]]
            or [html.Div("No logs yet.", className="muted")],
            className="pulse-log",
            id=ID.DETAIL_LOGS,
        )
    )
    parts.append(html.H6("Commands", className="mt-4 glass-header"))
    if detail["commands"]:
        parts.append(
            html.Ul(
                [
                    html.Li(
                        [
                            html.Span(c["kind"], className="mono me-2"),
                            html.Span(c["state"], className="me-2"),
                            html.Span(c["issued_by"], className="muted me-2"),
                            html.Span(c["result_message"] or "", className="muted"),
                        ]
                    )
                    for c in detail["commands"]
                ],
                className="list-unstyled",
                id=ID.DETAIL_COMMANDS,
            )
        )
    else:
        parts.append(html.Div("No commands sent to this agent.", className="muted", id=ID.DETAIL_COMMANDS))
    return parts
