"""SQLAlchemy 2 typed models: the schema Alembic migrates.

Money is integer nano-dollars (1e-9 USD) in BIGINT columns named ``*_nanos``: exact, summable in SQL, and
fine-grained enough that a million cheap calls do not round away. Timestamps are ``UTCDateTime``.

Event tables (usage_events, log_events) carry no foreign keys: events of one batch may arrive before the
``session.start`` that names their session, and the ingest path creates the agent and session rows it needs.
On PostgreSQL both are partitioned by UTC month of ``ts`` (migration 0010; helicarrier.retention.partitions):
their primary keys there are (id, ts) and (seq, ts), since a partitioned table's unique keys must hold the
partition key. The models keep ``id`` / ``seq`` as the key: each still comes from one sequence, it is what
the app, copy-db (resuming after the largest id) and parity (row order) go by, and it is the key on SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from helicarrier.data.types import BigIntPK, JSONType, UTCDateTime, utcnow

# Named constraints, so SQLite batch migrations can find and keep them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # What the agent last reported (running, idle, stalled, waiting); offline derives from last_heartbeat_at.
    status: Mapped[str] = mapped_column(String(20), default="idle")
    # What an operator imposed (NULL: active, killing, killed; see control.lifecycle); outranks the status.
    control_state: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    current_task: Mapped[str | None] = mapped_column(Text)
    current_session_id: Mapped[str | None] = mapped_column(String(128))
    labels: Mapped[dict | None] = mapped_column(JSONType)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The token that speaks for the agent: only it may report for it, fetch and answer its commands.
    owner_token_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("api_tokens.id"), index=True)
    owner_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A heartbeat saying ``waiting`` with an expected duration (a long build, a human, a rate limit): until
    # then the stuck-loop sentinel leaves the agent alone (helicarrier.sentinel). NULL: not waiting.
    waiting_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting_for: Mapped[str | None] = mapped_column(String(200))


_SORT_COLUMNS = ("cost_nanos", "total_tokens", "runtime_ms")


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        # Each sort of the Ledger is a keyset on (sort column[, started_at], id), served by one index;
        # the agent, model and status ones also serve "filter + date range".
        Index("ix_sessions_started_id", "started_at", "id"),
        # These two also carry every column a page sorts or filters by (migration 0016): "an agent's (or a
        # model's) sessions by cost, or by model" is then read from the index alone (see sessions._fetch).
        Index("ix_sessions_agent_started", "agent_id", "started_at", "id", "status", "model", *_SORT_COLUMNS),
        Index("ix_sessions_model_started", "model", "started_at", "id", "status", "agent_id", *_SORT_COLUMNS),
        Index("ix_sessions_status_started", "status", "started_at", "id"),
        # started_at and status ride along so that SQLite checks "in this range / with this status" on the
        # index entry while walking it, before reading the row (measured: 25 ms -> 0.8 ms for a page).
        Index("ix_sessions_cost_id", "cost_nanos", "id", "started_at", "status"),
        Index("ix_sessions_tokens_id", "total_tokens", "id", "started_at", "status"),
        Index("ix_sessions_runtime_id", "runtime_ms", "id", "started_at", "status"),
        # Session analytics read whole UTC days from session_rollups and the ragged ends from here.
        Index("ix_sessions_ended_at", "ended_at"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), ForeignKey("agents.id"))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    task: Mapped[str | None] = mapped_column(Text)
    task_kind: Mapped[str | None] = mapped_column(String(100))
    labels: Mapped[dict | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ended_at - started_at in ms once the session ended (None while running), kept by the ingest path.
    runtime_ms: Mapped[int | None] = mapped_column(BigInteger)
    # Running totals kept at ingest time so the ledger never sums raw events.
    usage_events: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    # input + output, as usage_events.total_tokens: a column so that the Ledger can sort by it on an index.
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    unpriced_events: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageEvent(Base):
    """One model call, normalized, with its raw provider payload and the provenance of its cost."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_session_ts", "session_id", "ts"),
        Index("ix_usage_events_agent_ts", "agent_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(128))
    agent_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(128))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int | None] = mapped_column(BigInteger)
    total_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_nanos: Mapped[int | None] = mapped_column(BigInteger)
    reported_cost_nanos: Mapped[int | None] = mapped_column(BigInteger)
    pricing_version: Mapped[str | None] = mapped_column(String(64))
    price_provider: Mapped[str | None] = mapped_column(String(64))
    price_model: Mapped[str | None] = mapped_column(String(200))
    cost_provenance: Mapped[str] = mapped_column(String(16))
    cost_confidence: Mapped[str] = mapped_column(String(8))
    normalizer_version: Mapped[int] = mapped_column(SmallInteger)
    warnings: Mapped[list | None] = mapped_column(JSONType)
    raw: Mapped[dict | None] = mapped_column(JSONType)


class LogEvent(Base):
    __tablename__ = "log_events"
    __table_args__ = (Index("ix_log_events_agent_seq", "agent_id", "seq"),)

    # The sequence number the live tail resumes from.
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(128))
    agent_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(128), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    attrs: Mapped[dict | None] = mapped_column(JSONType)


class IngestEventId(Base):
    """Every v2 event id seen, per source: a repeated id is a duplicate and is stored once. Remembered for
    the retention of ``event_ids`` (helicarrier.retention), counted from the UTC day it was first seen."""

    __tablename__ = "ingest_event_ids"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Days since 1970-01-01 UTC (an integer: a timestamp column would cost every event its conversion).
    seen_day: Mapped[int] = mapped_column(Integer, index=True)


class IngestReceipt(Base):
    """An ``Idempotency-Key`` and the response first given for it, replayed for a retried request."""

    __tablename__ = "ingest_receipts"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    token_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(255))
    route: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Command(Base):
    __tablename__ = "commands"
    __table_args__ = (
        Index("ix_commands_agent_state", "agent_id", "state"),
        UniqueConstraint("issued_by", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), ForeignKey("agents.id"))
    session_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16))
    # Kill only: graceful or force, and the closed-loop verdict (verified / ineffective).
    strength: Mapped[str | None] = mapped_column(String(16))
    verification: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    result_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Budget(Base):
    """A spending cap on a scope (the fleet, a ``key=value`` agent label, an agent or a model) per local day
    or month (helicarrier.budgets). ``state`` moves through helicarrier.budgets.lifecycle; the evaluation
    keeps the period's figures here so the API and the page read them without summing anything."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scope: Mapped[str] = mapped_column(String(16))  # fleet | label | agent | model
    scope_value: Mapped[str | None] = mapped_column(String(330))  # '' for the fleet
    period: Mapped[str] = mapped_column(String(8))  # day | month
    limit_nanos: Mapped[int] = mapped_column(BigInteger)
    soft_percent: Mapped[int] = mapped_column(Integer, default=80)
    policy: Mapped[str] = mapped_column(String(8))  # pause | kill | finish
    state: Mapped[str] = mapped_column(String(16), default="ok")
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    spent_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_nanos_per_h: Mapped[int] = mapped_column(BigInteger, default=0)
    projected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lock_reason: Mapped[str | None] = mapped_column(Text)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BudgetPause(Base):
    """An agent a budget's lock paused: resumed (and the row gone) when the lock lifts."""

    __tablename__ = "budget_pauses"

    budget_id: Mapped[int] = mapped_column(Integer, ForeignKey("budgets.id"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only record of every control action (the application never updates or deletes a row)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))  # user | token | system
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_kind: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | refused | error
    details: Mapped[dict | None] = mapped_column(JSONType)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    metric: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict | None] = mapped_column(JSONType)
    group_by: Mapped[str] = mapped_column(String(32), default="fleet")
    comparator: Mapped[str] = mapped_column(String(4))
    # Decimal as text: thresholds can be money, which is never a float.
    threshold: Mapped[str] = mapped_column(String(64))
    window_s: Mapped[int] = mapped_column(Integer)
    for_s: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    labels: Mapped[dict | None] = mapped_column(JSONType)
    nodata_state: Mapped[str] = mapped_column(String(16), default="nodata")
    error_state: Mapped[str] = mapped_column(String(16), default="error")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    description: Mapped[str | None] = mapped_column(Text)
    # A resolved alert that fires again within this many seconds reopens (same episode, no new start).
    reopen_s: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    # Inhibition while this rule fires: {"matchers": [...target matchers], "equal": [label names]}.
    inhibits: Mapped[dict | None] = mapped_column(JSONType)
    created_by: Mapped[str | None] = mapped_column(String(100))
    # The last evaluation: ok | nodata | error, its time, duration and error message.
    health: Mapped[str | None] = mapped_column(String(16))
    last_eval_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_eval_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Seconds between evaluations of this rule (issue 15): the scheduler evaluates only the rules due.
    interval_s: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    # Consecutive failed evaluations: health turns ``error`` at ERROR_STREAK (engine), one success clears it.
    error_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Alert(Base):
    """One alert per rule and group, for ever: its fingerprint is unique, and each re-evaluation updates the
    row (an alert that fires again later starts a new ``episode`` of the same row). The history of its
    transitions is in ``alert_events``. States: helicarrier.alerts.lifecycle."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_state", "rule_id", "state"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(Integer, ForeignKey("alert_rules.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    labels: Mapped[dict | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), index=True)
    value: Mapped[str | None] = mapped_column(String(64))
    peak: Mapped[str | None] = mapped_column(String(64))
    eval_count: Mapped[int] = mapped_column(Integer, default=0)
    active_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(100))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_note: Mapped[str | None] = mapped_column(Text)
    # Labels that describe the group without identifying it (an agent's provider, model), for matching.
    context: Mapped[dict | None] = mapped_column(JSONType)
    episode: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_transition_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)  # the evaluation error, for an alert in state error


class AlertEvent(Base):
    """Every state change of an alert (and its acknowledgements): append-only history."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_ts", "alert_id", "ts"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("alerts.id", ondelete="CASCADE")
    )
    rule_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))  # breach, hold, reopen, clear, nodata, error, ack
    value: Mapped[str | None] = mapped_column(String(64))
    episode: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict | None] = mapped_column(JSONType)


class AlertEvalCycle(Base):
    """One evaluation cycle of all enabled rules: how long it took, what failed, which process ran it."""

    __tablename__ = "alert_eval_cycles"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    rules_evaluated: Mapped[int] = mapped_column(Integer)
    rules_failed: Mapped[int] = mapped_column(Integer)
    alerts_changed: Mapped[int] = mapped_column(Integer)
    queries: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(200))
    errors: Mapped[list | None] = mapped_column(JSONType)


class AlertReceiver(Base):
    """Where alert notifications go (a webhook, a Slack-compatible incoming webhook, or e-mail), with
    Alertmanager's timing settings."""

    __tablename__ = "alert_receivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    url: Mapped[str] = mapped_column(Text)  # http(s) for webhook and slack; mailto:a@x,b@y for email
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Which alerts go to it (label matchers; none: all) and how they are grouped.
    matchers: Mapped[list | None] = mapped_column(JSONType)
    group_by: Mapped[list | None] = mapped_column(JSONType)
    group_wait_s: Mapped[int] = mapped_column(Integer, default=30)
    group_interval_s: Mapped[int] = mapped_column(Integer, default=300)
    repeat_interval_s: Mapped[int] = mapped_column(Integer, default=14400)
    # Notifications in any hour; past it a storm becomes one summary (helicarrier.alerts.ratecap). 0: none.
    max_per_hour: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    # When it is sent nothing: [{"days": [...], "start": "HH:MM", "end": "HH:MM", "tz": ...}] (alerts.mutes)
    mute_windows: Mapped[list | None] = mapped_column(JSONType)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)  # set when disabled after failures
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertDelivery(Base):
    """One notification of one group to one receiver, with its attempts: the deliveries log, and the
    memory of what each group last announced (grouping reads it, so a restart repeats nothing)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_receiver_group", "receiver_id", "group_key", "id"),
        Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    receiver_id: Mapped[int] = mapped_column(Integer, ForeignKey("alert_receivers.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(64))
    group_labels: Mapped[dict | None] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(String(16))  # new | changed | repeat
    status: Mapped[str] = mapped_column(String(16))  # retrying | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    alerts: Mapped[list] = mapped_column(JSONType)  # [[fingerprint, state], ...]
    payload: Mapped[dict] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IngestStat(Base):
    """Ingest outcomes per minute (and per writer shard, so concurrent ingest transactions rarely wait on
    one row): what the ingest rejection-rate alert reads."""

    __tablename__ = "ingest_stats"

    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(unix seconds / 60)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class Silence(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[list] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token, stored as the SHA-256 of its value; the token itself is shown once and never kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100))
    # The agents the token may claim: globs (``build-*``), comma-separated; NULL: any unclaimed agent.
    agents: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped at sign-out and password change: a session cookie of an older generation no longer works.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PricingVersion(Base):
    """An operator's price table: the pinned genai-prices data plus overrides, named ``<base>+<suffix>``."""

    __tablename__ = "pricing_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PriceOverride(Base):
    __tablename__ = "price_overrides"
    __table_args__ = (UniqueConstraint("version", "provider", "model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), ForeignKey("pricing_versions.name", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    # Decimal text: prices are money, never floats.
    input_usd_per_mtok: Mapped[str | None] = mapped_column(String(40))
    output_usd_per_mtok: Mapped[str | None] = mapped_column(String(40))
    cache_read_usd_per_mtok: Mapped[str | None] = mapped_column(String(40))
    cache_write_usd_per_mtok: Mapped[str | None] = mapped_column(String(40))
    discount_pct: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageRepriced(Base):
    """A usage event's cost under another price table, kept beside (not instead of) the ingest cost.

    The foreign key (with its cascade) exists on SQLite only: PostgreSQL cannot reference the partitioned
    usage_events by id alone, so retention deletes these rows itself with their events."""

    __tablename__ = "usage_repriced"

    usage_event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("usage_events.id", ondelete="CASCADE"),
        primary_key=True,
    )
    pricing_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    cost_nanos: Mapped[int | None] = mapped_column(BigInteger)
    price_model: Mapped[str | None] = mapped_column(String(200))
    cost_provenance: Mapped[str] = mapped_column(String(16))
    cost_confidence: Mapped[str] = mapped_column(String(8))
    repriced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """Failed sign-ins, kept so that rate limiting holds across workers and restarts."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_user_ts", "username", "ts"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100))
    remote_addr: Mapped[str | None] = mapped_column(String(64), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Failed sign-ins per username and client address, and when the next try is allowed: a guess is
    counted (atomically) before the password is checked, so parallel guesses cannot outrun the backoff."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    remote_addr: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_allowed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IngestSource(Base):
    """Each source that reports (a v2 batch's ``source.name``, or the token's name for v1), what produced
    its events (``source.provenance``: an SDK and its version) and when it was last heard from: when a
    field goes missing or a cost looks off, which client sent it is the first question."""

    __tablename__ = "ingest_sources"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    provenance: Mapped[str | None] = mapped_column(String(200))
    token_name: Mapped[str | None] = mapped_column(String(100))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceFlag(Base):
    """Small switches every instance reads from the database (maintenance mode, ...)."""

    __tablename__ = "service_flags"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


# -- rollups: kept in the ingest transaction, so analytics never scan raw events ----------------------


def _sum_column() -> Mapped[int]:
    return mapped_column(BigInteger, default=0, server_default="0")


class UsageRollup(Base):
    """Usage events summed per UTC hour x agent x model x provider.

    Hourly, so that a day in any whole-hour time zone is a whole number of buckets (DST included). In a zone
    whose offset is not a whole hour (India +5:30, Nepal +5:45, ...) the part of an hour on the other side
    of a local midnight is read from usage_quarter_rollups, and the ends of a requested range that are not
    on a quarter hour from usage_events (indexed by ts), so each local day is exact in every zone (see
    data/queries/analytics.py).
    ``model`` is '' for an event that named no model (a key column cannot be NULL).
    """

    __tablename__ = "usage_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(unix seconds / 3600), UTC
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = _sum_column()
    input_tokens: Mapped[int] = _sum_column()
    output_tokens: Mapped[int] = _sum_column()
    cache_read_tokens: Mapped[int] = _sum_column()
    cache_write_tokens: Mapped[int] = _sum_column()
    reasoning_tokens: Mapped[int] = _sum_column()
    cost_nanos: Mapped[int] = _sum_column()  # priced events only
    unpriced_events: Mapped[int] = _sum_column()
    reported_cost_nanos: Mapped[int] = _sum_column()


class SliRollup(Base):
    """Events of one SLI in one UTC minute, and how many were bad (helicarrier.slo): what error budgets and
    burn rates are summed from. Written by each process's recorder, one upsert per minute and SLI."""

    __tablename__ = "sli_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(unix seconds / 60), UTC
    sli: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[int] = _sum_column()
    bad: Mapped[int] = _sum_column()


class UsageQuarterRollup(Base):
    """The same sums per UTC quarter hour x agent x model x provider.

    Every time zone's offset today is a whole number of quarter hours, so where a local midnight cuts a UTC
    hour (India, Nepal, Newfoundland, Lord Howe's half-hour DST) the part on the other side is a whole number
    of quarters: analytics move it from these rows instead of scanning usage_events, and it stays exact after
    raw rows are pruned. An hour's quarters sum to its usage_rollups row.
    """

    __tablename__ = "usage_quarter_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    quarter: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(unix seconds / 900), UTC
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = _sum_column()
    input_tokens: Mapped[int] = _sum_column()
    output_tokens: Mapped[int] = _sum_column()
    cache_read_tokens: Mapped[int] = _sum_column()
    cache_write_tokens: Mapped[int] = _sum_column()
    reasoning_tokens: Mapped[int] = _sum_column()
    cost_nanos: Mapped[int] = _sum_column()
    unpriced_events: Mapped[int] = _sum_column()
    reported_cost_nanos: Mapped[int] = _sum_column()


class UsageModelRollup(Base):
    """The same sums per UTC hour x model x provider (no agent): ~50x fewer rows for fleet-wide views."""

    __tablename__ = "usage_model_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = _sum_column()
    input_tokens: Mapped[int] = _sum_column()
    output_tokens: Mapped[int] = _sum_column()
    cache_read_tokens: Mapped[int] = _sum_column()
    cache_write_tokens: Mapped[int] = _sum_column()
    reasoning_tokens: Mapped[int] = _sum_column()
    cost_nanos: Mapped[int] = _sum_column()
    unpriced_events: Mapped[int] = _sum_column()
    reported_cost_nanos: Mapped[int] = _sum_column()


class UsageAgentRollup(Base):
    """The same sums per UTC hour x agent (no model): the per-agent series without the model split."""

    __tablename__ = "usage_agent_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    events: Mapped[int] = _sum_column()
    input_tokens: Mapped[int] = _sum_column()
    output_tokens: Mapped[int] = _sum_column()
    cache_read_tokens: Mapped[int] = _sum_column()
    cache_write_tokens: Mapped[int] = _sum_column()
    reasoning_tokens: Mapped[int] = _sum_column()
    cost_nanos: Mapped[int] = _sum_column()
    unpriced_events: Mapped[int] = _sum_column()
    reported_cost_nanos: Mapped[int] = _sum_column()


class UsageAgentDayRollup(Base):
    """The same sums per UTC day x agent: a per-agent daily series over weeks reads one row per agent and day
    instead of 24 (helicarrier.data.queries.analytics moves the hours a local midnight puts in another day).
    A day's row is the sum of its 24 usage_agent_rollups rows."""

    __tablename__ = "usage_agent_day_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(unix seconds / 86400), UTC
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    events: Mapped[int] = _sum_column()
    input_tokens: Mapped[int] = _sum_column()
    output_tokens: Mapped[int] = _sum_column()
    cache_read_tokens: Mapped[int] = _sum_column()
    cache_write_tokens: Mapped[int] = _sum_column()
    reasoning_tokens: Mapped[int] = _sum_column()
    cost_nanos: Mapped[int] = _sum_column()
    unpriced_events: Mapped[int] = _sum_column()
    reported_cost_nanos: Mapped[int] = _sum_column()


class SessionRollup(Base):
    """Ended sessions per UTC day of their end x model x task kind x status x failure reason.

    A session counts once it has ended; if it changes afterwards (a late session.start fills in its model,
    usage arrives after the end) its old contribution is taken out and the new one put in, in the same
    transaction. ``reason`` is '' for succeeded sessions, else the error up to its first colon (at most 80
    characters), or the status when there is no error. '' stands for a missing model or task kind.
    """

    __tablename__ = "session_rollups"
    # Day last in the key: the matrix groups by the other columns, which then come in key order (SQLite
    # streams the GROUP BY instead of sorting: 63 -> 14 ms over 90 days).
    __table_args__ = (
        PrimaryKeyConstraint("model", "task_kind", "status", "reason", "day"),
        {"sqlite_with_rowid": False},
    )

    day: Mapped[int] = mapped_column(Integer)  # floor(unix seconds / 86400) of ended_at
    model: Mapped[str] = mapped_column(String(200))
    task_kind: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(80))
    sessions: Mapped[int] = _sum_column()
    runtime_ms: Mapped[int] = _sum_column()
    cost_nanos: Mapped[int] = _sum_column()
    unpriced_events: Mapped[int] = _sum_column()


class SessionRuntimeRollup(Base):
    """A runtime histogram of ended sessions per UTC day x model x task kind: medians and p95s over any
    range without reading sessions. Bin edges grow by 2^(1/4) (about 19%); bins are stored 16 to a row
    (``band`` = bin // 16, column ``n<bin % 16>``), so a cell-day takes 2-3 rows instead of ~30.
    See helicarrier.data.rollups."""

    __tablename__ = "session_runtime_rollups"
    __table_args__ = (PrimaryKeyConstraint("model", "task_kind", "band", "day"), {"sqlite_with_rowid": False})

    day: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    task_kind: Mapped[str] = mapped_column(String(200))
    band: Mapped[int] = mapped_column(SmallInteger)
    n00: Mapped[int] = _sum_column()
    n01: Mapped[int] = _sum_column()
    n02: Mapped[int] = _sum_column()
    n03: Mapped[int] = _sum_column()
    n04: Mapped[int] = _sum_column()
    n05: Mapped[int] = _sum_column()
    n06: Mapped[int] = _sum_column()
    n07: Mapped[int] = _sum_column()
    n08: Mapped[int] = _sum_column()
    n09: Mapped[int] = _sum_column()
    n10: Mapped[int] = _sum_column()
    n11: Mapped[int] = _sum_column()
    n12: Mapped[int] = _sum_column()
    n13: Mapped[int] = _sum_column()
    n14: Mapped[int] = _sum_column()
    n15: Mapped[int] = _sum_column()


class SessionLabel(Base):
    """A session's labels, one row each, with its start: label filters as an index range (key, value,
    started_at) instead of parsing every session's JSON. Rewritten whenever a session.start arrives."""

    __tablename__ = "session_labels"
    __table_args__ = (Index("ix_session_labels_kv_started", "key", "value", "started_at", "session_id"),)

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FacetValue(Base):
    """Every session model, provider, task kind and ``key=value`` label seen: the Ledger's filter options
    without a DISTINCT over the sessions table."""

    __tablename__ = "facet_values"

    facet: Mapped[str] = mapped_column(String(16), primary_key=True)  # model | provider | task_kind | label
    value: Mapped[str] = mapped_column(String(330), primary_key=True)  # labels: 64 + 1 + 256


class UsageDrift(Base):
    """Usage fields the normalizer does not know, per provider: when first and last seen, how often, and one
    example value (``helicarrier.ingest.drift``). A new billing field shows here the day it appears."""

    __tablename__ = "usage_drift"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_count: Mapped[int] = mapped_column(BigInteger, default=0)
    example: Mapped[str | None] = mapped_column(Text)


class SentinelFinding(Base):
    """One episode of an agent looking stuck, by one detector (helicarrier.sentinel): open while the detector
    keeps seeing it, with its latest evidence and the highest rung of the escalation ladder taken so far."""

    __tablename__ = "sentinel_findings"
    __table_args__ = (
        Index("ix_sentinel_findings_agent_detector", "agent_id", "detector", "state"),
        Index("ix_sentinel_findings_state_seen", "state", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(128), index=True)
    detector: Mapped[str] = mapped_column(String(32))  # repeat | no_output | long_run | silent
    state: Mapped[str] = mapped_column(String(16))  # open | resolved
    step: Mapped[str] = mapped_column(String(16))  # the ladder's rung reached: observe, alert, steer, kill
    policy: Mapped[str] = mapped_column(String(16))  # the highest rung allowed for the agent's labels
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(JSONType)  # lines, counts, window, thresholds
    actions: Mapped[list | None] = mapped_column(JSONType)  # [{step, at, command_id | error}]
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stepped_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the current rung was reached
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last steer/kill: the cool-down's
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SentinelExemption(Base):
    """An agent an operator exempted from the sentinel's actions (findings are still recorded)."""

    __tablename__ = "sentinel_exemptions"

    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
