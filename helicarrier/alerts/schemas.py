"""The alerts API's request and response shapes, for the OpenAPI document. Requests are checked by
``helicarrier.alerts.rules.validate_rule`` and ``helicarrier.alerts.validation`` (their refusals name the
field); the tests validate real answers against these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from helicarrier.alerts.lifecycle import COMPARATORS, ERROR_SETTINGS, NODATA_SETTINGS, STATES
from helicarrier.alerts.rules import METRICS, SEVERITIES

Matchers = Field(
    description='Alertmanager matchers: text such as `agent="atlas-01"` or `{"name", "op", "value"}` objects.'
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatcherOut(_Out):
    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str


class Inhibits(_In):
    matchers: list[str | dict[str, str]] = Matchers
    equal: list[str] = Field(default_factory=list, description="Labels both alerts must share.")


class RuleIn(_In):
    """A rule. On PATCH every field is optional (what is sent changes); on POST and PUT `name`, `metric` and
    `threshold` are required."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    metric: Literal[tuple(METRICS)] | None = None  # type: ignore[valid-type]
    params: dict[str, Any] | None = Field(None, description="The metric's parameters (see GET /alert-rules).")
    group_by: str | None = Field(None, description="fleet, agent, model, provider, label:<key>, ...")
    comparator: Literal[COMPARATORS] = ">"  # type: ignore[valid-type]
    threshold: str | float | int | None = Field(None, description="A decimal; money is never a float.")
    window_s: int | None = Field(None, ge=60, le=31 * 86400)
    for_s: int | None = Field(None, ge=0, le=7 * 86400)
    interval_s: int | None = Field(
        None, ge=1, le=86400, description="Seconds between evaluations (HELICARRIER_ALERT_MIN_INTERVAL_S up)."
    )
    severity: Literal[SEVERITIES] = "warning"  # type: ignore[valid-type]
    labels: dict[str, str] | None = None
    nodata_state: Literal[NODATA_SETTINGS] = "nodata"  # type: ignore[valid-type]
    error_state: Literal[ERROR_SETTINGS] = "error"  # type: ignore[valid-type]
    reopen_s: int | None = Field(None, ge=0, le=86400)
    inhibits: Inhibits | None = None
    enabled: bool = True


class RuleOut(_Out):
    id: int
    name: str
    description: str | None
    metric: str
    params: dict[str, Any] | None
    group_by: str
    comparator: str
    threshold: str
    window_s: int
    for_s: int
    interval_s: int
    severity: str
    labels: dict[str, str] | None
    nodata_state: str
    error_state: str
    reopen_s: int
    inhibits: dict[str, Any] | None
    enabled: bool
    created_by: str | None
    created_at: str
    updated_at: str
    health: str | None = Field(description="ok, nodata or error at the last evaluation.")
    last_eval_at: str | None
    last_eval_ms: int | None
    last_error: str | None
    error_streak: int = Field(0, description="Failed evaluations in a row; health is error from 3.")


class MetricParamOut(_Out):
    default: Any
    required: bool
    help: str


class MetricOut(_Out):
    name: str
    title: str
    unit: str
    group_by: list[str]
    params: dict[str, MetricParamOut]
    uses_window: bool
    help: str


class RulesResponse(_Out):
    rules: list[RuleOut]
    metrics: list[MetricOut] = Field(description="What a rule can watch.")


class RuleResponse(_Out):
    rule: RuleOut


class DeletedResponse(_Out):
    deleted: int


class PreviewAlert(_Out):
    labels: dict[str, str]
    state: str
    value: str | None


class PreviewOut(_Out):
    groups: int
    firing: int
    no_data: bool
    nodata_outcome: str | None = None
    for_s: int | None = None
    unit: str | None = None
    error: str | None
    alerts: list[PreviewAlert]
    history: dict[str, Any] | None = Field(
        None, description="Firings over the last `days` (sampled every `step_s`); `noisy` above max_per_day."
    )


class PreviewResponse(_Out):
    preview: PreviewOut


class AlertOut(_Out):
    id: int
    rule_id: int
    rule_name: str
    severity: str
    metric: str
    rule_labels: dict[str, str] | None
    group_by: str
    fingerprint: str
    labels: dict[str, str] | None
    all_labels: dict[str, str] = Field(description="Rule name and severity, rule labels, agent context.")
    context: dict[str, Any] | None
    state: Literal[STATES]  # type: ignore[valid-type]
    value: str | None
    peak: str | None
    eval_count: int | None
    episode: int | None
    active_since: str | None
    fired_at: str | None
    last_seen_at: str | None
    resolved_at: str | None
    last_transition_at: str | None
    acked_by: str | None
    acked_at: str | None
    ack_note: str | None
    acked: bool
    message: str | None
    silenced_by: list[int] = Field(description="Ids of the active silences that mute it.")
    inhibited_by: list[str] = Field(description="Names of the firing rules that inhibit it.")


class AlertsResponse(_Out):
    alerts: list[AlertOut]


class AlertEventOut(_Out):
    id: int
    alert_id: int
    rule_id: int
    ts: str
    from_state: str
    to_state: str
    event: str
    value: str | None
    episode: int
    actor: str | None
    details: dict[str, Any] | None


class AlertResponse(_Out):
    alert: AlertOut
    history: list[AlertEventOut] | None = None


class AckAlertRequest(_In):
    note: str = Field(min_length=1, max_length=2000, description="What is being done about it.")


class SilenceIn(_In):
    """`matchers` and `comment` are required; then `ends_at` or `duration_s`. PATCH changes what it sends."""

    matchers: list[str | dict[str, str]] | None = Matchers
    starts_at: str | None = Field(None, description="ISO 8601 with a zone. Default: now.")
    ends_at: str | None = Field(None, description="ISO 8601 with a zone.")
    duration_s: int | None = Field(None, ge=1, le=366 * 86400, description="Instead of ends_at.")
    comment: str | None = Field(None, min_length=1, max_length=2000)


class SilenceOut(_Out):
    id: int
    matchers: list[MatcherOut]
    starts_at: str
    ends_at: str
    created_by: str
    comment: str
    created_at: str
    status: Literal["pending", "active", "expired"]


class SilenceResponse(_Out):
    silence: SilenceOut


class SilencesResponse(_Out):
    silences: list[SilenceOut]


class MuteWindow(_In):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, description="the days the window starts on"
    )
    start: str = Field(description="HH:MM, local time", examples=["22:00"])
    end: str = Field(description="HH:MM (24:00: midnight); before start: runs into the next day")
    tz: str = Field("UTC", description="IANA time zone, e.g. Europe/Berlin")


class MuteWindowOut(_Out):
    days: list[str]
    start: str
    end: str
    tz: str


class ReceiverIn(_In):
    """A receiver: alerts matching `matchers`, grouped by `group_by`, sent to `url` the `kind`'s way."""

    name: str | None = Field(None, min_length=1, max_length=100)
    kind: Literal["webhook", "slack", "email"] | None = Field(
        None,
        description="webhook (the JSON document; the default), slack (a Slack-compatible incoming webhook) "
        "or email (through the configured SMTP server)",
    )
    url: str | None = Field(
        None, max_length=2000, description="http:// or https://; for email mailto:a@example.org,b@example.org"
    )
    enabled: bool = True
    matchers: list[str | dict[str, str]] | None = Matchers
    group_by: list[str] | None = None
    group_wait_s: int | None = Field(None, ge=0, le=3600)
    group_interval_s: int | None = Field(None, ge=1, le=86400)
    repeat_interval_s: int | None = Field(None, ge=60, le=7 * 86400)
    max_per_hour: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="notifications in any hour before a storm becomes one summary (default 60; 0: no cap)",
    )
    mute_windows: list[MuteWindow] | None = Field(
        None, max_length=20, description="times of the week it is sent nothing; what fell due goes out after"
    )


class ReceiverOut(_Out):
    id: int
    name: str
    kind: Literal["webhook", "slack", "email"]
    url: str
    enabled: bool
    matchers: list[MatcherOut] | None
    group_by: list[str] | None
    group_wait_s: int
    group_interval_s: int
    repeat_interval_s: int
    max_per_hour: int
    mute_windows: list[MuteWindowOut] | None
    consecutive_failures: int
    disabled_reason: str | None
    last_success_at: str | None
    last_failure_at: str | None
    created_at: str
    updated_at: str


class ReceiverResponse(_Out):
    receiver: ReceiverOut


class ReceiversResponse(_Out):
    receivers: list[ReceiverOut]


class ReceiverTestResponse(_Out):
    receiver_id: int
    ok: bool = Field(description="the test message was accepted by the receiver (HTTP 2xx, or SMTP)")
    error: str | None = Field(description="why not, as the deliveries log would say it")


class DeliveryOut(_Out):
    id: int
    receiver_id: int
    receiver: str
    group_key: str
    group_labels: dict[str, str] | None
    reason: str
    status: Literal["retrying", "sent", "failed"]
    attempts: int
    alerts: list[list[str]]
    error: str | None
    created_at: str
    last_attempt_at: str | None
    next_attempt_at: str | None
    sent_at: str | None


class DeliveriesResponse(_Out):
    deliveries: list[DeliveryOut]
