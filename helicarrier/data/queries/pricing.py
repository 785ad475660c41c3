"""Pricing versions, their overrides, and repricing usage under another version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from helicarrier.data.models import PriceOverride, PricingVersion, UsageEvent, UsageRepriced
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow

OVERRIDE_PRICE_FIELDS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok",
    "discount_pct",
)


class PricingVersionExists(ValueError):
    pass


@dataclass(frozen=True)
class StoredVersion:
    name: str
    description: str | None
    created_at: datetime
    overrides: tuple[dict, ...]


class PricingQueries(QueryBase):
    def create_pricing_version(self, name: str, description: str | None, created_by: str | None) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    insert(PricingVersion).values(
                        name=name, description=description, created_by=created_by, created_at=utcnow()
                    )
                )
        except IntegrityError as exc:
            raise PricingVersionExists(f"pricing version {name!r} already exists") from exc

    def set_price_override(
        self, version: str, provider: str, model: str, prices: dict[str, str | None]
    ) -> None:
        """Insert or replace the override for (version, provider, model). Prices are decimal strings."""
        values = {k: prices.get(k) for k in OVERRIDE_PRICE_FIELDS}
        with self._write() as conn:
            if (
                conn.execute(select(PricingVersion.name).where(PricingVersion.name == version)).first()
                is None
            ):
                raise LookupError(f"no pricing version {version!r}")
            ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(PriceOverride)
            conn.execute(
                ins.values(
                    version=version, provider=provider, model=model, created_at=utcnow(), **values
                ).on_conflict_do_update(index_elements=["version", "provider", "model"], set_=values)
            )

    def pricing_versions(self) -> list[StoredVersion]:
        with self._read() as conn:
            versions = conn.execute(select(PricingVersion).order_by(PricingVersion.name)).all()
            overrides = conn.execute(select(PriceOverride).order_by(PriceOverride.id)).all()
        by_version: dict[str, list[dict]] = {}
        for o in overrides:
            by_version.setdefault(o.version, []).append(
                {
                    "provider": o.provider,
                    "model": o.model,
                    **{k: getattr(o, k) for k in OVERRIDE_PRICE_FIELDS},
                }
            )
        return [
            StoredVersion(v.name, v.description, v.created_at, tuple(by_version.get(v.name, ())))
            for v in versions
        ]

    def usage_for_repricing(self, since: datetime | None, chunk: int = 5000) -> Iterator[list]:
        """Usage events in id order, in chunks (keyset pagination: constant memory at ten million rows)."""
        last = 0
        cols = (
            UsageEvent.id,
            UsageEvent.ts,
            UsageEvent.provider,
            UsageEvent.model,
            UsageEvent.input_tokens,
            UsageEvent.output_tokens,
            UsageEvent.cache_read_tokens,
            UsageEvent.cache_write_tokens,
            UsageEvent.reasoning_tokens,
            UsageEvent.total_tokens,
            UsageEvent.cost_nanos,
            UsageEvent.raw,
            UsageEvent.pricing_version,
        )
        while True:
            stmt = select(*cols).where(UsageEvent.id > last).order_by(UsageEvent.id).limit(chunk)
            if since is not None:
                stmt = stmt.where(UsageEvent.ts >= since)
            with self._read() as conn:
                rows = conn.execute(stmt).all()
            if not rows:
                return
            yield rows
            last = rows[-1].id

    def store_repriced(self, version: str, rows: list[dict]) -> None:
        """Replace the costs recomputed under ``version`` for these events: a rerun overwrites, never adds."""
        if not rows:
            return
        with self._write() as conn:
            conn.execute(
                delete(UsageRepriced).where(
                    UsageRepriced.pricing_version == version,
                    UsageRepriced.usage_event_id.in_([r["usage_event_id"] for r in rows]),
                )
            )
            conn.execute(insert(UsageRepriced), [{**r, "pricing_version": version} for r in rows])

    def count_repriced(self, version: str) -> int:
        with self._read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(UsageRepriced)
                .where(UsageRepriced.pricing_version == version)
            ).scalar_one()
