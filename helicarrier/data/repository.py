"""The repository: the one place that talks SQL. One method per question the UI, API or CLI asks.

Built from one mixin per concern (tokens, users, fleet, ...) so each file stays small; callers only see
``Repository``.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from helicarrier.data.engine import make_engine
from helicarrier.data.queries.alert_delivery import AlertDeliveryQueries
from helicarrier.data.queries.alert_metrics import AlertMetricQueries
from helicarrier.data.queries.alerts import AlertQueries
from helicarrier.data.queries.analytics import AnalyticsQueries
from helicarrier.data.queries.audit import AuditQueries
from helicarrier.data.queries.commands import CommandQueries
from helicarrier.data.queries.fleet import FleetQueries
from helicarrier.data.queries.ingest import IngestQueries, ReceiptPruning
from helicarrier.data.queries.ingest_stats import IngestStatsQueries
from helicarrier.data.queries.pricing import PricingQueries
from helicarrier.data.queries.sessions import SessionQueries
from helicarrier.data.queries.tokens import TokenQueries
from helicarrier.data.queries.users import UserQueries


class Repository(
    TokenQueries,
    UserQueries,
    FleetQueries,
    IngestQueries,
    ReceiptPruning,
    PricingQueries,
    AuditQueries,
    CommandQueries,
    AlertQueries,
    AlertMetricQueries,
    AlertDeliveryQueries,
    IngestStatsQueries,
    SessionQueries,
    AnalyticsQueries,
):
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Repository:
        return cls(make_engine(url))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()
