"""Command page: the Jarvis Terminal (hand agents a task), the Tactical Override (kill one agent or every
running agent matching a filter, switch an agent's model), the command history and the Audit view.

Operators and admins get the controls; a viewer gets the history and a read-only note. Every control
callback is also refused by the server for lower roles (``helicarrier.auth.web.role_callback``).
"""

from __future__ import annotations

import uuid

import dash_bootstrap_components as dbc
from dash import dcc, html

from helicarrier.control.validation import INJECT_MODES

HISTORY_REFRESH_MS = 2000  # the history for everyone; sent only when it changed
OPS_REFRESH_MS = 1000  # an operator's own commands in flight: the transcript and the kill lifecycle
OPTIONS_REFRESH_MS = 5000
HISTORY_LIMIT = 40
PROVIDERS = ("openai", "anthropic", "gcp.gemini", "mistral_ai")
AUDIT_ACTIONS = (
    "command.kill",
    "command.inject",
    "command.model",
    "command.cancel",
    "command.accept",
    "command.reject",
    "command.complete",
    "command.fail",
    "command.expire",
    "command.kill.verified",
    "command.kill.ineffective",
    "callback",
    "login",
)


class ID:
    """The Command page's component ids."""

    PAGE = "command-page"
    READ_ONLY = "command-readonly"
    # the Jarvis Terminal: hand agents a task
    INJECT_AGENTS = "command-inject-agents"
    INJECT_MODE = "command-inject-mode"
    INJECT_TRANSCRIPT = "command-inject-transcript"
    INJECT_INPUT = "command-inject-input"
    INJECT_SEND = "command-inject-send"
    INJECT_STATUS = "command-inject-status"
    INJECT_DRAFT = "command-inject-draft"
    INJECT_SIG = "command-inject-sig"
    INJECT_MODE_HELP = "command-inject-mode-help"  # what the chosen mode does, said in place
    INJECT_WARNED = "command-inject-warned"  # the send a warning was shown for: the next press sends it
    # the Tactical Override: kill one agent, kill all matching, switch a model
    KILL_AGENT = "command-kill-agent"
    KILL_OPEN = "command-kill-open"
    RELEASE = "command-release"  # shown when the picked agent is killed: lets it work again
    RELEASE_RESULT = "command-release-result"
    PAUSE = "command-pause"  # Pause the picked agent, or Resume it when it is paused
    PAUSE_RESULT = "command-pause-result"
    KILLALL_STATUS = "command-killall-status"
    KILLALL_LABELS = "command-killall-labels"
    KILLALL_OPEN = "command-killall-open"
    KILLALL_COUNT = "command-killall-count"
    KILL_FEEDBACK = "command-kill-feedback"
    KILL_LIFECYCLE = "command-kill-lifecycle"
    KILL_LIFECYCLE_SHOWN = "command-kill-lifecycle-shown"
    KILL_MODAL = "command-kill-modal"
    KILL_MODAL_TEXT = "command-kill-modal-text"
    KILL_MODAL_COUNT = "command-kill-modal-count"
    KILL_MODAL_ERROR = "command-kill-modal-error"
    KILL_REASON = "command-kill-reason"
    KILL_STRENGTH = "command-kill-strength"
    KILL_CANCEL = "command-kill-cancel"
    KILL_CONFIRM = "command-kill-confirm"
    KILL_TARGETS = "command-kill-targets"
    KILL_KEY = "command-kill-key"
    KILL_TRACKING = "command-kill-tracking"
    MODEL_AGENT = "command-model-agent"
    MODEL_PROVIDER = "command-model-provider"
    MODEL_NAME = "command-model-name"
    MODEL_REASON = "command-model-reason"
    MODEL_APPLY = "command-model-apply"
    MODEL_RESULT = "command-model-result"
    MODEL_KEY = "command-model-key"
    # command history and the audit view
    HISTORY = "command-history"
    HISTORY_SHOWN = "command-history-shown"  # digest of what the history shows (callbacks/unchanged.py)
    HISTORY_EMPTY = "command-history-empty"
    INTERVAL = "command-interval"
    OPS_INTERVAL = "command-ops-interval"
    OPTIONS_INTERVAL = "command-options-interval"
    AUDIT_ACTOR = "command-audit-actor"
    AUDIT_ACTION = "command-audit-action"
    AUDIT_AGENT = "command-audit-agent"
    AUDIT_REFRESH = "command-audit-refresh"
    AUDIT_CSV = "command-audit-csv"
    AUDIT_DOWNLOAD = "command-audit-download"
    AUDIT_TABLE = "command-audit-table"
    AUDIT_EMPTY = "command-audit-empty"


def can_control() -> bool:
    """Whether the signed-in user may act on agents (operator or admin)."""
    from helicarrier.auth.passwords import role_allows
    from helicarrier.auth.web import current_user

    user = current_user()
    return user is not None and role_allows(user.role, "operator")


def _icon(name: str) -> html.I:
    return html.I(className=f"bi {name} me-2", **{"aria-hidden": "true"})


def _header(icon: str, title: str, extra=None) -> html.Div:
    return html.Div(
        [html.Span([_icon(icon), title]), extra or html.Span()],
        className="glass-header d-flex justify-content-between align-items-center",
    )


# What each inject mode does, shown under the picker (the API reference says the same: docs/api.md).
MODE_HELP = {
    "steer": "Steer: the agent takes the task at its next step, changing what it is doing now.",
    "follow_up": "Follow up: the agent takes the task after its current turn ends.",
    "queue": "Queue: the task waits for the agent's next run (also for a killed or offline agent).",
}


def _terminal() -> html.Div:
    return html.Div(
        [
            _header("bi-terminal", "Jarvis Terminal", html.Span("inject", className="muted mono")),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ID.INJECT_AGENTS,
                        options=[],
                        multi=True,
                        placeholder="Agents…",
                        style={"minWidth": "16rem", "flex": "1 1 16rem"},
                    ),
                    dcc.Dropdown(
                        id=ID.INJECT_MODE,
                        options=[{"label": m.replace("_", " "), "value": m} for m in INJECT_MODES],
                        value="steer",
                        clearable=False,
                        style={"minWidth": "9rem"},
                    ),
                ],
                className="d-flex flex-wrap gap-2 p-3 pb-1",
            ),
            html.Div(MODE_HELP["steer"], id=ID.INJECT_MODE_HELP, className="small muted px-3 pb-2"),
            html.Div(
                [
                    html.Div(
                        html.Div(
                            "Pick agents, type a task, press Enter. ↑ recalls what you sent.",
                            className="terminal-line is-system",
                        ),
                        id=ID.INJECT_TRANSCRIPT,
                        className="terminal-output",
                        role="log",
                        **{"aria-live": "polite"},
                    ),
                    html.Div(
                        [
                            html.Label("Task", htmlFor=ID.INJECT_INPUT, className="visually-hidden"),
                            html.Span("›", className="terminal-prompt", **{"aria-hidden": "true"}),
                            dcc.Input(
                                id=ID.INJECT_INPUT,
                                type="text",
                                value="",
                                placeholder="Type a task for the selected agents…",
                                autoComplete="off",
                                className="terminal-input",
                                n_submit=0,
                            ),
                            dbc.Button(
                                [html.I(className="bi bi-send-fill me-1", **{"aria-hidden": "true"}), "Send"],
                                id=ID.INJECT_SEND,
                                size="sm",
                                color="primary",
                                n_clicks=0,
                                className="terminal-send text-nowrap d-inline-flex align-items-center",
                            ),
                        ],
                        className="terminal-inputline",
                    ),
                ],
                className="terminal mx-3",
            ),
            html.Div(id=ID.INJECT_STATUS, className="mx-3 my-2 small", role="status"),
            dcc.Store(id=ID.INJECT_DRAFT, data=uuid.uuid4().hex),
            dcc.Store(id=ID.INJECT_SIG),
            dcc.Store(id=ID.INJECT_WARNED),
        ],
        className="glass pb-1",
    )


def _override() -> html.Div:
    return html.Div(
        [
            _header("bi-x-octagon", "Tactical Override"),
            html.Div(
                [
                    html.Label("Kill one agent", className="kpi-label d-block mb-1", htmlFor=ID.KILL_AGENT),
                    html.Div(
                        [
                            dcc.Dropdown(
                                id=ID.KILL_AGENT,
                                options=[],
                                placeholder="Agent…",
                                style={"flex": "1 1 12rem"},
                            ),
                            html.Button(
                                [html.I(className="bi bi-x-octagon-fill", **{"aria-hidden": "true"}), "Kill"],
                                id=ID.KILL_OPEN,
                                className="btn-kill",
                                n_clicks=0,
                            ),
                            dbc.Button(
                                [html.I(className="bi bi-unlock me-1", **{"aria-hidden": "true"}), "Release"],
                                id=ID.RELEASE,
                                color="success",
                                outline=True,
                                size="sm",
                                n_clicks=0,
                                style={"display": "none"},
                                title="Let this killed agent work again",
                            ),
                            dbc.Button(
                                "Pause",
                                id=ID.PAUSE,
                                color="secondary",
                                outline=True,
                                size="sm",
                                n_clicks=0,
                                style={"display": "none"},
                                title="Pause after its current model call; Resume lets it go on",
                            ),
                        ],
                        className="d-flex gap-2 align-items-center mb-1",
                    ),
                    html.Div(id=ID.RELEASE_RESULT, className="small", role="status"),
                    html.Div(id=ID.PAUSE_RESULT, className="small mb-3", role="status"),
                    html.Label("Kill all running agents matching", className="kpi-label d-block mb-1"),
                    html.Div(
                        [
                            dcc.Dropdown(
                                id=ID.KILLALL_STATUS,
                                options=[
                                    {"label": s, "value": s}
                                    for s in ("running", "stalled", "waiting", "idle")
                                ],
                                value=["running"],
                                multi=True,
                                placeholder="Status",
                                style={"flex": "1 1 9rem"},
                            ),
                            dcc.Dropdown(
                                id=ID.KILLALL_LABELS,
                                options=[],
                                multi=True,
                                placeholder="Labels",
                                style={"flex": "1 1 9rem"},
                            ),
                            html.Button(
                                [
                                    html.I(className="bi bi-x-octagon-fill", **{"aria-hidden": "true"}),
                                    "Kill all",
                                ],
                                id=ID.KILLALL_OPEN,
                                className="btn-kill",
                                n_clicks=0,
                            ),
                        ],
                        className="d-flex flex-wrap gap-2 align-items-center mb-1",
                    ),
                    html.Div(id=ID.KILLALL_COUNT, className="muted small mb-2"),
                    html.Div(id=ID.KILL_FEEDBACK, className="small", role="status"),
                    html.Div(id=ID.KILL_LIFECYCLE, className="mt-2"),
                ],
                className="p-3",
            ),
            html.Div(
                [
                    html.Label("Model override", className="kpi-label d-block mb-1"),
                    html.Div(
                        [
                            dcc.Dropdown(
                                id=ID.MODEL_AGENT,
                                options=[],
                                placeholder="Agent…",
                                style={"flex": "1 1 10rem"},
                            ),
                            dcc.Dropdown(
                                id=ID.MODEL_PROVIDER,
                                options=list(PROVIDERS),
                                placeholder="Provider (agent's)",
                                style={"flex": "1 1 9rem"},
                            ),
                        ],
                        className="d-flex flex-wrap gap-2 mb-2",
                    ),
                    html.Div(
                        [
                            dcc.Input(
                                id=ID.MODEL_NAME,
                                type="text",
                                placeholder="Model, e.g. gpt-4.1-mini",
                                className="form-control form-control-sm",
                            ),
                            dcc.Input(
                                id=ID.MODEL_REASON,
                                type="text",
                                placeholder="Reason (optional)",
                                className="form-control form-control-sm",
                            ),
                            dbc.Button("Switch", id=ID.MODEL_APPLY, size="sm", color="primary", n_clicks=0),
                        ],
                        className="d-flex gap-2 mb-2",
                    ),
                    html.Div(id=ID.MODEL_RESULT, className="small", role="status"),
                    dcc.Store(id=ID.MODEL_KEY, data=uuid.uuid4().hex),
                ],
                className="px-3 pb-3",
            ),
        ],
        className="glass",
    )


def _kill_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Confirm kill")),
            dbc.ModalBody(
                [
                    html.Div(id=ID.KILL_MODAL_TEXT, className="mb-3"),
                    html.Label("Reason (required, goes to the audit log)", htmlFor=ID.KILL_REASON),
                    dcc.Textarea(
                        id=ID.KILL_REASON,
                        value="",
                        required=True,
                        className="form-control mb-3",
                        style={"minHeight": "4.5rem"},
                    ),
                    dbc.RadioItems(
                        id=ID.KILL_STRENGTH,
                        options=[
                            {"label": "Graceful: finish the current step, then stop", "value": "graceful"},
                            {"label": "Force: stop now", "value": "force"},
                        ],
                        value="graceful",
                    ),
                    html.Div(id=ID.KILL_MODAL_ERROR, className="text-danger small mt-2", role="alert"),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id=ID.KILL_CANCEL, color="secondary", n_clicks=0),
                    html.Button(
                        [html.I(className="bi bi-x-octagon-fill", **{"aria-hidden": "true"}), "Confirm kill"],
                        id=ID.KILL_CONFIRM,
                        className="btn-kill",
                        n_clicks=0,
                    ),
                ]
            ),
        ],
        id=ID.KILL_MODAL,
        is_open=False,
        centered=True,
    )


def _history() -> html.Div:
    return html.Div(
        [
            _header("bi-clock-history", "Command history", html.Span("live", className="muted mono")),
            html.Div(id=ID.HISTORY, className="px-3 pb-3", children=[]),
            dcc.Store(id=ID.HISTORY_SHOWN),
            dcc.Interval(id=ID.INTERVAL, interval=HISTORY_REFRESH_MS),
        ],
        className="glass",
    )


def _audit() -> html.Div:
    return html.Div(
        [
            _header("bi-shield-check", "Audit", html.Span("append-only", className="muted mono")),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ID.AUDIT_ACTOR, options=[], placeholder="Actor", style={"minWidth": "10rem"}
                    ),
                    dcc.Dropdown(
                        id=ID.AUDIT_ACTION,
                        options=list(AUDIT_ACTIONS),
                        placeholder="Action",
                        style={"minWidth": "12rem"},
                    ),
                    dcc.Input(
                        id=ID.AUDIT_AGENT,
                        type="search",
                        placeholder="Agent / target id",
                        debounce=True,
                        className="form-control form-control-sm",
                        style={"maxWidth": "14rem"},
                    ),
                    dbc.Button(
                        [
                            html.I(className="bi bi-arrow-clockwise me-1", **{"aria-hidden": "true"}),
                            "Refresh",
                        ],
                        id=ID.AUDIT_REFRESH,
                        size="sm",
                        color="secondary",
                        outline=True,
                        n_clicks=0,
                    ),
                    dbc.Button(
                        [html.I(className="bi bi-download me-1", **{"aria-hidden": "true"}), "CSV"],
                        id=ID.AUDIT_CSV,
                        size="sm",
                        color="secondary",
                        outline=True,
                        n_clicks=0,
                    ),
                    dcc.Download(id=ID.AUDIT_DOWNLOAD),
                ],
                className="d-flex flex-wrap gap-2 p-3",
            ),
            html.Div(id=ID.AUDIT_TABLE, className="px-3 pb-3", children=[]),
        ],
        className="glass",
    )


def _controls() -> list:
    return [
        dbc.Row([dbc.Col(_terminal(), lg=7, className="mb-3"), dbc.Col(_override(), lg=5, className="mb-3")]),
        html.Div(_history(), className="mb-3"),
        html.Div(_audit(), className="mb-3"),
        _kill_modal(),
        dcc.Store(id=ID.KILL_TARGETS, data=[]),
        dcc.Store(id=ID.KILL_KEY),
        dcc.Store(id=ID.KILL_TRACKING, data=[]),
        dcc.Store(id=ID.KILL_LIFECYCLE_SHOWN),
        dcc.Interval(id=ID.OPS_INTERVAL, interval=OPS_REFRESH_MS),
        dcc.Interval(id=ID.OPTIONS_INTERVAL, interval=OPTIONS_REFRESH_MS),
    ]


def _read_only() -> list:
    return [
        html.Div(
            [
                _icon("bi-eye"),
                "Read-only: sending tasks, kills and model switches is for operators and admins.",
            ],
            id=ID.READ_ONLY,
            className="glass p-3 mb-3 muted",
        ),
        html.Div(_history(), className="mb-3"),
    ]


def layout(subpath: str | None = None, query: str | None = None, *, controls: bool | None = None) -> html.Div:
    show = can_control() if controls is None else controls
    return html.Div(
        [html.H1("Command", className="page-title"), *(_controls() if show else _read_only())],
        id=ID.PAGE,
    )


def validation_layouts() -> list:
    return [layout(None, controls=True)]


# --- pieces the callbacks render ------------------------------------------------------------------

STATE_COLORS = {
    "pending": "secondary",
    "delivered": "info",
    "accepted": "primary",
    "completed": "success",
    "rejected": "danger",
    "failed": "danger",
    "expired": "warning",
    "cancelled": "warning",
}
VERIFICATION_COLORS = {"awaiting": "secondary", "verified": "success", "ineffective": "danger"}
LIFECYCLE = ("pending", "delivered", "accepted", "completed")


def state_badge(state: str, extra_class: str = "") -> html.Span:
    color = STATE_COLORS.get(state, "secondary")
    return html.Span(state, className=f"badge text-bg-{color} cmd-state {extra_class}".strip())


def command_summary(c: dict) -> str:
    payload = c.get("payload") or {}
    if c["kind"] == "inject":
        return payload.get("task") or ""
    if c["kind"] == "model":
        return f"{payload.get('provider') or ''}/{payload.get('model') or ''}".strip("/")
    return f"{c.get('strength') or 'graceful'}: {c.get('reason') or ''}"


def history_table(commands: list[dict]) -> html.Div:
    if not commands:
        return html.Div("No commands yet.", className="muted", id=ID.HISTORY_EMPTY)
    rows = []
    for c in commands:
        verification = c.get("verification")
        v_color = VERIFICATION_COLORS.get(verification, "secondary")
        rows.append(
            html.Tr(
                [
                    html.Td(
                        c["created_at"].strftime("%H:%M:%S"), className="num", title=str(c["created_at"])
                    ),
                    html.Td(c["agent_id"], className="mono"),
                    html.Td(c["kind"], className="mono"),
                    html.Td(command_summary(c), style={"maxWidth": "22rem", "overflowWrap": "anywhere"}),
                    html.Td(
                        [
                            state_badge(c["state"]),
                            html.Span(
                                verification, className=f"badge text-bg-{v_color} ms-1 cmd-verification"
                            )
                            if verification
                            else None,
                        ]
                    ),
                    html.Td(c.get("result_message") or "", className="muted cmd-answer"),
                    html.Td(c.get("issued_by") or "", className="muted"),
                ],
                **{"data-command": c["id"], "data-agent": c["agent_id"], "data-state": c["state"]},
            )
        )
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Time", "Agent", "Kind", "What", "State", "Answer", "By")])
    )
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="mb-0", responsive=True)


def terminal_lines(commands: list[dict]) -> list:
    """The terminal's transcript: each injected task and the agent's answer, oldest first."""
    lines: list = [
        html.Div(
            "Pick agents, type a task, press Enter. ↑ recalls what you sent.",
            className="terminal-line is-system",
        )
    ]
    for c in reversed(commands):
        ts = c["created_at"].strftime("%H:%M:%S")
        lines.append(
            html.Div(
                f"[{ts}] {c['issued_by']} → {c['agent_id']}: {command_summary(c)}",
                className="terminal-line is-command",
                **{"data-command": c["id"]},
            )
        )
        answer = c.get("result_message")
        cls = "is-error" if c["state"] in ("rejected", "failed", "expired", "cancelled") else "is-response"
        text = f"  {c['agent_id']} ‹{c['state']}›" + (f" {answer}" if answer else "")
        lines.append(
            html.Div(
                text,
                className=f"terminal-line {cls}",
                **{"data-answer-of": c["id"], "data-state": c["state"]},
            )
        )
    return lines


def kill_one_question(agent_id: str) -> html.Div:
    """The confirmation dialog's question for Kill."""
    return html.Div(
        ["Kill agent ", html.B(agent_id, className="mono"), "? Its current session ends killed."],
        id=ID.KILL_MODAL_COUNT,
        **{"data-count": "1"},
    )


def kill_matching_question(targets: list[str], statuses: list[str], labels: list[str] | None) -> html.Div:
    """The confirmation dialog's question for Kill all: how many, the filter, and who."""
    n = len(targets)
    return html.Div(
        [
            html.Div(
                [
                    "Kill ",
                    html.B(f"{n} agent{'s' if n != 1 else ''}"),
                    f" ({', '.join(statuses)}",
                    f"; {', '.join(labels)}" if labels else "",
                    ")?",
                ]
            ),
            html.Div(", ".join(targets), className="mono muted small mt-1"),
        ],
        id=ID.KILL_MODAL_COUNT,
        **{"data-count": str(n)},
    )


def lifecycle(c: dict) -> html.Div:
    """A kill's steps, live: pending → delivered → accepted → completed → verified."""
    state = c["state"]
    reached = LIFECYCLE.index(state) if state in LIFECYCLE else -1
    steps = []
    for i, step in enumerate(LIFECYCLE):
        done = i <= reached
        steps.append(
            html.Span(
                step,
                className=f"badge me-1 {'text-bg-' + STATE_COLORS[step] if done else 'text-bg-dark'}",
            )
        )
        steps.append(html.Span("→", className="muted me-1", **{"aria-hidden": "true"}))
    if state in LIFECYCLE:
        verification = c.get("verification") or ("awaiting" if state == "completed" else None)
        label = verification or "verified"
        done = verification in ("verified", "ineffective")
        color = VERIFICATION_COLORS.get(verification, "secondary") if done else "dark"
        steps.append(html.Span(label, className=f"badge text-bg-{color} kill-verification"))
    else:
        steps = [*steps[:-1], html.Span(state, className="badge text-bg-danger ms-1")]
    return html.Div(
        [
            html.Div(
                [
                    html.Span(c["agent_id"], className="mono me-2"),
                    html.Span(c["id"][:8], className="muted mono"),
                ]
            ),
            html.Div(steps, className="my-1"),
            html.Div(c.get("result_message") or "", className="muted small"),
        ],
        className="kill-lifecycle-item py-2 border-bottom border-secondary-subtle",
        **{"data-command": c["id"], "data-state": state, "data-verification": c.get("verification") or ""},
    )


def _text(value) -> str:
    """A DataFrame cell as text: missing values (None, NaN, NaT) are blank."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def audit_what(reason, details) -> str:
    """What an audit row was about: its reason (a kill's), else the task an injection handed over."""
    if _text(reason):
        return _text(reason)
    payload = (details or {}).get("payload") if isinstance(details, dict) else None
    return _text((payload or {}).get("task")) if isinstance(payload, dict) else ""


def audit_table(df) -> html.Div:
    if df is None or df.empty:
        return html.Div("No audit entries match.", className="muted", id=ID.AUDIT_EMPTY)
    rows = [
        html.Tr(
            [
                html.Td(r.ts.strftime("%Y-%m-%d %H:%M:%S"), className="num text-nowrap"),
                html.Td(_text(r.actor)),
                html.Td(_text(r.role), className="muted"),
                html.Td(_text(r.action), className="mono"),
                html.Td(f"{_text(r.target_kind)} {_text(r.target_id)}".strip(), className="mono"),
                html.Td(_text(r.outcome), className="text-danger" if r.outcome != "ok" else ""),
                html.Td(
                    audit_what(r.reason, r.details), style={"maxWidth": "24rem", "overflowWrap": "anywhere"}
                ),
            ],
            **{"data-action": _text(r.action), "data-outcome": _text(r.outcome)},
        )
        for r in df.itertuples()
    ]
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ("Time (UTC)", "Actor", "Role", "Action", "Target", "Outcome", "Reason or task")
            ]
        )
    )
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="mb-0", responsive=True)
