"""Agents bound to the token that speaks for them; a sign-in throttle per user and address; session
generations; service flags; the sources that report and what produced their events.

Existing agents are bound to the token that last reported for them, as far as the stored events tell: an
event's ``source`` is the token's name when the agent did not name another (v1 events, the default). An
agent no token can be found for stays unclaimed: the next token that reports for it claims it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LAST_REPORTER = """
UPDATE agents SET owner_token_id = (
    SELECT t.id FROM api_tokens t JOIN (
        SELECT source, ts FROM usage_events u WHERE u.agent_id = agents.id
        UNION ALL
        SELECT source, ts FROM log_events l WHERE l.agent_id = agents.id
    ) seen ON seen.source = t.name
    ORDER BY seen.ts DESC LIMIT 1
)
"""


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agents", sa.Text(), nullable=True))
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_token_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("owner_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_agents_owner_token_id"), ["owner_token_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_agents_owner_token_id_api_tokens"), "api_tokens", ["owner_token_id"], ["id"]
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_allowed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "remote_addr", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_throttle_updated_at"), ["updated_at"], unique=False)
    op.create_table(
        "ingest_sources",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("provenance", sa.String(length=200), nullable=True),
        sa.Column("token_name", sa.String(length=100), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ingest_sources")),
    )
    op.create_table(
        "service_flags",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_flags")),
    )
    op.execute(_LAST_REPORTER)
    op.execute("UPDATE agents SET owner_since = updated_at WHERE owner_token_id IS NOT NULL")


def downgrade() -> None:
    op.drop_table("service_flags")
    op.drop_table("ingest_sources")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_updated_at"))
    op.drop_table("login_throttle")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_agents_owner_token_id_api_tokens"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_agents_owner_token_id"))
        batch_op.drop_column("owner_since")
        batch_op.drop_column("owner_token_id")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("agents")
