"""Operator price tables from the database, and the reprice job that compares two tables."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from helicarrier.data.repository import Repository
from helicarrier.ingest.normalize import NormalizedUsage, UsageError, normalize_usage
from helicarrier.pricing.book import PriceBook
from helicarrier.pricing.records import DEFAULT_PRICING_VERSION, ModelPriceOverride
from helicarrier.pricing.registry import PriceBooks

log = logging.getLogger("helicarrier.pricing")


def version_name(suffix: str) -> str:
    """Operator versions are named after the data they build on: ``genai-prices-0.2.3+acme-2026``."""
    if not suffix or any(c.isspace() for c in suffix) or "+" in suffix:
        raise ValueError("the version suffix must be non-empty, without spaces or '+'")
    return f"{DEFAULT_PRICING_VERSION}+{suffix}"


def _override(o: dict) -> ModelPriceOverride:
    def dec(key: str) -> Decimal | None:
        return None if o.get(key) is None else Decimal(o[key])

    return ModelPriceOverride(
        provider=o["provider"],
        model=o["model"],
        input_usd_per_mtok=dec("input_usd_per_mtok"),
        output_usd_per_mtok=dec("output_usd_per_mtok"),
        cache_read_usd_per_mtok=dec("cache_read_usd_per_mtok"),
        cache_write_usd_per_mtok=dec("cache_write_usd_per_mtok"),
        discount_pct=dec("discount_pct"),
    )


def load_price_books(repo: Repository, active: str | None) -> PriceBooks:
    """Every usable price table. A stored version built on other genai-prices data than the installed one
    cannot price anything truthfully: it is skipped with a warning (it stays in the database)."""
    books = []
    for v in repo.pricing_versions():
        if not v.name.startswith(DEFAULT_PRICING_VERSION + "+"):
            log.warning("pricing version %s is built on other genai-prices data; skipped", v.name)
            continue
        books.append(PriceBook(v.name, [_override(o) for o in v.overrides]))
    return PriceBooks(books, active=active)


def usage_from_row(row) -> NormalizedUsage:
    """Re-normalize from the raw payload (a rule fix applies to history), else rebuild from the columns."""
    if row.raw:
        try:
            return normalize_usage(row.raw)
        except (UsageError, TypeError, KeyError):
            pass
    return NormalizedUsage(
        provider=row.provider,
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        cache_write_5m_tokens=None,
        cache_write_1h_tokens=None,
        reasoning_tokens=row.reasoning_tokens,
        total_tokens=row.total_tokens,
        reported_total_tokens=None,
        web_search_requests=0,
        reported_cost_usd=None,
        price_context={},
        warnings=(),
    )


@dataclass
class RepriceReport:
    version: str
    events: int = 0
    # (day, model) -> [old nanos, new nanos, old unpriced, new unpriced]
    cells: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))

    def lines(self) -> list[str]:
        from helicarrier.money import format_usd

        out = [f"{'day':10}  {'model':32} {'recorded':>14} {self.version:>24} {'change':>10}"]
        total_old = total_new = 0
        for (day, model), (old, new, old_u, new_u) in sorted(self.cells.items()):
            total_old += old
            total_new += new
            change = "n/a" if old == 0 else f"{(new - old) / old:+.1%}"
            unpriced = f"  unpriced {old_u}->{new_u}" if old_u or new_u else ""
            out.append(
                f"{day:10}  {model[:32]:32} {format_usd(old):>14} {format_usd(new):>24} {change:>10}"
                + unpriced
            )
        out.append(f"{'total':10}  {'':32} {format_usd(total_old):>14} {format_usd(total_new):>24}")
        out.append(f"{self.events} usage events repriced under {self.version}; recorded costs unchanged")
        return out


def reprice(repo: Repository, book: PriceBook, since: datetime | None = None) -> RepriceReport:
    report = RepriceReport(book.version)
    for rows in repo.usage_for_repricing(since):
        out = []
        for row in rows:
            cost = book.price(usage_from_row(row), row.ts)
            out.append(
                {
                    "usage_event_id": row.id,
                    "cost_nanos": cost.total_nanos,
                    "price_model": cost.matched_model,
                    "cost_provenance": cost.provenance,
                    "cost_confidence": cost.confidence,
                    "repriced_at": _now(),
                }
            )
            cell = report.cells[(row.ts.date().isoformat(), row.model or "?")]
            cell[0] += row.cost_nanos or 0
            cell[1] += cost.total_nanos or 0
            cell[2] += row.cost_nanos is None
            cell[3] += cost.total_nanos is None
        repo.store_repriced(book.version, out)
        report.events += len(rows)
    return report


def _now():
    from helicarrier.data.types import utcnow

    return utcnow()
