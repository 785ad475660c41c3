"""Alert rules: the metric catalogue, and turning what an admin sends (API body, rule editor) into a valid
rule. No SQL: the metrics' queries are in ``helicarrier.data.queries.alert_metrics``.

A rule: name, metric (with its params), group-by (``fleet``, ``agent``, ``model``, ``provider``,
``label:<key>``; some metrics have their own), comparator and threshold (decimal text: money is never a
float), window, ``for``, severity, labels, no-data and error settings, reopen interval, inhibition, enabled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from helicarrier.alerts.lifecycle import COMPARATORS, ERROR_SETTINGS, NODATA_SETTINGS, RuleSpec
from helicarrier.alerts.matchers import MatcherError, parse_matchers
from helicarrier.slo.definitions import SLI_NAMES

SEVERITIES = ("info", "warning", "critical")
COMMON_GROUPS = ("fleet", "agent", "model", "provider", "label")
RESERVED_LABELS = frozenset({"alertname", "severity", "rule_id"})
MAX_WINDOW_S = 31 * 86400
MAX_FOR_S = 7 * 86400
DEFAULT_INTERVAL_S = 15  # the cadence every rule had before rules had their own (issue 15)
MIN_INTERVAL_S = 5  # HELICARRIER_ALERT_MIN_INTERVAL_S's default
MAX_INTERVAL_S = 86400
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class Param:
    kind: str  # int | decimal | statuses | slo
    default: Any = None
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    unit: str  # usd | tokens | ratio | seconds | count
    groups: tuple[str, ...] = COMMON_GROUPS
    params: Mapping[str, Param] = field(default_factory=dict)
    uses_window: bool = True
    # True for metrics that count bad things: nothing returned means all is well, not "no data".
    empty_is_ok: bool = False
    help: str = ""


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("spend_usd", "Spend over the window", "usd", help="USD spent in the window (usage rollups)."),
        Metric(
            "tokens", "Tokens over the window", "tokens", help="Tokens used in the window (usage rollups)."
        ),
        Metric(
            "failure_rate",
            "Failure rate of sessions ended in the window",
            "ratio",
            params={
                "min_samples": Param("int", 20, help="Groups with fewer ended sessions are not judged."),
                "statuses": Param("statuses", ["failed", "timeout"], help="Session end states that count."),
            },
            help="Share (0-1) of sessions ended in the window that failed.",
        ),
        Metric(
            "session_runtime_s",
            "Longest running session",
            "seconds",
            groups=(*COMMON_GROUPS, "session"),
            uses_window=False,
            empty_is_ok=True,
            help="Seconds the longest still-running session in the group has run.",
        ),
        Metric(
            "agents_offline",
            "Agents without a heartbeat",
            "count",
            params={"offline_after_s": Param("int", 60, help="Silence after which an agent counts offline.")},
            uses_window=False,
            help="Agents (not killed) whose last heartbeat is older than offline_after_s.",
        ),
        Metric(
            "kills_unconfirmed",
            "Kills not confirmed within their TTL",
            "count",
            groups=("fleet", "agent"),
            empty_is_ok=True,
            help="Kill commands whose TTL ran out in the window without the agent confirming.",
        ),
        Metric(
            "kills_ineffective",
            "Kills that did not stop spending",
            "count",
            groups=("fleet", "agent"),
            empty_is_ok=True,
            help="Confirmed kills after which usage kept arriving (verification 'ineffective').",
        ),
        Metric(
            "ingest_rejection_rate",
            "Ingest rejection rate",
            "ratio",
            groups=("fleet",),
            params={"min_samples": Param("int", 100, help="Fewer events in the window: no verdict.")},
            help="Share (0-1) of events refused at ingest in the window.",
        ),
        Metric(
            "budget_share",
            "Spend as a share of a budget",
            "ratio",
            params={"budget_usd": Param("decimal", required=True, help="The budget for the window, USD.")},
            help="Spend in the window divided by budget_usd (0.8 = 80%).",
        ),
        Metric(
            "slo_burn",
            "SLO error budget burning",
            "ratio",
            groups=("fleet",),
            params={"slo": Param("slo", required=True, help=f"The SLO: {', '.join(SLI_NAMES)}.")},
            uses_window=False,
            help="The burn rate of the most urgent multiwindow condition holding for the SLO (Google SRE "
            "workbook): 14.4 (1 h and 5 min, page), 6 (6 h and 30 min, page), 1 (3 days and 6 h, ticket), "
            "else 0. `>= 6` pages on a fast or slow burn; `> 0` also opens the ticket.",
        ),
        Metric(
            "budget_state",
            "Budgets over their soft line or locked",
            "count",
            groups=("budget",),
            uses_window=False,
            empty_is_ok=True,
            help="Per budget: 1 past its soft threshold or projected to run out before its period ends, "
            "2 locked (or overridden by an admin), else 0 (the budget evaluation's verdict).",
        ),
        Metric(
            "receiver_disabled",
            "Notification receivers disabled",
            "count",
            groups=("receiver",),
            uses_window=False,
            empty_is_ok=True,
            help="1 for a webhook receiver disabled after repeated delivery failures.",
        ),
    )
}


class RuleError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# A threshold or budget is a few digits; text past this, or an exponent past this, is no number a rule can
# compare (Decimal("1E+999999999") is exact but overflows the first arithmetic or formatting it meets).
MAX_DECIMAL_CHARS = 64
MAX_DECIMAL_EXPONENT = 30


def parse_decimal(value: Any, field_name: str) -> Decimal:
    """Decimal from text or a JSON number (read from its text, so 0.1 stays 0.1); never via float maths."""
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float | Decimal):
        raise RuleError(field_name, "a number is needed")
    text = str(value).strip()
    if len(text) > MAX_DECIMAL_CHARS:
        raise RuleError(field_name, f"a number of at most {MAX_DECIMAL_CHARS} characters is needed")
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        raise RuleError(field_name, f"{value!r} is not a number") from None
    if not d.is_finite():
        raise RuleError(field_name, "must be a finite number")
    if not -MAX_DECIMAL_EXPONENT <= d.as_tuple().exponent <= MAX_DECIMAL_EXPONENT:
        raise RuleError(field_name, f"the exponent must be within ±{MAX_DECIMAL_EXPONENT}")
    return d


def bounded_int(value: Any, field_name: str, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] from a JSON number or its text; anything else names ``field_name``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RuleError(field_name, "a whole number is needed")
    if isinstance(value, str) and len(value) > 32:
        raise RuleError(field_name, f"must be between {lo} and {hi}")
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):  # "x", NaN, infinity
        raise RuleError(field_name, "a whole number is needed") from None
    if isinstance(value, float) and value != n:
        raise RuleError(field_name, "a whole number is needed")
    if not lo <= n <= hi:
        raise RuleError(field_name, f"must be between {lo} and {hi}")
    return n


def _labels(value: Any, field_name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RuleError(field_name, "an object of label names to values is needed")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not _LABEL_KEY.match(k) or k in RESERVED_LABELS:
            raise RuleError(field_name, f"{k!r} is not a usable label name")
        if not isinstance(v, str | int) or isinstance(v, bool) or len(str(v)) > 200:
            raise RuleError(field_name, f"label {k}: a short text value is needed")
        out[k] = str(v)
    return out


def group_label_name(group_by: str) -> str | None:
    """The label a group-by puts on its alerts (``label:team`` -> ``team``); None for the whole fleet."""
    if group_by == "fleet":
        return None
    return group_by.split(":", 1)[1] if group_by.startswith("label:") else group_by


def _group_by(value: Any, metric: Metric) -> str:
    group_by = value or metric.groups[0]
    if not isinstance(group_by, str):
        raise RuleError("group_by", "text is needed")
    base = "label" if group_by.startswith("label:") else group_by
    if base not in metric.groups:
        shown = ", ".join("label:<key>" if g == "label" else g for g in metric.groups)
        raise RuleError("group_by", f"{metric.name} can be grouped by {shown}")
    if base == "label":
        key = group_by.split(":", 1)[1]
        if not _LABEL_KEY.match(key) or key in RESERVED_LABELS:
            raise RuleError("group_by", f"{key!r} is not a usable label key")
    return group_by


def _params(value: Any, metric: Metric) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise RuleError("params", "an object is needed")
    unknown = set(value) - set(metric.params)
    if unknown:
        raise RuleError("params", f"{metric.name} takes no {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for name, spec in metric.params.items():
        raw = value.get(name, spec.default)
        if raw is None:
            if spec.required:
                raise RuleError(f"params.{name}", "required")
            continue
        if spec.kind == "int":
            out[name] = bounded_int(raw, f"params.{name}", 0, 10**9)
        elif spec.kind == "decimal":
            d = parse_decimal(raw, f"params.{name}")
            if d <= 0:
                raise RuleError(f"params.{name}", "must be more than 0")
            out[name] = str(d)
        elif spec.kind == "statuses":
            if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
                raise RuleError(f"params.{name}", "a list of session end states is needed")
            out[name] = sorted(set(raw))
        elif spec.kind == "slo":
            if raw not in SLI_NAMES:
                raise RuleError(f"params.{name}", f"one of {', '.join(SLI_NAMES)}")
            out[name] = raw
    return out


def _inhibits(value: Any) -> dict | None:
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise RuleError("inhibits", 'an object {"matchers": [...], "equal": [...]} is needed')
    unknown = set(value) - {"matchers", "equal"}
    if unknown:
        raise RuleError("inhibits", f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        matchers = parse_matchers(value.get("matchers"), allow_empty=False)
    except MatcherError as exc:
        raise RuleError("inhibits.matchers", str(exc)) from None
    equal = value.get("equal") or []
    if not isinstance(equal, list) or not all(isinstance(x, str) and _LABEL_KEY.match(x) for x in equal):
        raise RuleError("inhibits.equal", "a list of label names is needed")
    return {"matchers": [m.to_dict() for m in matchers], "equal": equal}


FIELDS = (
    "name", "description", "metric", "params", "group_by", "comparator", "threshold", "window_s", "for_s",
    "interval_s", "severity", "labels", "nodata_state", "error_state", "reopen_s", "inhibits", "enabled",
)  # fmt: skip


def validate_rule(
    body: Mapping[str, Any],
    existing: Mapping[str, Any] | None = None,
    min_interval_s: int = MIN_INTERVAL_S,
) -> dict[str, Any]:
    """The column values of a valid rule from ``body`` (over ``existing`` for an update). Raises RuleError.
    ``min_interval_s``: the shortest evaluation interval allowed (the global setting)."""
    unknown = set(body) - set(FIELDS) - {"id"}
    if unknown:
        raise RuleError(sorted(unknown)[0], "unknown field")
    doc = {**(existing or {}), **body}
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise RuleError("name", "a name of 1 to 200 characters is needed")
    metric = METRICS.get(doc.get("metric"))  # type: ignore[arg-type]
    if metric is None:
        raise RuleError("metric", f"one of {', '.join(METRICS)} is needed")
    if body.get("metric") and existing and body["metric"] != existing.get("metric") and "params" not in body:
        doc["params"] = {}  # another metric: the old metric's params mean nothing to it
    comparator = doc.get("comparator") or ">"
    if comparator not in COMPARATORS:
        raise RuleError("comparator", f"one of {' '.join(COMPARATORS)} is needed")
    threshold = parse_decimal(doc.get("threshold"), "threshold")
    severity = doc.get("severity") or "warning"
    if severity not in SEVERITIES:
        raise RuleError("severity", f"one of {', '.join(SEVERITIES)} is needed")
    nodata = doc.get("nodata_state") or "nodata"
    if nodata not in NODATA_SETTINGS:
        raise RuleError("nodata_state", f"one of {', '.join(NODATA_SETTINGS)} is needed")
    error = doc.get("error_state") or "error"
    if error not in ERROR_SETTINGS:
        raise RuleError("error_state", f"one of {', '.join(ERROR_SETTINGS)} is needed")
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", "true or false")
    description = doc.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise RuleError("description", "text of at most 2000 characters")
    window_s = doc.get("window_s")
    return {
        "name": name.strip(),
        "description": description or None,
        "metric": metric.name,
        "params": _params(doc.get("params"), metric),
        "group_by": _group_by(doc.get("group_by"), metric),
        "comparator": comparator,
        "threshold": str(threshold),
        "window_s": bounded_int(window_s if window_s is not None else 3600, "window_s", 60, MAX_WINDOW_S),
        "for_s": bounded_int(doc.get("for_s") or 0, "for_s", 0, MAX_FOR_S),
        "interval_s": bounded_int(
            doc.get("interval_s") or DEFAULT_INTERVAL_S, "interval_s", min_interval_s, MAX_INTERVAL_S
        ),
        "severity": severity,
        "labels": _labels(doc.get("labels"), "labels"),
        "nodata_state": nodata,
        "error_state": error,
        "reopen_s": bounded_int(
            doc.get("reopen_s") if doc.get("reopen_s") is not None else 300, "reopen_s", 0, 86400
        ),
        "inhibits": _inhibits(doc.get("inhibits")),
        "enabled": enabled,
    }


def spec(rule: Mapping[str, Any]) -> RuleSpec:
    """The evaluator's view of a stored rule."""
    metric = METRICS.get(rule["metric"])
    return RuleSpec(
        id=int(rule["id"]),
        comparator=rule["comparator"],
        threshold=Decimal(rule["threshold"]),
        for_s=int(rule["for_s"] or 0),
        nodata_state=rule["nodata_state"] or "nodata",
        error_state=rule["error_state"] or "error",
        reopen_s=int(rule["reopen_s"] if rule.get("reopen_s") is not None else 300),
        empty_is_ok=bool(metric and metric.empty_is_ok),
    )


def alert_labels(
    rule: Mapping[str, Any], group: Mapping[str, str], context: Mapping[str, str] | None
) -> dict:
    """Every label of an alert, what silences, inhibition and receivers match on: the rule's name and
    severity, its labels, the group's context (an agent's provider and model) and the group labels."""
    return {
        "alertname": rule["name"],
        "severity": rule["severity"],
        "rule_id": str(rule["id"]),
        **(rule.get("labels") or {}),
        **(context or {}),
        **group,
    }


def describe(rule: Mapping[str, Any]) -> str:
    """One line a person reads: ``spend_usd by agent > 25 over 1h for 5m``."""
    metric = METRICS.get(rule["metric"])
    parts = [rule["metric"]]
    if rule.get("group_by") and rule["group_by"] != "fleet":
        parts.append(f"by {rule['group_by']}")
    parts.append(f"{rule['comparator']} {rule['threshold']}")
    if metric is None or metric.uses_window:
        parts.append(f"over {format_duration(rule['window_s'])}")
    if rule.get("for_s"):
        parts.append(f"for {format_duration(rule['for_s'])}")
    return " ".join(parts)


def format_duration(seconds: int | None) -> str:
    s = int(seconds or 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def format_value(value: Decimal | str | None, unit: str) -> str:
    if value is None:
        return "–"
    d = Decimal(value)
    if unit == "usd":
        return f"${d.quantize(Decimal('0.01')):,}"
    if unit == "ratio":
        return f"{(d * 100).quantize(Decimal('0.1'))}%"
    if unit in ("tokens", "count"):
        return f"{int(d):,}"
    if unit == "seconds":
        return format_duration(int(d)) if int(d) % 60 == 0 else f"{int(d)}s"
    return str(d)
