"""Every HTTP route of Helicarrier but the Dash pages, in one table (as Flower's ``urls.py`` and Datasette's
``_routes()``): method, path, view, who may call it, what it takes and what it answers.

``install`` turns the table into Flask rules with their scope checks; ``helicarrier.api.openapi`` turns the
same table into ``GET /api/v1/openapi.json``. A test fails when the two disagree.
"""

from __future__ import annotations

from functools import wraps

from flask import Flask

from helicarrier.alerts import schemas as al
from helicarrier.analytics import schemas as an
from helicarrier.api import auth, errors, failopen, params
from helicarrier.api.http import app_context, refuse_nul_parameters
from helicarrier.api.spec import ID_MAXIMA, MAX_TEXT_ID, USER, Param, Route
from helicarrier.api.views import (
    alerts,
    analytics,
    budgets,
    control,
    fleet,
    hooks,
    ingest,
    meta,
    otlp,
    reports,
    sentinel,
    web,
)
from helicarrier.budgets import schemas as bg
from helicarrier.control import schemas as ct
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet import schemas as fl
from helicarrier.hooks import schemas as hk
from helicarrier.ingest import documented
from helicarrier.ingest import schemas as ig
from helicarrier.localtime import MAX_ZONE_LENGTH
from helicarrier.observability import http as observed
from helicarrier.reports.schemas import ReportsResponse
from helicarrier.sentinel import schemas as sn
from helicarrier.sentinel.detectors import DETECTORS
from helicarrier.slo.schemas import SloResponse

V1 = "/api/v1"
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "Any text up to 255 characters: a retry with the same key replays the first answer.",
    {"type": "string", "maxLength": 255},
    where="header",
)
_DATE = (
    f"A date YYYY-MM-DD (a whole local day in `tz`) or an ISO 8601 time with an offset, in the years "
    f"{params.FIRST_YEAR} to {params.LAST_YEAR}."
)
# A date or a date-time: either is a string of at most MAX_TIME_LENGTH characters.
_TIME = {
    "type": "string",
    "maxLength": params.MAX_TIME_LENGTH,
    # The shape (a date, or a time with an offset Z or ±hh:mm); the server checks the calendar and the range.
    "pattern": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:\d{2}))?$",
    "anyOf": [{"format": "date"}, {"format": "date-time"}],
}
TZ = Param(
    "tz",
    f"IANA time zone key (e.g. Europe/Paris; at most {MAX_ZONE_LENGTH} characters) of dates and buckets.",
    {"type": "string", "default": "UTC", "minLength": 1, "maxLength": MAX_ZONE_LENGTH},
)
RANGE = (
    Param("from", f"Start. {_DATE} Default: 30 days before `to`.", _TIME),
    Param("to", f"End. {_DATE} A date is included, a time excluded. Default: today.", _TIME),
    TZ,
)
SESSION_PARAMS = (
    Param("agent", "Agent id(s); repeat or comma-separate.", repeat=True),
    Param("model", "Model(s).", repeat=True),
    Param("provider", "Provider(s).", repeat=True),
    Param(
        "status",
        "Status(es).",
        {"type": "string", "enum": ["running", "succeeded", "failed", "timeout", "killed"]},
        repeat=True,
    ),
    Param(
        "label",
        "`key=value`; repeat for several (same key: any of them).",
        {"type": "string", "pattern": "^[^=]{1,64}=", "maxLength": 321},
        repeat=True,
    ),
    Param("from", f"Sessions started at or after. {_DATE}", _TIME),
    Param("to", f"Sessions started before. {_DATE} A date is included.", _TIME),
    TZ,
    Param("q", "Case-insensitive text in the task or the error."),
    Param(
        "sort",
        "Sort column.",
        {
            "type": "string",
            "enum": ["started_at", "cost_nanos", "runtime_s", "total_tokens", "agent_id", "model", "status"],
            "default": "started_at",
        },
    ),
    Param("order", "Sort order.", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
    Param("cursor", "`next_cursor` of the previous page."),
    Param("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
)
_ALERT_STATES = {"type": "string", "description": "Comma-separated alert states."}
_SILENCE_STATE = {"type": "string", "enum": ["active", "pending", "expired"]}


def _commands(kind: str, summary: str, request) -> Route:
    return Route(
        "POST",
        f"{V1}/agents/<agent_id>/{kind}",
        getattr(
            control,
            {
                "kill": "kill",
                "tasks": "inject",
                "model": "switch_model",
                "commands": "issue",
                "pause": "pause",
                "resume": "resume",
            }[kind],
        ),
        summary,
        "control",
        request,
        {201: ct.IssuedResponse, 200: ct.IssuedResponse},
        errors=(409,),
        params=(IDEMPOTENCY_KEY,),
    )


ROUTES: tuple[Route, ...] = (
    # -- the service itself
    Route("GET", "/healthz", meta.healthz, "Liveness: the database answers", errors=(503,)),
    Route("GET", "/readyz", meta.readyz, "Readiness: database, schema and scheduler", errors=(503,)),
    Route("GET", f"{V1}/openapi.json", meta.openapi, "This API, as an OpenAPI 3.1 document"),
    Route(
        "GET",
        "/metrics",
        meta.metrics,
        "Prometheus metrics of this instance (every worker's) and the fleet's gauges",
        "read",
        media_type="text/plain",
        open_setting="metrics_open",
        in_openapi=True,
    ),
    # -- agents report (docs/api.md#ingest)
    Route(
        "POST",
        f"{V1}/ingest",
        ingest.ingest,
        "Report events: one v1 event or a v2 batch",
        "ingest",
        (*documented.V1_EVENTS, documented.V2Envelope),
        {200: ig.IngestResponse, 207: ig.IngestResponse},
        errors=(409,),
        params=(IDEMPOTENCY_KEY,),
    ),
    Route(
        "POST",
        f"{V1}/usage/normalize",
        ingest.normalize,
        "Normalize and price one usage event's data, storing nothing",
        "ingest",
        documented.NormalizeRequest,
        {200: ig.NormalizeResponse},
        paused_in_maintenance=False,
    ),
    # -- OpenTelemetry exporters report (docs/api.md#otlp); OTEL_EXPORTER_OTLP_ENDPOINT=<url>/api/v1/otlp
    *(
        Route(
            "POST",
            f"{V1}/otlp/v1/{signal}",
            getattr(otlp, signal),
            f"OTLP/HTTP {signal} (protobuf or JSON, gzip or not) mapped into ingest events",
            "ingest",
            errors=(400, 413, 415, 503),
            media_type="application/x-protobuf",
        )
        for signal in ("traces", "logs", "metrics")
    ),
    # -- agents obey (docs/api.md#commands)
    Route(
        "GET",
        f"{V1}/agents/<agent_id>/commands",
        control.poll,
        "The agent's poll: its pending commands, now delivered",
        "ingest",
        responses={200: ct.CommandsResponse},
        params=(
            Param(
                "wait",
                "Hold the request up to this many seconds (at most 30 are held) until a command arrives.",
                {"type": "number", "minimum": 0, "maximum": 3600, "default": 0},
            ),
        ),
        paused_in_maintenance=True,  # delivering marks the commands delivered
    ),
    Route(
        "POST",
        f"{V1}/commands/<command_id>/ack",
        control.ack,
        "The agent's answer to a command",
        "ingest",
        ct.AckRequest,
        {200: ct.CommandResponse},
        errors=(403, 409),
    ),
    # -- agents that report and obey through their own hooks (docs/connectors.md#claude-code-hooks)
    Route(
        "POST",
        f"{V1}/hooks/claude-code",
        hooks.claude_code,
        "A Claude Code http hook: the hook input stored as events, answered with the operator's decision",
        "ingest",
        hk.HookInput,
        {200: hk.HookDecision},
        params=(
            Param(
                "agent",
                "The agent the hook speaks for (written by `hooks install`); also the `X-Helicarrier-Agent` "
                "header. Default: `claude-code-<name of the hook's cwd>`.",
                {"type": "string", "maxLength": 128},
            ),
        ),
        # In maintenance (a POST: paused) the hook is answered "allow" (fail-open) and stores nothing: a
        # cutover must not take writes, and a developer's session must not stop for it.
        fail_open=True,
    ),
    # -- the fleet
    Route(
        "GET",
        f"{V1}/agents",
        fleet.list_agents,
        "The agents, their status and who speaks for them",
        "read",
        responses={200: fl.AgentsResponse},
    ),
    Route(
        "GET",
        f"{V1}/fleet/scale",
        fleet.scale,
        "How many agent workers the fleet should run now (auto-scaling), and why",
        "read",
        responses={200: fl.ScaleResponse},
    ),
    Route(
        "PUT",
        f"{V1}/agents/<agent_id>/owner",
        fleet.set_owner,
        "Give an agent to another token",
        "admin",
        fl.OwnerRequest,
        {200: fl.OwnerResponse},
    ),
    # -- operators act
    _commands("kill", "Kill the agent's current session (Tactical Override)", ct.KillRequest),
    _commands("tasks", "Hand the agent a task (Jarvis Terminal)", ct.InjectRequest),
    _commands("model", "Switch the agent to another model", ct.ModelRequest),
    _commands("pause", "Pause the agent after its current model call", ct.PauseRequest),
    _commands("resume", "Let a paused agent go on", ct.PauseRequest),
    _commands("commands", "Issue any command kind", ct.CommandRequest),
    Route(
        "POST",
        f"{V1}/agents/<agent_id>/release",
        control.release,
        "Let a killed agent work again",
        "control",
        ct.ReleaseRequest,
        {200: ct.AgentControlResponse},
        errors=(409,),
    ),
    Route(
        "GET",
        f"{V1}/commands/<command_id>",
        control.get_command,
        "One command and where it is in its lifecycle",
        "read",
        responses={200: ct.CommandResponse},
    ),
    Route(
        "POST",
        f"{V1}/commands/<command_id>/cancel",
        control.cancel,
        "Cancel a command its agent has not fetched yet",
        "control",
        responses={200: ct.CommandResponse},
        errors=(409,),
    ),
    # -- the stuck-loop sentinel (docs/sentinel.md)
    Route(
        "GET",
        f"{V1}/sentinel/findings",
        sentinel.list_findings,
        "The stuck-loop sentinel's findings, newest first, with their evidence and the actions taken",
        "read",
        None,
        {200: sn.FindingsResponse},
        params=(
            Param("agent", "Only this agent's.", {"type": "string", "maxLength": MAX_TEXT_ID}),
            Param("session", "Only this session's.", {"type": "string", "maxLength": MAX_TEXT_ID}),
            Param("detector", "Only this detector's.", {"type": "string", "enum": list(DETECTORS)}),
            Param("state", "open or resolved.", {"type": "string", "enum": ["open", "resolved"]}),
            Param(
                "limit",
                "At most this many.",
                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            ),
        ),
    ),
    Route(
        "GET",
        f"{V1}/sentinel/exemptions",
        sentinel.list_exemptions,
        "Agents exempted from the sentinel's actions",
        "read",
        None,
        {200: sn.ExemptionsResponse},
    ),
    Route(
        "PUT",
        f"{V1}/sentinel/exemptions/<agent_id>",
        sentinel.exempt,
        "Exempt an agent from the sentinel's actions (its findings are still recorded)",
        "control",
        sn.ExemptRequest,
        {201: sn.ExemptionResponse, 200: sn.ExemptionResponse},
    ),
    Route(
        "DELETE",
        f"{V1}/sentinel/exemptions/<agent_id>",
        sentinel.unexempt,
        "Lift an agent's exemption: the sentinel may act on it again",
        "control",
        None,
        {200: sn.UnexemptResponse},
    ),
    # -- analysts read (docs/api.md#analytics)
    Route(
        "GET",
        f"{V1}/sessions",
        analytics.sessions,
        "Sessions (the Ledger): filtered, sorted, cursor-paginated",
        "read",
        responses={200: an.SessionsResponse},
        params=SESSION_PARAMS,
    ),
    Route(
        "GET",
        f"{V1}/sessions/<session_id>",
        analytics.session_detail,
        "One session: usage timeline, logs, commands, token and cost breakdown",
        "read",
        responses={200: an.SessionDetailResponse},
    ),
    Route(
        "GET",
        f"{V1}/usage",
        analytics.usage,
        "Usage totals and a daily or hourly series of cost and tokens",
        "read",
        responses={200: an.UsageResponse},
        params=(
            *RANGE,
            Param(
                "group_by",
                "Split the series by: nothing (day), model, provider or agent.",
                {"type": "string", "enum": ["day", "model", "provider", "agent"], "default": "day"},
            ),
            Param(
                "granularity",
                f"Day buckets (local days in tz; ranges up to {params.MAX_DAILY_DAYS} days) or hour buckets "
                f"(the clock hours of tz; ranges up to {params.MAX_HOURLY_DAYS} days).",
                {"type": "string", "enum": ["day", "hour"], "default": "day"},
            ),
        ),
    ),
    Route(
        "GET",
        f"{V1}/models/matrix",
        analytics.model_matrix,
        "Model x task kind success matrix with 95% intervals, ranking and ties",
        "read",
        responses={200: an.ModelMatrixResponse},
        params=(
            *RANGE,
            Param(
                "min_samples",
                "Cells with fewer sessions are marked insufficient.",
                {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 20},
            ),
        ),
    ),
    Route(
        "GET",
        f"{V1}/slo",
        meta.slo,
        "Service levels: each SLO's SLI over 1 h, 24 h and 30 d, budget left, burn rates, alert conditions",
        "read",
        responses={200: SloResponse},
    ),
    Route(
        "GET",
        f"{V1}/reports",
        reports.list_all,
        "The scheduled CSV reports",
        "read",
        None,
        {200: ReportsResponse},
    ),
    Route(
        "GET",
        f"{V1}/reports/<name>",
        reports.download,
        "Download one scheduled CSV report",
        "read",
        media_type="text/csv",
    ),
    # -- alerts (docs/api.md#alerts)
    Route(
        "GET",
        f"{V1}/alerts",
        alerts.list_alerts,
        "Alerts: open ones and those resolved in the last hour",
        "read",
        None,
        {200: al.AlertsResponse},
        params=(Param("state", "Only these states.", _ALERT_STATES),),
    ),
    Route(
        "GET",
        f"{V1}/alerts/<int:alert_id>",
        alerts.get_alert,
        "One alert with its history",
        "read",
        None,
        {200: al.AlertResponse},
    ),
    Route(
        "POST",
        f"{V1}/alerts/<int:alert_id>/ack",
        alerts.ack_alert,
        "Acknowledge a firing alert",
        "control",
        al.AckAlertRequest,
        {200: al.AlertResponse},
        errors=(409,),
    ),
    Route(
        "GET",
        f"{V1}/silences",
        alerts.list_silences,
        "Silences, newest first",
        "read",
        None,
        {200: al.SilencesResponse},
        params=(Param("state", "Only these.", _SILENCE_STATE),),
    ),
    Route(
        "POST",
        f"{V1}/silences",
        alerts.create_silence,
        "Silence alerts matching labels for a while",
        "control",
        al.SilenceIn,
        {201: al.SilenceResponse},
    ),
    Route(
        "GET",
        f"{V1}/silences/<int:silence_id>",
        alerts.get_silence,
        "One silence",
        "read",
        None,
        {200: al.SilenceResponse},
    ),
    Route(
        "PATCH",
        f"{V1}/silences/<int:silence_id>",
        alerts.update_silence,
        "Change a silence",
        "control",
        al.SilenceIn,
        {200: al.SilenceResponse},
        errors=(409,),
    ),
    Route(
        "DELETE",
        f"{V1}/silences/<int:silence_id>",
        alerts.expire_silence,
        "End a silence now",
        "control",
        None,
        {200: al.SilenceResponse},
    ),
    Route(
        "GET",
        f"{V1}/alert-rules",
        alerts.list_rules,
        "Alert rules, and the metrics a rule can watch",
        "admin",
        None,
        {200: al.RulesResponse},
    ),
    Route(
        "POST",
        f"{V1}/alert-rules",
        alerts.create_rule,
        "Create an alert rule",
        "admin",
        al.RuleIn,
        {201: al.RuleResponse},
        errors=(409,),
    ),
    Route(
        "POST",
        f"{V1}/alert-rules/preview",
        alerts.preview_rule,
        "How many groups a rule would fire for now",
        "admin",
        al.RuleIn,
        {200: al.PreviewResponse},
        paused_in_maintenance=False,
    ),
    Route(
        "GET",
        f"{V1}/alert-rules/<int:rule_id>",
        alerts.get_rule,
        "One alert rule",
        "admin",
        None,
        {200: al.RuleResponse},
    ),
    Route(
        "PATCH",
        f"{V1}/alert-rules/<int:rule_id>",
        alerts.patch_rule,
        "Change some fields of a rule",
        "admin",
        al.RuleIn,
        {200: al.RuleResponse},
        errors=(409,),
    ),
    Route(
        "PUT",
        f"{V1}/alert-rules/<int:rule_id>",
        alerts.replace_rule,
        "Replace a rule",
        "admin",
        al.RuleIn,
        {200: al.RuleResponse},
        errors=(409,),
    ),
    Route(
        "DELETE",
        f"{V1}/alert-rules/<int:rule_id>",
        alerts.delete_rule,
        "Delete a rule and its alerts",
        "admin",
        None,
        {200: al.DeletedResponse},
    ),
    Route(
        "GET",
        f"{V1}/alert-receivers",
        alerts.list_receivers,
        "Notification receivers",
        "admin",
        None,
        {200: al.ReceiversResponse},
    ),
    Route(
        "POST",
        f"{V1}/alert-receivers",
        alerts.create_receiver,
        "Add a webhook receiver",
        "admin",
        al.ReceiverIn,
        {201: al.ReceiverResponse},
        errors=(409,),
    ),
    Route(
        "GET",
        f"{V1}/alert-receivers/<int:receiver_id>",
        alerts.get_receiver,
        "One receiver",
        "admin",
        None,
        {200: al.ReceiverResponse},
    ),
    Route(
        "PATCH",
        f"{V1}/alert-receivers/<int:receiver_id>",
        alerts.update_receiver,
        "Change a receiver",
        "admin",
        al.ReceiverIn,
        {200: al.ReceiverResponse},
        errors=(409,),
    ),
    Route(
        "DELETE",
        f"{V1}/alert-receivers/<int:receiver_id>",
        alerts.delete_receiver,
        "Remove a receiver",
        "admin",
        None,
        {200: al.DeletedResponse},
    ),
    Route(
        "POST",
        f"{V1}/alert-receivers/<int:receiver_id>/test",
        alerts.test_receiver,
        "Send a test message to a receiver now",
        "admin",
        None,
        {200: al.ReceiverTestResponse},
    ),
    Route(
        "GET",
        f"{V1}/alert-deliveries",
        alerts.list_deliveries,
        "Notifications sent, newest first",
        "read",
        None,
        {200: al.DeliveriesResponse},
        params=(
            Param(
                "receiver_id",
                "Only this receiver's.",
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            ),
            Param("limit", "At most.", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        ),
    ),
    # -- budgets (docs/api.md#budgets)
    Route(
        "GET",
        f"{V1}/budgets",
        budgets.list_budgets,
        "Budgets and their burn",
        "read",
        None,
        {200: bg.BudgetsResponse},
    ),
    Route(
        "POST",
        f"{V1}/budgets",
        budgets.create_budget,
        "Create a budget",
        "admin",
        bg.BudgetIn,
        {201: bg.BudgetResponse},
        errors=(409,),
    ),
    Route(
        "GET",
        f"{V1}/budgets/<int:budget_id>",
        budgets.get_budget,
        "One budget: burn, burn rate and projected exhaustion",
        "read",
        None,
        {200: bg.BudgetResponse},
    ),
    Route(
        "PATCH",
        f"{V1}/budgets/<int:budget_id>",
        budgets.update_budget,
        "Change a budget (a raised limit lifts its lock)",
        "admin",
        bg.BudgetIn,
        {200: bg.BudgetResponse},
        errors=(409,),
    ),
    Route(
        "POST",
        f"{V1}/budgets/<int:budget_id>/override",
        budgets.override_budget,
        "Lift a budget's lock for the rest of its period, with a reason",
        "admin",
        bg.OverrideIn,
        {200: bg.BudgetResponse},
        errors=(409,),
    ),
    Route(
        "DELETE",
        f"{V1}/budgets/<int:budget_id>",
        budgets.delete_budget,
        "Delete a budget",
        "admin",
        None,
        {200: bg.BudgetDeleted},
    ),
    # -- the HUD around the Dash pages
    Route("GET", "/login", web.login_page, "The sign-in form", media_type="text/html"),
    Route("POST", "/login", web.login, "Sign in", media_type="text/html"),
    Route("POST", "/logout", web.logout, "Sign out: every session of this user ends", media_type="text/html"),
    Route(
        "POST", "/csp-report", web.csp_report, "A browser's report of a CSP violation", responses={204: None}
    ),
    # -- the HUD's downloads (a signed-in user)
    Route(
        "GET",
        "/reports/<name>",
        reports.download,
        "Download a scheduled report from the HUD",
        USER,
        media_type="text/csv",
    ),
)


def _guarded(route: Route):
    check = auth.require_user if route.scope == USER else auth.require_token_scope
    view = route.view

    def checked(*args, **kwargs):
        if route.paused:
            # Before the token check: authenticating writes (last use), and nothing may be written now.
            app_context().maintenance.refuse_writes()
        if route.scope is not None and not (
            route.open_setting and getattr(app_context().settings, route.open_setting)
        ):
            check(route.scope)
        refuse_nul_parameters(kwargs)
        for name, value in kwargs.items():
            # An id past its column's type names nothing (and would overflow the driver: a 500).
            if type(value) is str and len(value) > MAX_TEXT_ID:
                raise Refused(
                    404,
                    "not_found",
                    f"{name}: no id is longer than {MAX_TEXT_ID} characters",
                    {"field": name},
                )
            if type(value) is int and value > ID_MAXIMA.get(name, 2**63 - 1):
                raise Refused(404, "not_found", f"{name}: no row has the id {value}", {"field": name})
        return view(*args, **kwargs)

    return wraps(view)(failopen.guard(checked) if route.fail_open else checked)


# Counted and timed as ingest (helicarrier_ingest_*): what agents send. Not the command poll, a GET that
# waits up to 30 s by design and would drown the latency of everything else.
INGEST_ENDPOINTS = frozenset(
    f"{r.endpoint}.{r.method.lower()}" for r in ROUTES if r.scope == "ingest" and r.method == "POST"
)


def _ingest_answered(status: int, seconds: float) -> None:
    app_context().slo.ingest_answered(status, seconds, utcnow())


def install(server: Flask) -> None:
    """Every route of the table as a Flask rule, behind its scope check; JSON errors under /api/."""
    errors.install(server, frozenset(r.path for r in ROUTES if r.documented and not r.is_api))
    observed.install(server, INGEST_ENDPOINTS, _ingest_answered)
    for route in ROUTES:
        server.add_url_rule(
            route.path, f"{route.endpoint}.{route.method.lower()}", _guarded(route), methods=[route.method]
        )
    errors.install_api_fallback(server)
