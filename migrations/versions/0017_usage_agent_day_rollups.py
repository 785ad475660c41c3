"""Usage summed per UTC day x agent, so that a per-agent daily series reads a row per day (issue 17).

The 90-day series grouped by agent grouped 108k hourly usage_agent_rollups rows into (local day, agent) on
every call, most of its CPU on SQLite. A UTC day's row now stands for its hours, and only the hours that a
local midnight puts in the next or previous local day are read hourly. Backfilled from
usage_agent_rollups, which the new rows must always sum to.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
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
        "usage_agent_day_rollups",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in SUMS),
        sa.PrimaryKeyConstraint("day", "agent_id", name=op.f("pk_usage_agent_day_rollups")),
        sqlite_with_rowid=False,
    )
    op.get_bind().execute(
        sa.text(
            f"INSERT INTO usage_agent_day_rollups (day, agent_id, {', '.join(SUMS)}) "
            f"SELECT hour / 24, agent_id, {', '.join(f'sum({c})' for c in SUMS)} "
            "FROM usage_agent_rollups GROUP BY hour / 24, agent_id"
        )
    )


def downgrade() -> None:
    op.drop_table("usage_agent_day_rollups")
