"""SLI events counted per UTC minute (issue 15, "SLOs and error budgets").

One row per minute and SLI: how many events (ingest requests, alert cycles, command deliveries) and how
many of them were bad. The SLO pages and API sum them over 5 minutes to 30 days; being in the database,
they survive restarts and add up every worker and instance. Nothing to backfill: history starts here.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sli_rollups",
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("sli", sa.String(length=64), nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bad", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("minute", "sli", name=op.f("pk_sli_rollups")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("sli_rollups")
