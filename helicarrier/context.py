"""What a running app holds: its settings, repository and services. Callbacks and views receive it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from helicarrier.alerts.receivers import SmtpSettings
from helicarrier.alerts.service import AlertService
from helicarrier.autoscale.actuators import CommandActuator
from helicarrier.autoscale.policy import Bounds
from helicarrier.autoscale.service import AutoscaleService
from helicarrier.budgets.service import BudgetService
from helicarrier.config import ConfigError, Settings, load_settings
from helicarrier.control.service import ControlLimits, ControlService
from helicarrier.data.engine import make_engine
from helicarrier.data.repository import Repository
from helicarrier.data.schema import SchemaStatus, ensure_schema
from helicarrier.fleet.service import FleetService
from helicarrier.hooks.service import ClaudeCodeHooks
from helicarrier.ingest.service import IngestService
from helicarrier.observability import logs, tracing
from helicarrier.operations.maintenance import Maintenance
from helicarrier.otlp.service import OtlpReceiver
from helicarrier.pricing.registry import PriceBooks
from helicarrier.pricing.versions import load_price_books
from helicarrier.retention.partitions import upkeep_at_start
from helicarrier.sentinel import thresholds as sentinel_thresholds
from helicarrier.sentinel.service import SentinelService
from helicarrier.slo import definitions as slo_definitions
from helicarrier.slo.service import SloService

log = logging.getLogger("helicarrier")


@dataclass
class AppContext:
    settings: Settings
    repo: Repository  # the primary: control, ingest, Pulse, Hero Grid, alerts, everything that writes
    # The analytics pages' and read APIs' queries (a streaming replica when HELICARRIER_READ_DATABASE_URL is
    # set; else the primary, the same object as ``repo``). A replica lags by its replication delay, which is
    # fine for history, not for a kill's state.
    read_repo: Repository
    schema: SchemaStatus
    price_books: PriceBooks
    ingest: IngestService
    control: ControlService
    alerts: AlertService
    fleet: FleetService
    otlp: OtlpReceiver
    claude_code_hooks: ClaudeCodeHooks
    maintenance: Maintenance
    slo: SloService  # SLI events recorded (batched per process) and the SLOs reported
    budgets: BudgetService
    sentinel: SentinelService  # the stuck-loop sentinel (issue 16)
    autoscale: AutoscaleService  # the desired worker count (issue 16)


def build_context(settings: Settings | None = None) -> AppContext:
    """Connect, verify (and if allowed, migrate) the schema. Raise SchemaError, never serve unverified."""
    settings = settings or load_settings()
    logs.setup(settings.log_level, settings.log_format)
    try:
        tracing.setup()  # from the OTEL_* variables, once per process (each gunicorn worker: after its fork)
    except tracing.TracingConfigError as exc:
        raise ConfigError(str(exc)) from None
    # Alembic's per-start chatter ("Context impl ...") buries the one line that matters; we log our own.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler says "Running job ..." and "executed successfully" at INFO for every run of every job
    # (7,211 of 7,283 terminal lines in an hour of `make run`), and warns of each run a busy machine
    # skipped or started late. A failed job is still logged, at ERROR; late and skipped runs show in the
    # scheduler's metrics and in /readyz's lease, not as a line per run.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    engine = make_engine(settings.database_url, pool=settings.pool)
    try:
        status = ensure_schema(engine, auto_migrate=settings.auto_migrate)
    except BaseException:
        engine.dispose()
        raise
    if status.upgraded:
        log.info("database migrated from %s to %s", status.upgraded_from or "empty", status.head)
    repo = Repository(engine)
    # After the schema, before anything ingests: this month and the next ones have their partitions.
    upkeep_at_start(repo, datetime.now(UTC), settings.partition_months_ahead)
    maintenance = Maintenance(repo)
    repo.write_gate = maintenance.refuse_writes
    read_repo = _read_repository(settings, repo)
    price_books = load_price_books(repo, settings.pricing_version)
    fleet = FleetService(repo)
    control = ControlService(
        repo,
        price_books,
        ControlLimits(
            ttl_s=settings.command_ttl_s,
            redeliver_s=settings.command_redeliver_s,
            max_task_bytes=settings.max_task_bytes,
            offline_after_s=settings.offline_after_s,
            kill_settle_s=settings.kill_settle_s,
            delivery_slo_s=settings.slo_command_delivery_s,
        ),
        fleet,
    )
    ingest = IngestService(repo, price_books, control, fleet, max_batch_events=settings.max_batch_events)
    slo_service = SloService(repo, slo_definitions.from_settings(settings))
    budgets = BudgetService(repo, control, settings.budget_tz)
    control.budget_locks = budgets.locks_for  # an injection into a locked scope is refused
    return AppContext(
        settings=settings,
        repo=repo,
        read_repo=read_repo,
        schema=status,
        price_books=price_books,
        ingest=ingest,
        control=control,
        alerts=AlertService(
            repo,
            allow_local_webhooks=settings.allow_local_webhooks,
            slo_targets=slo_service.targets,
            smtp=SmtpSettings.from_settings(settings),
            base_url=settings.base_url,
            min_interval_s=settings.alert_min_interval_s,
        ),
        fleet=fleet,
        otlp=OtlpReceiver(ingest, settings.otlp_session_attributes),
        claude_code_hooks=ClaudeCodeHooks(repo, ingest, control, fleet),
        maintenance=maintenance,
        slo=slo_service,
        sentinel=SentinelService(
            repo,
            control,
            sentinel_thresholds.from_settings(settings),
            settings.sentinel_labels,
            settings.offline_after_s,
        ),
        autoscale=_autoscale(settings, repo),
        budgets=budgets,
    )


def _autoscale(settings: Settings, repo: Repository) -> AutoscaleService:
    bounds = Bounds(
        min_workers=settings.autoscale_min,
        max_workers=max(settings.autoscale_min, settings.autoscale_max),
        tasks_per_worker=settings.autoscale_tasks_per_worker,
        cooldown_s=settings.autoscale_cooldown_s,
    )
    command = settings.autoscale_command.strip()
    actuator = CommandActuator(command) if command else None
    return AutoscaleService(
        repo, bounds, settings.offline_after_s, actuator, fleet_locked=_fleet_locked(repo)
    )


def _fleet_locked(repo: Repository):
    """The auto-scaler's lock signal: a locked budget over the whole fleet (a narrower lock still lets the
    rest of the fleet grow)."""
    return lambda: any(b["scope"] == "fleet" for b in repo.locked_budgets())


def _read_repository(settings: Settings, primary: Repository) -> Repository:
    """The replica's repository, or the primary's. The replica's schema is the primary's (replication copies
    it), so it is not verified here: a replica is read-only and cannot be migrated anyway."""
    if not settings.read_database_url:
        return primary
    return Repository(make_engine(settings.read_database_url, pool=settings.pool))
