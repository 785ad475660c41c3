"""The job scheduler: APScheduler 3.11 in a background thread, jobs gated on leadership.

Every process (each gunicorn worker, a ``python -m helicarrier scheduler`` process, a second app instance)
may start one; only the leader's jobs do anything. A follower retries the lock every few seconds and takes
over within that time when the leader dies. Jobs are idempotent anyway (see the stack notes): a rare
double run changes nothing twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler

from helicarrier.config import Settings
from helicarrier.context import AppContext
from helicarrier.data.leader import Leadership
from helicarrier.health import HEARTBEAT_EVERY_S, HEARTBEAT_FLAG
from helicarrier.observability import metrics

log = logging.getLogger("helicarrier.scheduler")
LEADER_RETRY_S = 3


@dataclass(frozen=True)
class Job:
    name: str
    seconds: int
    run: Callable[[AppContext], object]


ALERT_EVAL_S = 15


def default_jobs(
    alert_eval_s: int = ALERT_EVAL_S,
    sentinel_s: int = 30,
    autoscale_eval_s: int = 15,
    budget_eval_s: int = 30,
) -> list[Job]:
    return [
        Job("evaluate-budgets", budget_eval_s, lambda ctx: ctx.budgets.evaluate()),
        Job("heartbeat", HEARTBEAT_EVERY_S, _heartbeat),
        Job("expire-commands", 10, lambda ctx: ctx.control.expire_commands()),
        Job("verify-kills", 5, lambda ctx: ctx.control.verify_kills()),
        Job("prune-receipts", 3600, lambda ctx: ctx.repo.prune_receipts()),
        Job("evaluate-alerts", alert_eval_s, _evaluate_alerts),
        Job("dispatch-alerts", 5, _dispatch_alerts),
        Job("sentinel", sentinel_s, lambda ctx: ctx.sentinel.run_cycle()),
        Job("prune-alert-cycles", 3600, lambda ctx: ctx.repo.prune_alert_cycles()),
        Job("daily-reports", 60, daily_reports),
        Job("prune-retention", 600, _prune_retention),
        Job("partition-upkeep", 3600, _partition_upkeep),
        Job("autoscale", autoscale_eval_s, lambda ctx: ctx.autoscale.evaluate()),
    ]


def daily_reports(ctx: AppContext, now=None) -> list:
    """Write yesterday's CSV reports once the configured local time has passed (idempotent: a report
    already written is not written again)."""
    from datetime import UTC, datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from helicarrier.reports.jobs import write_scheduled_reports

    s = ctx.settings
    tz = ZoneInfo(s.report_tz)
    local = (now or datetime.now(UTC)).astimezone(tz)
    hour, minute = (int(x) for x in s.report_time.split(":"))
    if local.time() < time(hour, minute):
        return []
    day = (local - timedelta(days=1)).date().isoformat()
    if (s.data_dir / "reports" / f"usage-{day}.csv").exists():
        return []
    return write_scheduled_reports(
        ctx.repo, s.data_dir, local.astimezone(UTC), tz=s.report_tz, keep=s.report_keep
    )


def _prune_retention(ctx: AppContext) -> object:
    from datetime import UTC, datetime

    from helicarrier.retention.service import prune

    now = datetime.now(UTC)
    deleted = prune(ctx.repo, ctx.settings.retention_days, now)
    ctx.slo.prune(now)  # SLI minutes past every SLO window: not a retention setting, nothing reads them
    return deleted


def _partition_upkeep(ctx: AppContext) -> object:
    from datetime import UTC, datetime

    from helicarrier.retention.partitions import upkeep

    return upkeep(ctx.repo, datetime.now(UTC), ctx.settings.partition_months_ahead)


def _heartbeat(ctx: AppContext) -> None:
    """The leader says it is alive: every instance's /readyz reads it."""
    from helicarrier.data.leader import identity

    ctx.repo.set_flag(HEARTBEAT_FLAG, identity())


def _evaluate_alerts(ctx: AppContext) -> object:
    from datetime import UTC, datetime

    from helicarrier.alerts import engine
    from helicarrier.data.leader import identity

    # The alert-lag SLI: how long since the cycle before this one started (issue 15).
    previous = ctx.repo.last_alert_cycle_at()
    now = datetime.now(UTC)
    report = engine.run_cycle(ctx.repo, now, holder=identity(), slo_targets=ctx.slo.targets, due_only=True)
    ctx.slo.alert_cycle(previous, now, ctx.settings.alert_eval_s)
    return report


def _dispatch_alerts(ctx: AppContext) -> object:
    from helicarrier.alerts import engine
    from helicarrier.alerts.receivers import SmtpSettings

    return engine.dispatch(
        ctx.repo,
        base_url=ctx.settings.base_url,
        allow_local=ctx.settings.allow_local_webhooks,
        smtp=SmtpSettings.from_settings(ctx.settings),
    )


class Scheduler:
    def __init__(self, ctx: AppContext, jobs: list[Job] | None = None):
        self.ctx = ctx
        self.leadership = Leadership(ctx.repo.engine)
        # The evaluation job ticks at the shortest allowed rule interval and runs the rules due (issue 15).
        tick = min(ctx.settings.alert_eval_s, ctx.settings.alert_min_interval_s)
        self.jobs = (
            jobs
            if jobs is not None
            else default_jobs(
                tick, ctx.settings.sentinel_s, ctx.settings.autoscale_eval_s, ctx.settings.budget_eval_s
            )
        )
        # A run that starts late (a busy machine) still runs, once: no "was missed by" warning per run.
        self._aps = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self.runs: dict[str, int] = {}

    def start(self) -> None:
        self._aps.add_job(self._elect, "interval", seconds=LEADER_RETRY_S, id="elect", next_run_time=_now())
        for job in self.jobs:
            self._aps.add_job(self._gated(job), "interval", seconds=job.seconds, id=job.name)
        self._aps.start()

    def shutdown(self) -> None:
        self._aps.shutdown(wait=True)
        self.leadership.release()

    def _elect(self) -> None:
        try:
            was = self.leadership.is_leader
            if self.leadership.try_acquire() and not was:
                log.info("scheduler leader: %s", self.leadership.identity)
        except Exception:  # noqa: BLE001 - the database may be briefly away; try again next round
            log.exception("leader election failed")

    def _gated(self, job: Job) -> Callable[[], None]:
        def run() -> None:
            if not self.leadership.is_leader:
                return
            started = time.perf_counter()
            try:
                # A cutover copies the database while maintenance is on: nothing may write but the
                # heartbeat (which says the scheduler lives; parity leaves it out).
                if job.name != "heartbeat" and self.ctx.maintenance.state().on:
                    return
                metrics.JOB_RUNS.labels(job.name).inc()
                job.run(self.ctx)
            except Exception:  # noqa: BLE001 - one failing job must not stop the others
                metrics.JOB_FAILURES.labels(job.name).inc()
                log.exception("job %s failed", job.name)
            finally:
                self.runs[job.name] = self.runs.get(job.name, 0) + 1
                took = time.perf_counter() - started
                metrics.JOB_DURATION.labels(job.name).observe(took)
                log.debug("job %s took %.1f ms", job.name, took * 1000)

        return run


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def should_start_in_web_process(settings: Settings) -> bool:
    """Off under the Werkzeug reloader's watcher process (it would run a second scheduler), and when
    HELICARRIER_SCHEDULER=off (a separate `python -m helicarrier scheduler` process does the work)."""
    if not settings.scheduler:
        return False
    if os.environ.get("FLASK_RUN_FROM_CLI") or os.environ.get("WERKZEUG_SERVER_FD"):
        return os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    return True
