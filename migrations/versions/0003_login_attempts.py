"""Failed sign-in attempts, for rate limiting across workers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 02:05:44.529109
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_remote_addr"), ["remote_addr"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempts_ts"), ["ts"], unique=False)
        batch_op.create_index("ix_login_attempts_user_ts", ["username", "ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_user_ts")
        batch_op.drop_index(batch_op.f("ix_login_attempts_ts"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_remote_addr"))

    op.drop_table("login_attempts")
