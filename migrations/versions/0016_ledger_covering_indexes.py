"""The Ledger's agent and model indexes carry every column a page sorts or filters by (issue 17).

"A few agents' (or models') sessions sorted by cost, tokens, runtime, model, agent or status" is answered
from the filter's index alone: its entries now hold the status, the other of agent / model and the three
numeric sort columns as trailing key columns, on both backends. On SQLite, which has no INCLUDE, the
deferred join of sessions._fetch read the table row of each of the filter's sessions (40k for two agents:
180 ms for one page at 1M sessions); from the index it is 5 ms. PostgreSQL had the numeric columns as
INCLUDE columns (migration 0004); they become key columns like on SQLite, one definition for both.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORTS = ["cost_nanos", "total_tokens", "runtime_ms"]
NEW = {
    "ix_sessions_agent_started": ["agent_id", "started_at", "id", "status", "model", *SORTS],
    "ix_sessions_model_started": ["model", "started_at", "id", "status", "agent_id", *SORTS],
}
OLD = {
    "ix_sessions_agent_started": ["agent_id", "started_at", "id"],
    "ix_sessions_model_started": ["model", "started_at", "id"],
}


def upgrade() -> None:
    for name, cols in NEW.items():
        op.drop_index(name, table_name="sessions")
        op.create_index(name, "sessions", cols, unique=False)


def downgrade() -> None:
    for name, cols in OLD.items():
        op.drop_index(name, table_name="sessions")
        op.create_index(name, "sessions", cols, unique=False, postgresql_include=SORTS)
