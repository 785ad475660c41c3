"""The stuck-loop sentinel (issue 16): its findings, the agents exempted from it, and an agent's stated wait.

``agents.waiting_until`` / ``waiting_for``: a heartbeat saying ``waiting`` with an expected duration; the
sentinel leaves such an agent alone until then. ``sentinel_findings``: one row per episode of an agent
looking stuck, by detector, with its evidence and the escalation ladder's rung reached.
``sentinel_exemptions``: agents an operator exempted from the sentinel's actions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# The models' types, spelled out: a migration must not change when the models' module does.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("waiting_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("waiting_for", sa.String(200), nullable=True))
    op.create_table(
        "sentinel_findings",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", JSONType, nullable=False),
        sa.Column("actions", JSONType, nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stepped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentinel_findings")),
    )
    op.create_index(
        "ix_sentinel_findings_agent_detector", "sentinel_findings", ["agent_id", "detector", "state"]
    )
    op.create_index("ix_sentinel_findings_state_seen", "sentinel_findings", ["state", "last_seen_at"])
    op.create_index(op.f("ix_sentinel_findings_session_id"), "sentinel_findings", ["session_id"])
    op.create_table(
        "sentinel_exemptions",
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_sentinel_exemptions")),
    )


def downgrade() -> None:
    op.drop_table("sentinel_exemptions")
    op.drop_index(op.f("ix_sentinel_findings_session_id"), table_name="sentinel_findings")
    op.drop_index("ix_sentinel_findings_state_seen", table_name="sentinel_findings")
    op.drop_index("ix_sentinel_findings_agent_detector", table_name="sentinel_findings")
    op.drop_table("sentinel_findings")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("waiting_for")
        batch.drop_column("waiting_until")
