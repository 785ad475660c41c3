"""The Alerts page's two forms, each written once as a tuple of its fields: the rule editor and the receiver
form.

From ``RULE_FIELDS`` come the editor's controls (``rule_editor``), what it shows for a new rule or for one
being edited (``rule_form_values``) and the rule its values make for ``validate_rule`` (``rule_body``); the
callbacks take their States and Outputs from it too. A field's ``kind`` says which control it is and how a
rule's value is shown in it and read back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from helicarrier.alerts.lifecycle import COMPARATORS, ERROR_SETTINGS, NODATA_SETTINGS
from helicarrier.alerts.matchers import MatcherError, parse_matcher
from helicarrier.alerts.rules import DEFAULT_INTERVAL_S, METRICS, SEVERITIES, RuleError, format_duration
from helicarrier.layouts.alerts_ids import ID

TEXT = "text"  # a one-line input; empty shows as ""
LONG_TEXT = "long_text"  # a text area; empty reads back as None
NUMBER = "number"
CHOICE = "choice"  # a dropdown of ``options``
SWITCH = "switch"  # a checkbox: True / False
JSON = "json"  # JSON text in a text area: the advanced option, where no form fits
PAIRS = "pairs"  # "k=v, k=v" for a mapping
MATCHERS = "matchers"  # label matchers, one per line as Alertmanager writes them: team="core"
NAMES = "names"  # "a, b" for a list of names

RECEIVER_KINDS = (
    ("webhook", "Webhook (JSON)"),
    ("slack", "Slack incoming webhook"),
    ("email", "E-mail (SMTP)"),
)
GROUP_LABELS = {
    "fleet": "whole fleet",
    "agent": "agent",
    "model": "model",
    "provider": "provider",
    "label": "agent label",
    "session": "session",
    "receiver": "receiver",
}
DURATIONS = [(s, format_duration(s)) for s in (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 604800)]
FOR_DURATIONS = [(0, "at once")] + [(s, format_duration(s)) for s in (15, 30, 60, 120, 300, 900, 1800, 3600)]


def choices(pairs) -> list[dict]:
    """Dropdown options from (value, label) pairs."""
    return [{"label": label, "value": value} for value, label in pairs]


@dataclass(frozen=True)
class FormField:
    id: str  # the control's component id
    key: str  # what it edits: the rule's (or receiver's) field
    label: str
    kind: str = TEXT
    default: Any = None  # a new rule's value, as the rule holds it
    options: tuple = ()  # a CHOICE's options, as dcc.Dropdown takes them
    width: int = 6  # of the row's 12 columns
    placeholder: str | None = None
    # A Store the editor fills instead of the control: the group-by dropdown takes the value from it once
    # its options fit the metric (helicarrier.callbacks.alerts.group_options).
    fill_via: str | None = None


RULE_FIELDS: tuple[FormField, ...] = (
    FormField(ID.RULE_NAME, "name", "Name"),
    FormField(
        ID.RULE_METRIC,
        "metric",
        "Metric",
        CHOICE,
        "spend_usd",
        tuple({"label": m.title, "value": m.name} for m in METRICS.values()),
    ),
    FormField(
        ID.RULE_GROUP_BY,
        "group_by",
        "Group by",
        CHOICE,
        "fleet",
        tuple(choices((k, v) for k, v in GROUP_LABELS.items())),
        width=4,
        fill_via=ID.RULE_GROUP_WANT,
    ),
    FormField(ID.RULE_LABEL_KEY, "label_key", "Label key (group by label)", width=4, placeholder="team"),
    FormField(ID.RULE_SEVERITY, "severity", "Severity", CHOICE, "warning", tuple(SEVERITIES), width=4),
    FormField(ID.RULE_COMPARATOR, "comparator", "Comparator", CHOICE, ">", tuple(COMPARATORS), width=3),
    FormField(ID.RULE_THRESHOLD, "threshold", "Threshold", width=3, placeholder="25.00"),
    FormField(ID.RULE_WINDOW, "window_s", "Window", CHOICE, 3600, tuple(choices(DURATIONS)), width=3),
    FormField(ID.RULE_FOR, "for_s", "For", CHOICE, 0, tuple(choices(FOR_DURATIONS)), width=3),
    FormField(ID.RULE_NODATA, "nodata_state", "No data", CHOICE, "nodata", tuple(NODATA_SETTINGS), width=3),
    FormField(ID.RULE_ERROR, "error_state", "On error", CHOICE, "error", tuple(ERROR_SETTINGS), width=3),
    FormField(ID.RULE_REOPEN, "reopen_s", "Reopen within (s)", NUMBER, 300, width=3),
    FormField(ID.RULE_INTERVAL, "interval_s", "Evaluate every (s)", NUMBER, DEFAULT_INTERVAL_S, width=3),
    FormField(ID.RULE_ENABLED, "enabled", "Enabled", SWITCH, True, width=3),
    FormField(ID.RULE_PARAMS, "params", "Params (JSON)", JSON),
    FormField(ID.RULE_LABELS, "labels", "Labels (k=v, k=v)", PAIRS),
    # The rule's ``inhibits`` ({"matchers": [...], "equal": [...]}) as two fields, as Alertmanager's
    # inhibit rules read: while this rule fires, it mutes alerts that match ... and share these labels.
    FormField(
        ID.RULE_INHIBIT_MATCHERS,
        "inhibit_matchers",
        'While firing, mute alerts matching (one per line: team="core", !=, =~ regex, !~)',
        MATCHERS,
        placeholder='severity="warning"',
    ),
    FormField(
        ID.RULE_INHIBIT_EQUAL,
        "inhibit_equal",
        "... that have the same values of (labels, comma-separated)",
        NAMES,
        placeholder="agent, team",
    ),
    FormField(ID.RULE_DESCRIPTION, "description", "Description", LONG_TEXT),
)

RECEIVER_FIELDS: tuple[FormField, ...] = (
    FormField(ID.RECEIVER_NAME, "name", "Name", width=3),
    FormField(ID.RECEIVER_KIND, "kind", "Kind", CHOICE, "webhook", tuple(choices(RECEIVER_KINDS)), width=3),
    FormField(
        ID.RECEIVER_URL,
        "url",
        "URL (or mailto:a@x.org,b@y.org)",
        width=6,
        placeholder="https://… or mailto:…",
    ),
    FormField(ID.RECEIVER_GROUP_BY, "group_by", "Group by (labels)", default="alertname"),
    FormField(ID.RECEIVER_TIMING, "timing", "Wait / interval / repeat (s)", default="30/300/14400"),
    FormField(ID.RECEIVER_MAX_PER_HOUR, "max_per_hour", "Max per hour (0: no cap)", NUMBER, 60, width=3),
    FormField(
        ID.RECEIVER_MUTES,
        "mute_windows",
        'Mute windows (JSON: [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00", "tz": "UTC"}])',
        JSON,
    ),
)


# -- values: a rule's into the controls, the controls' back into a rule ----------------------------------


def _pairs(text: str | None) -> dict[str, str]:
    out = {}
    for part in (text or "").replace("\n", ",").split(","):
        if part.strip():
            if "=" not in part:
                raise RuleError("labels", f"{part.strip()!r} is not key=value")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _json(text: str | None, field: str):
    if not (text or "").strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RuleError(field, f"not valid JSON: {exc}") from None


def _matchers(text: str | None, field: str) -> list[str]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        try:
            parse_matcher(line)
        except MatcherError as exc:
            raise RuleError(field, str(exc)) from None
    return lines


def shown(f: FormField, value: Any) -> Any:
    """A rule's value as the field's control shows it."""
    if f.kind == SWITCH:
        return ["on"] if value else []
    if f.kind == MATCHERS:
        return "\n".join(str(parse_matcher(m)) for m in value or [])
    if f.kind == NAMES:
        return ", ".join(value or [])
    if f.kind == JSON:
        return json.dumps(value) if value else ""
    if f.kind == PAIRS:
        return ", ".join(f"{k}={v}" for k, v in (value or {}).items())
    if f.kind in (TEXT, LONG_TEXT):
        return value or ""
    return value


def read(f: FormField, value: Any) -> Any:
    """The control's value as the rule holds it (RuleError for text that does not parse)."""
    if f.kind == SWITCH:
        return bool(value)
    if f.kind == JSON:
        return _json(value, f.key)
    if f.kind == PAIRS:
        return _pairs(value)
    if f.kind == MATCHERS:
        return _matchers(value, f.key)
    if f.kind == NAMES:
        return [n.strip() for n in (value or "").split(",") if n.strip()]
    if f.kind == LONG_TEXT:
        return value or None
    return value


def metric_defaults(metric: str) -> dict[str, Any]:
    return {k: p.default for k, p in METRICS[metric].params.items() if p.default is not None}


def rule_form_values(rule: Mapping[str, Any] | None) -> list:
    """What the editor shows, in RULE_FIELDS order: a rule's values, or a new rule's defaults."""
    r = dict(rule) if rule else {f.key: f.default for f in RULE_FIELDS}
    # One rule field, two controls: "label:team" is the group "label" and the label key "team".
    group_by = r["group_by"]
    label_key = group_by.split(":", 1)[1] if group_by.startswith("label:") else ""
    r["group_by"], r["label_key"] = ("label" if label_key else group_by), label_key
    inhibits = r.get("inhibits") or {}
    r["inhibit_matchers"], r["inhibit_equal"] = inhibits.get("matchers"), inhibits.get("equal")
    if r.get("params") is None:
        r["params"] = metric_defaults(r["metric"])
    return [shown(f, r.get(f.key)) for f in RULE_FIELDS]


def rule_body(values: Sequence[Any]) -> dict[str, Any]:
    """The rule the editor's values (RULE_FIELDS order) make, as validate_rule and the preview take it."""
    body = {f.key: read(f, v) for f, v in zip(RULE_FIELDS, values, strict=True)}
    label_key = body.pop("label_key")
    if body["group_by"] == "label":
        body["group_by"] = f"label:{(label_key or '').strip()}"
    matchers, equal = body.pop("inhibit_matchers"), body.pop("inhibit_equal")
    # Labels to share without matchers would inhibit nothing: validate_rule says so (inhibits.matchers).
    body["inhibits"] = {"matchers": matchers, "equal": equal} if matchers or equal else None
    return body


def receiver_body(values: Sequence[Any]) -> dict[str, Any]:
    """The receiver the form's values (RECEIVER_FIELDS order) make, as validate_receiver takes it."""
    form = {f.key: read(f, v) for f, v in zip(RECEIVER_FIELDS, values, strict=True)}
    timing = [p.strip() for p in (form["timing"] or "").split("/")]
    if len(timing) != 3:
        raise RuleError("timing", "write group wait / group interval / repeat interval in seconds")
    return {
        "name": form["name"],
        "kind": form["kind"] or "webhook",
        "url": (form["url"] or "").strip(),
        "group_by": [g.strip() for g in (form["group_by"] or "").split(",") if g.strip()],
        "group_wait_s": timing[0],
        "group_interval_s": timing[1],
        "repeat_interval_s": timing[2],
        "max_per_hour": form["max_per_hour"],
        "mute_windows": form["mute_windows"],
    }


# -- the controls ----------------------------------------------------------------------------------------


def control(f: FormField, value: Any) -> Component:
    if f.kind == CHOICE:
        return dcc.Dropdown(id=f.id, options=list(f.options), value=value, clearable=False)
    if f.kind == SWITCH:
        return dbc.Checklist(id=f.id, options=[{"label": "on", "value": "on"}], value=value)
    if f.kind in (JSON, LONG_TEXT, MATCHERS):
        mono = f.kind != LONG_TEXT
        return dbc.Textarea(
            id=f.id, rows=2, value=value, className="mono" if mono else "", placeholder=f.placeholder
        )
    kind = "number" if f.kind == NUMBER else "text"
    return dbc.Input(id=f.id, type=kind, value=value, placeholder=f.placeholder)


def field_row(fields: Sequence[FormField], values: Sequence[Any]) -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                [dbc.Label(f.label, className="small muted mb-1"), control(f, v)],
                md=f.width,
                className="mb-2",
            )
            for f, v in zip(fields, values, strict=True)
        ]
    )


def _button(label: str, button_id: str, color: str, outline: bool, extra_class: str = "") -> dbc.Button:
    return dbc.Button(
        label, id=button_id, color=color, outline=outline, size="sm", className=extra_class, n_clicks=0
    )


def rule_editor() -> html.Div:
    """Hidden until New rule or a rule's Edit fills it."""
    return html.Div(
        [
            dcc.Store(id=ID.RULE_ID),
            dcc.Store(id=ID.RULE_GROUP_WANT),
            field_row(RULE_FIELDS, rule_form_values(None)),
            html.Div(
                [
                    _button("Preview", ID.RULE_PREVIEW, "info", True),
                    _button("Save", ID.RULE_SAVE, "primary", False, "ms-2"),
                    _button("Delete", ID.RULE_DELETE, "danger", True, "ms-2"),
                    _button("Close", ID.RULE_CLOSE, "secondary", True, "ms-2"),
                ]
            ),
            html.Div(id=ID.RULE_PREVIEW_RESULT, className="mt-2"),
        ],
        id=ID.RULE_EDITOR,
        className="border-top pt-3 mt-3",
        style={"display": "none"},
    )


def rule_result() -> html.Div:
    """What Save or Delete did: outside the editor, which closes once they succeed."""
    return html.Div(id=ID.RULE_RESULT, className="mt-2", role="status")


def receiver_form() -> html.Div:
    return html.Div(
        [
            field_row(RECEIVER_FIELDS, [shown(f, f.default) for f in RECEIVER_FIELDS]),
            dbc.Button("Add receiver", id=ID.RECEIVER_CREATE, size="sm", n_clicks=0),
            html.Div(id=ID.RECEIVER_RESULT, className="mt-2"),
        ],
        id=ID.RECEIVER_FORM,
        className="border-top pt-3 mt-3",
    )
