"""Alerts: lifecycle columns on rules and alerts, alert history, evaluation cycles, webhook receivers,
the deliveries log, and per-minute ingest stats.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 02:42:08.874222
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_eval_cycles",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("rules_evaluated", sa.Integer(), nullable=False),
        sa.Column("rules_failed", sa.Integer(), nullable=False),
        sa.Column("alerts_changed", sa.Integer(), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_eval_cycles")),
    )
    with op.batch_alter_table("alert_eval_cycles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_eval_cycles_started_at"), ["started_at"], unique=False)

    op.create_table(
        "alert_receivers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "matchers",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "group_by",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("group_wait_s", sa.Integer(), nullable=False),
        sa.Column("group_interval_s", sa.Integer(), nullable=False),
        sa.Column("repeat_interval_s", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_receivers")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_receivers_name")),
    )
    op.create_table(
        "ingest_stats",
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "shard", name=op.f("pk_ingest_stats")),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column(
            "group_labels",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "alerts",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["alert_receivers.id"],
            name=op.f("fk_alert_deliveries_receiver_id_alert_receivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_deliveries_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_alert_deliveries_receiver_group", ["receiver_id", "group_key", "id"], unique=False
        )
        batch_op.create_index("ix_alert_deliveries_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "alert_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_events_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_alert_ts", ["alert_id", "ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_events_ts"), ["ts"], unique=False)

    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reopen_s", sa.Integer(), server_default="300", nullable=False))
        batch_op.add_column(
            sa.Column(
                "inhibits",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("health", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("last_eval_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_eval_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "context",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("episode", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_transition_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch_op.create_index("ix_alerts_rule_state", ["rule_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_rule_state")
        batch_op.drop_column("message")
        batch_op.drop_column("last_transition_at")
        batch_op.drop_column("episode")
        batch_op.drop_column("context")

    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("last_eval_ms")
        batch_op.drop_column("last_eval_at")
        batch_op.drop_column("health")
        batch_op.drop_column("created_by")
        batch_op.drop_column("inhibits")
        batch_op.drop_column("reopen_s")
        batch_op.drop_column("description")

    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_events_ts"))
        batch_op.drop_index("ix_alert_events_alert_ts")

    op.drop_table("alert_events")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_deliveries_status_next")
        batch_op.drop_index("ix_alert_deliveries_receiver_group")
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_created_at"))

    op.drop_table("alert_deliveries")
    op.drop_table("ingest_stats")
    op.drop_table("alert_receivers")
    with op.batch_alter_table("alert_eval_cycles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_eval_cycles_started_at"))

    op.drop_table("alert_eval_cycles")
