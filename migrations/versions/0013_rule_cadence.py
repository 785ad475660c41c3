"""Per-rule evaluation cadence and the rule's run of failed evaluations (issue 15, "evaluation cadence").

``interval_s``: how often the rule is evaluated (existing rules keep today's 15 s); the scheduler's job ticks
at the global minimum and evaluates only the rules that are due. ``error_streak``: consecutive failed
evaluations; at three the rule's health is ``error`` (one failure is a blip, not a broken rule).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_rules") as batch:
        batch.add_column(sa.Column("interval_s", sa.Integer(), server_default="15", nullable=False))
        batch.add_column(sa.Column("error_streak", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("alert_rules") as batch:
        batch.drop_column("error_streak")
        batch.drop_column("interval_s")
