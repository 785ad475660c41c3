"""Usage summed per UTC quarter hour, so that local days are exact and fast in every zone (issue 12).

Backfilled from usage_events. Hours whose raw rows were pruned before this migration get no quarter rows: a
local day cut inside such an hour counts it whole on one side, as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sums as they were when this migration was written (the app's list may grow later).
SUMS = (
    "events",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "unpriced_events",
    "reported_cost_nanos",
)


def upgrade() -> None:
    op.create_table(
        "usage_quarter_rollups",
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in SUMS),
        sa.PrimaryKeyConstraint(
            "quarter", "agent_id", "model", "provider", name=op.f("pk_usage_quarter_rollups")
        ),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    quarter = (
        "CAST(strftime('%s', ts) AS INTEGER) / 900"
        if bind.dialect.name == "sqlite"
        else "CAST(floor(extract(epoch FROM ts) / 900) AS INTEGER)"
    )
    bind.execute(
        sa.text(
            f"INSERT INTO usage_quarter_rollups (quarter, agent_id, model, provider, {', '.join(SUMS)}) "
            f"SELECT {quarter}, agent_id, coalesce(model, ''), provider, count(*), sum(input_tokens), "
            "sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
            "sum(coalesce(reasoning_tokens, 0)), sum(coalesce(cost_nanos, 0)), "
            "sum(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END), sum(coalesce(reported_cost_nanos, 0)) "
            f"FROM usage_events GROUP BY {quarter}, agent_id, coalesce(model, ''), provider"
        )
    )


def downgrade() -> None:
    op.drop_table("usage_quarter_rollups")
