"""SQLAlchemy 2 typed models: the schema Alembic migrates.

Money is integer nano-dollars (1e-9 USD) in BIGINT columns named ``*_nanos``: exact, summable in SQL, and
fine-grained enough that a million cheap calls do not round away. Timestamps are ``UTCDateTime``.

Event tables (usage_events, log_events) carry no foreign keys: events of one batch may arrive before the
``session.start`` that names their session, and the ingest path creates the agent and session rows it needs.
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
    # What the agent last reported (running, idle, stalled); offline is derived from last_heartbeat_at.
    status: Mapped[str] = mapped_column(String(20), default="idle")
    # What an operator or a guard imposed (killing, killed, budget_locked); outranks the reported status.
    control_state: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    current_task: Mapped[str | None] = mapped_column(Text)
    current_session_id: Mapped[str | None] = mapped_column(String(128))
    labels: Mapped[dict | None] = mapped_column(JSONType)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_agent_started", "agent_id", "started_at"),
        Index("ix_sessions_model_started", "model", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), ForeignKey("agents.id"))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    task: Mapped[str | None] = mapped_column(Text)
    task_kind: Mapped[str | None] = mapped_column(String(100))
    labels: Mapped[dict | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Running totals kept at ingest time so the ledger never sums raw events.
    usage_events: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
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
    """Every v2 event id seen, per source: a repeated id is a duplicate and is stored once."""

    __tablename__ = "ingest_event_ids"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)


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


class Alert(Base):
    __tablename__ = "alerts"

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
    """A usage event's cost under another price table, kept beside (not instead of) the ingest cost."""

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
