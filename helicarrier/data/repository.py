"""The repository: the one place that talks SQL. One method per question the UI, API or CLI asks.

Built from one mixin per concern (tokens, users, fleet, ...) so each file stays small; callers only see
``Repository``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from helicarrier.data.engine import is_transient, make_engine
from helicarrier.data.queries.agents import AgentQueries, AgentTx
from helicarrier.data.queries.alert_delivery import AlertDeliveryQueries
from helicarrier.data.queries.alert_metrics import AlertMetricQueries
from helicarrier.data.queries.alerts import AlertQueries, AlertTx
from helicarrier.data.queries.analytics import AnalyticsQueries
from helicarrier.data.queries.audit import AuditQueries
from helicarrier.data.queries.budgets import BudgetQueries, BudgetTx
from helicarrier.data.queries.commands import CommandQueries, CommandTx
from helicarrier.data.queries.drift import DriftQueries
from helicarrier.data.queries.flags import FlagQueries
from helicarrier.data.queries.fleet import FleetQueries
from helicarrier.data.queries.gauges import GaugeQueries
from helicarrier.data.queries.ingest import IngestTx, ReceiptPruning, SourceQueries
from helicarrier.data.queries.ingest_stats import IngestStatsQueries
from helicarrier.data.queries.partitions import PartitionQueries
from helicarrier.data.queries.pricing import PricingQueries
from helicarrier.data.queries.retention import RetentionQueries
from helicarrier.data.queries.sentinel import SentinelQueries, SentinelTx
from helicarrier.data.queries.sessions import SessionQueries
from helicarrier.data.queries.sli import SliQueries, SliTx
from helicarrier.data.queries.tokens import TokenQueries
from helicarrier.data.queries.users import UserQueries
from helicarrier.data.timing import time_methods

T = TypeVar("T")
_TRANSIENT_RETRIES = 3


class Tx(CommandTx, IngestTx, AlertTx, AgentTx, SliTx, SentinelTx, BudgetTx):
    """One write transaction's questions and writes (see ``helicarrier.data.unit``)."""


def _open_gate() -> None:
    return None


class Repository(
    TokenQueries,
    UserQueries,
    FleetQueries,
    FlagQueries,
    AgentQueries,
    ReceiptPruning,
    SourceQueries,
    DriftQueries,
    PricingQueries,
    AuditQueries,
    CommandQueries,
    AlertQueries,
    AlertMetricQueries,
    AlertDeliveryQueries,
    IngestStatsQueries,
    SessionQueries,
    AnalyticsQueries,
    RetentionQueries,
    PartitionQueries,
    GaugeQueries,
    SliQueries,
    SentinelQueries,
    BudgetQueries,
):
    def __init__(self, engine: Engine):
        self.engine = engine
        # Called before every unit of work a service opens, and by services before their other writes: the
        # app installs maintenance's refusal here, so that an operator's action from the HUD is refused
        # during a cutover as the API's are (the CLI's repository has none: its operator is the cutover).
        self.write_gate: Callable[[], None] = _open_gate

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A unit of work: everything done through the Tx commits together, or nothing does."""
        self.write_gate()
        with self._write() as conn:
            yield Tx(conn)

    def run_transaction(self, work: Callable[[Tx], T]) -> T:
        """``work(tx)`` in a transaction, run again when the database rolled it back for a deadlock or a
        serialization failure (nothing of it was kept, so running it again is safe)."""
        for attempt in range(_TRANSIENT_RETRIES):
            try:
                with self.transaction() as tx:
                    return work(tx)
            except OperationalError as exc:
                if attempt == _TRANSIENT_RETRIES - 1 or not is_transient(exc):
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def from_url(cls, url: str) -> Repository:
        return cls(make_engine(url))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def schema_revision(self) -> str | None:
        """The migration the database is at (one indexed read: cheap enough for every readiness probe)."""
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()


# Each query method observed in helicarrier_db_query_duration_seconds (helicarrier.data.timing).
time_methods(Tx, "tx")
time_methods(Repository, "repo")
