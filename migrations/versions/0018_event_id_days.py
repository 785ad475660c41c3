"""The day each ingest event id was first seen, so that retention can forget old ones.

``ingest_event_ids`` grew by one row per event for ever (a row per heartbeat too): at 10M events it was
the largest table after the events themselves, and every claim walked a deeper index. ``seen_day`` (days
since 1970-01-01 UTC) is indexed, and retention deletes the ids seen before its cutoff
(``HELICARRIER_RETAIN_EVENT_IDS_DAYS``).

The ids already stored count as seen on the day of this migration: a client retrying across the upgrade
is still told its resend is a duplicate. The column is added with that day as a constant default, which
both backends apply to existing rows without rewriting the table; PostgreSQL then drops the default (the
existing rows keep their value). SQLite cannot drop a column's default without rebuilding the table, so
there it stays: the app always writes the column.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 20:10:00
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    today = int(time.time()) // 86400
    with op.batch_alter_table("ingest_event_ids") as batch:
        batch.add_column(sa.Column("seen_day", sa.Integer(), server_default=str(today), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("ingest_event_ids", "seen_day", server_default=None)
    op.create_index(op.f("ix_ingest_event_ids_seen_day"), "ingest_event_ids", ["seen_day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_event_ids_seen_day"), table_name="ingest_event_ids")
    with op.batch_alter_table("ingest_event_ids") as batch:
        batch.drop_column("seen_day")
