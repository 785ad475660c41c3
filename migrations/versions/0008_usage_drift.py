"""Usage fields the normalizer does not know, per provider (provider drift, issue 13).

Revision ID: 0008
Revises: 0006 (another branch may add 0007; the chain is set at merge)
Create Date: 2026-12-04 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_drift",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_count", sa.BigInteger(), nullable=False),
        sa.Column("example", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("provider", "field", name=op.f("pk_usage_drift")),
    )


def downgrade() -> None:
    op.drop_table("usage_drift")
