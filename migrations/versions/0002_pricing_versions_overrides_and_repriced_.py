"""Pricing versions, their overrides, and usage costs recomputed under another version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 02:04:41.244681
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pricing_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pricing_versions")),
    )
    op.create_table(
        "price_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("input_usd_per_mtok", sa.String(length=40), nullable=True),
        sa.Column("output_usd_per_mtok", sa.String(length=40), nullable=True),
        sa.Column("cache_read_usd_per_mtok", sa.String(length=40), nullable=True),
        sa.Column("cache_write_usd_per_mtok", sa.String(length=40), nullable=True),
        sa.Column("discount_pct", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version"],
            ["pricing_versions.name"],
            name=op.f("fk_price_overrides_version_pricing_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_overrides")),
        sa.UniqueConstraint("version", "provider", "model", name=op.f("uq_price_overrides_version")),
    )
    op.create_table(
        "usage_repriced",
        sa.Column("usage_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pricing_version", sa.String(length=64), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=True),
        sa.Column("price_model", sa.String(length=200), nullable=True),
        sa.Column("cost_provenance", sa.String(length=16), nullable=False),
        sa.Column("cost_confidence", sa.String(length=8), nullable=False),
        sa.Column("repriced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["usage_event_id"],
            ["usage_events.id"],
            name=op.f("fk_usage_repriced_usage_event_id_usage_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("usage_event_id", "pricing_version", name=op.f("pk_usage_repriced")),
    )


def downgrade() -> None:
    op.drop_table("usage_repriced")
    op.drop_table("price_overrides")
    op.drop_table("pricing_versions")
