"""Alert receivers of more kinds than the generic webhook (issue 15, "Alert governance").

``kind`` says how a receiver is notified: ``webhook`` (the JSON document, as before), ``slack`` (a
Slack-compatible incoming webhook) or ``email`` (``url`` is ``mailto:a@x.org,b@y.org``; SMTP settings come
from the configuration). Every existing receiver is a webhook, so the default fills them.

``max_per_hour`` caps a receiver's notifications in any hour (past it the due groups collapse into one
summary); 0 is no cap. Existing receivers get the default, 60. ``mute_windows`` lists the times of the week
(days, HH:MM-HH:MM, IANA zone) the receiver is sent nothing; none for existing receivers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_receivers") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), server_default="webhook", nullable=False))
        batch.add_column(sa.Column("max_per_hour", sa.Integer(), server_default="60", nullable=False))
        batch.add_column(
            sa.Column("mute_windows", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_receivers") as batch:
        batch.drop_column("mute_windows")
        batch.drop_column("max_per_hour")
        batch.drop_column("kind")
