"""Settings, declared once: each is an environment variable with a default, a type and a line of help
(``SETTINGS``). ``load_settings`` reads them, the README's configuration table is ``settings_table()``, and
a test holds the two together (Datasette's habit: documentation is tested).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from helicarrier.data.pool import PoolSettings
from helicarrier.slo.definitions import percent_ppm

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


def _int(text: str) -> int:
    return int(text)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("at least 1")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 3600:
        raise ValueError("0 to 3600")
    return value


def _days(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 36_500:
        raise ValueError("0 to 36500 days")
    return value


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("not on/off")


def _text(text: str) -> str:
    return text


def _log_format(text: str) -> str:
    lowered = text.strip().lower()
    if lowered not in ("text", "json"):
        raise ValueError("text or json")
    return lowered


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or any(len(n) > 255 for n in names):
        raise ValueError("a comma-separated list of attribute names")
    return names


def _policy(text: str) -> str:
    from helicarrier.sentinel.ladder import LADDER

    if text not in LADDER:
        raise ValueError(", ".join(LADDER))
    return text


def _sentinel_labels(text: str) -> tuple:
    from helicarrier.sentinel.thresholds import parse_overrides

    return parse_overrides(text)


@dataclass(frozen=True)
class Setting:
    env: str  # the environment variable
    attr: str | None  # the Settings field it fills (None: read by one command, e.g. the demo fleet)
    default: str  # as documented
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "HELICARRIER_DATABASE_URL",
        "database_url",
        "sqlite:///<data dir>/helicarrier.db",
        _text,
        "SQLAlchemy URL. `postgresql+psycopg://user@host/db` selects PostgreSQL; nothing else changes.",
    ),
    Setting(
        "HELICARRIER_READ_DATABASE_URL",
        "read_database_url",
        "unset (the primary)",
        _text,
        "A streaming replica of the primary: the Ledger, Intelligence and the read APIs (sessions, usage, "
        "model matrix) query it; Pulse, Hero Grid, control and ingest stay on the primary.",
    ),
    Setting(
        "HELICARRIER_DB_POOL_SIZE",
        "db_pool_size",
        "5",
        _int,
        "PostgreSQL: connections each process keeps open (per engine; the read replica has its own pool).",
    ),
    Setting(
        "HELICARRIER_DB_MAX_OVERFLOW",
        "db_max_overflow",
        "10",
        _int,
        "PostgreSQL: connections opened beyond the pool under load, closed when returned.",
    ),
    Setting(
        "HELICARRIER_DB_POOL_TIMEOUT_S",
        "db_pool_timeout_s",
        "30",
        _int,
        "PostgreSQL: how long a request waits for a free connection before it fails (503).",
    ),
    Setting(
        "HELICARRIER_DB_PRE_PING",
        "db_pre_ping",
        "1",
        _flag,
        "PostgreSQL: test a pooled connection before use: a restarted server or failover costs no error.",
    ),
    Setting(
        "HELICARRIER_DB_STATEMENT_TIMEOUT_MS",
        "db_statement_timeout_ms",
        "60000",
        _int,
        "PostgreSQL: longest statement (`statement_timeout`; `0`: none). Migrations are not bounded by it.",
    ),
    Setting(
        "HELICARRIER_DB_CONNECT_TIMEOUT_S",
        "db_connect_timeout_s",
        "5",
        _int,
        "PostgreSQL: how long to wait for the server to accept a connection.",
    ),
    Setting(
        "HELICARRIER_DATA_DIR",
        "data_dir",
        "./var",
        Path,
        "Where the SQLite file, the secret key and CSV reports live.",
    ),
    Setting("HELICARRIER_HOST", "host", "127.0.0.1", _text, "Address `serve` binds to."),
    Setting("HELICARRIER_PORT", "port", "8050", _int, "Port `serve` binds to."),
    Setting(
        "HELICARRIER_PUBLIC_URL",
        "public_url",
        "http://<host>:<port>",
        _text,
        "Where people reach Helicarrier (`https://helicarrier.example.com`): links in alert notifications.",
    ),
    Setting(
        "HELICARRIER_TRUSTED_PROXIES",
        "trusted_proxies",
        "0",
        _int,
        "How many reverse proxies in front of the app to believe `X-Forwarded-For`/`-Proto`/`-Host` from.",
    ),
    Setting(
        "HELICARRIER_SECRET_KEY",
        "secret_key",
        "generated once into `<data dir>/secret_key`",
        _text,
        "Signs session cookies and Dash background-callback handles; the same for every worker.",
    ),
    Setting("HELICARRIER_LOG_LEVEL", "log_level", "INFO", str.upper, "Python logging level."),
    Setting(
        "HELICARRIER_LOG_FORMAT",
        "log_format",
        "text",
        _log_format,
        "`json`: one JSON object per line on stdout (production); `text`: readable lines on stderr. Both "
        "carry the request id and trace id.",
    ),
    Setting(
        "HELICARRIER_AUTO_MIGRATE",
        "auto_migrate",
        "1",
        _flag,
        "Bring the database to head on start. `0`: only verify, refuse to start when behind (production).",
    ),
    Setting(
        "HELICARRIER_PRICING_VERSION",
        "pricing_version",
        "genai-prices-<package version>",
        _text,
        "Price table used to cost new usage events.",
    ),
    Setting(
        "HELICARRIER_MAX_BODY_BYTES",
        "max_body_bytes",
        "5242880",
        _int,
        "Largest ingest request body (413 above).",
    ),
    Setting(
        "HELICARRIER_MAX_BATCH_EVENTS",
        "max_batch_events",
        "5000",
        _int,
        "Most events in one v2 batch (413 above).",
    ),
    Setting(
        "HELICARRIER_OTLP_SESSION_ATTRIBUTES",
        "otlp_session_attributes",
        "session.id,gen_ai.conversation.id,conversation.id",
        _names,
        "OTLP attributes naming an item's session, first found wins (on the item, then its resource); "
        "spans without one use their trace id.",
    ),
    Setting(
        "HELICARRIER_OFFLINE_AFTER_S",
        "offline_after_s",
        "60",
        _int,
        "An agent without a heartbeat for this long shows as offline.",
    ),
    Setting(
        "HELICARRIER_SCHEDULER",
        "scheduler",
        "on",
        _flag,
        "`off`: web processes run no background jobs (run `python -m helicarrier scheduler` instead).",
    ),
    Setting(
        "HELICARRIER_WORKERS",
        None,
        "cores x 2 + 1",
        _int,
        "gunicorn worker processes (`gunicorn.conf.py`).",
    ),
    Setting(
        "HELICARRIER_THREADS",
        None,
        "8",
        _int,
        "Threads per gunicorn worker: each waiting command poll holds one for up to 30 s.",
    ),
    Setting(
        "HELICARRIER_MALLOC_ARENAS",
        "malloc_arenas",
        "2",
        _count,
        "glibc malloc arenas per server process (`MALLOC_ARENA_MAX`; 0: glibc's default of 8 per core).",
    ),
    Setting(
        "HELICARRIER_MALLOC_TRIM_S",
        "malloc_trim_s",
        "10",
        _count,
        "Seconds between handing a server process's freed heap back to the system (`malloc_trim`; 0: never).",
    ),
    Setting(
        "HELICARRIER_ALERT_EVAL_S",
        "alert_eval_s",
        "15",
        _positive,
        "Seconds between alert evaluation cycles (one cycle per interval across all instances).",
    ),
    Setting(
        "HELICARRIER_ALERT_MIN_INTERVAL_S",
        "alert_min_interval_s",
        "5",
        _positive,
        "Shortest evaluation interval a rule may have (422 below); the evaluation job runs this often "
        "(or every `HELICARRIER_ALERT_EVAL_S`, if shorter) and evaluates the rules that are due.",
    ),
    Setting(
        "HELICARRIER_SENTINEL_S",
        "sentinel_s",
        "30",
        _positive,
        "Seconds between the stuck-loop sentinel's cycles (docs/sentinel.md).",
    ),
    Setting(
        "HELICARRIER_SENTINEL_POLICY",
        "sentinel_policy",
        "alert",
        _policy,
        "The highest rung of the sentinel's ladder for every agent: `observe`, `alert`, `steer` or `kill`.",
    ),
    Setting(
        "HELICARRIER_SENTINEL_REPEAT_N",
        "sentinel_repeat_n",
        "12",
        _positive,
        "A stuck loop: the same normalized log line or tool call this many times ...",
    ),
    Setting(
        "HELICARRIER_SENTINEL_REPEAT_WINDOW_S",
        "sentinel_repeat_window_s",
        "300",
        _positive,
        "... within this many seconds (and over 60% of its lines there: `repeat_share_pct`).",
    ),
    Setting(
        "HELICARRIER_SENTINEL_NO_OUTPUT_S",
        "sentinel_no_output_s",
        "600",
        _positive,
        "Tokens spent for this many seconds without one new distinct log line.",
    ),
    Setting(
        "HELICARRIER_SENTINEL_LONG_RUN_FACTOR",
        "sentinel_long_run_factor",
        "3",
        _positive,
        "A session running this many times longer than its task kind's p99 runtime (over 20+ sessions).",
    ),
    Setting(
        "HELICARRIER_SENTINEL_SILENT_S",
        "sentinel_silent_s",
        "900",
        _positive,
        "Heartbeats say `running` and no model call for this many seconds.",
    ),
    Setting(
        "HELICARRIER_SENTINEL_GRACE_S",
        "sentinel_grace_s",
        "120",
        _positive,
        "Seconds between two rungs of the sentinel's ladder (alert, then steer, then kill).",
    ),
    Setting(
        "HELICARRIER_SENTINEL_COOLDOWN_S",
        "sentinel_cooldown_s",
        "3600",
        _positive,
        "After a steer or kill, no action on the same agent for the same reason for this many seconds.",
    ),
    Setting(
        "HELICARRIER_SENTINEL_LABELS",
        "sentinel_labels",
        "`{}`",
        _sentinel_labels,
        'Per-label overrides of the sentinel\'s settings, JSON: `{"team=research": {"policy": "observe", '
        '"repeat_n": 30}}` (fields: docs/sentinel.md).',
    ),
    Setting(
        "HELICARRIER_RETAIN_USAGE_DAYS",
        "retain_usage_days",
        "90",
        _days,
        "Raw usage events kept (`0`: for ever). Older ranges stay exact to the hour from the rollups.",
    ),
    Setting(
        "HELICARRIER_RETAIN_LOGS_DAYS",
        "retain_logs_days",
        "30",
        _days,
        "Agent log lines kept (`0`: for ever).",
    ),
    Setting(
        "HELICARRIER_RETAIN_AUDIT_DAYS",
        "retain_audit_days",
        "730",
        _days,
        "Audit entries kept (`0`: for ever).",
    ),
    Setting(
        "HELICARRIER_RETAIN_ALERTS_DAYS",
        "retain_alerts_days",
        "90",
        _days,
        "Resolved alerts (and their history) kept after resolving (`0`: for ever); open ones always stay.",
    ),
    Setting(
        "HELICARRIER_RETAIN_ROLLUPS_DAYS",
        "retain_rollups_days",
        "1825",
        _days,
        "Hourly and daily rollups kept (`0`: for ever); never less than the raw usage.",
    ),
    Setting(
        "HELICARRIER_RETAIN_EVENT_IDS_DAYS",
        "retain_event_ids_days",
        "90",
        _days,
        "Ingest event ids remembered for deduplication, from the day first seen (`0`: for ever); never less "
        "than the raw usage and logs, so a resend of a stored event is always a duplicate.",
    ),
    Setting(
        "HELICARRIER_PARTITION_MONTHS_AHEAD",
        "partition_months_ahead",
        "3",
        _positive,
        "PostgreSQL: monthly partitions of usage and log events created ahead of the current month.",
    ),
    Setting(
        "HELICARRIER_REPORT_TIME",
        "report_time",
        "00:15",
        _text,
        "Local time of day the daily usage and session CSV reports are written.",
    ),
    Setting(
        "HELICARRIER_REPORT_TZ", "report_tz", "UTC", _text, "Time zone of report days and of the report time."
    ),
    Setting(
        "HELICARRIER_BUDGET_TZ",
        "budget_tz",
        "UTC",
        _text,
        "The organisation's time zone: budgets' days and months begin at its local midnight.",
    ),
    Setting(
        "HELICARRIER_BUDGET_EVAL_S",
        "budget_eval_s",
        "30",
        _positive,
        "Seconds between budget evaluations (spend, soft alert, lock and unlock; leader only).",
    ),
    Setting(
        "HELICARRIER_REPORT_KEEP",
        "report_keep",
        "30",
        _int,
        "Daily reports of each kind kept in `<data dir>/reports`.",
    ),
    Setting(
        "HELICARRIER_COMMAND_TTL_S",
        "command_ttl_s",
        "300",
        _int,
        "A command not fetched by its agent within this time expires.",
    ),
    Setting(
        "HELICARRIER_COMMAND_REDELIVER_S",
        "command_redeliver_s",
        "30",
        _count,
        "A delivered command its agent has not answered within this time is handed over again at its next "
        "poll (at least once; `0`: at most once).",
    ),
    Setting(
        "HELICARRIER_MAX_TASK_BYTES", "max_task_bytes", "16384", _int, "Largest injected task (413 above)."
    ),
    Setting(
        "HELICARRIER_KILL_SETTLE_S",
        "kill_settle_s",
        "30",
        _int,
        "A confirmed kill is verified once no usage arrived from the killed session for this long.",
    ),
    Setting(
        "HELICARRIER_ALLOW_LOCAL_WEBHOOKS",
        "allow_local_webhooks",
        "0",
        _flag,
        "`1`: alert receivers may post to loopback and link-local addresses (tests; refused by default).",
    ),
    Setting(
        "HELICARRIER_AUTOSCALE_MIN",
        "autoscale_min",
        "1",
        _int,
        "Auto-scaling: the fewest agent workers the fleet should run (`GET /api/v1/fleet/scale`).",
    ),
    Setting("HELICARRIER_AUTOSCALE_MAX", "autoscale_max", "10", _positive, "Auto-scaling: the most workers."),
    Setting(
        "HELICARRIER_AUTOSCALE_TASKS_PER_WORKER",
        "autoscale_tasks_per_worker",
        "2",
        _positive,
        "Auto-scaling: open injected tasks plus running agents one worker is meant to carry.",
    ),
    Setting(
        "HELICARRIER_AUTOSCALE_COOLDOWN_S",
        "autoscale_cooldown_s",
        "60",
        _int,
        "Auto-scaling: the desired count changes at most once in this many seconds.",
    ),
    Setting(
        "HELICARRIER_AUTOSCALE_EVAL_S",
        "autoscale_eval_s",
        "15",
        _positive,
        "Auto-scaling: seconds between evaluations (on the scheduler's leader).",
    ),
    Setting(
        "HELICARRIER_AUTOSCALE_COMMAND",
        "autoscale_command",
        "",
        _text,
        "Auto-scaling: a command run with each new count, `{count}` filled in, without a shell "
        "(e.g. `kubectl scale deployment/agents --replicas={count}`; empty: none).",
    ),
    Setting(
        "HELICARRIER_SMTP_HOST",
        "smtp_host",
        "",
        _text,
        "SMTP server for e-mail alert receivers (empty: none).",
    ),
    Setting("HELICARRIER_SMTP_PORT", "smtp_port", "587", _positive, "Port of the SMTP server."),
    Setting("HELICARRIER_SMTP_USERNAME", "smtp_username", "", _text, "SMTP login (empty: no login)."),
    Setting("HELICARRIER_SMTP_PASSWORD", "smtp_password", "", _text, "SMTP password, with the login."),
    Setting(
        "HELICARRIER_SMTP_FROM",
        "smtp_from",
        "helicarrier@localhost",
        _text,
        "Sender address of alert e-mails.",
    ),
    Setting(
        "HELICARRIER_SMTP_STARTTLS",
        "smtp_starttls",
        "1",
        _flag,
        "`1`: upgrade the SMTP connection with STARTTLS before logging in and sending.",
    ),
    Setting(
        "HELICARRIER_METRICS_OPEN",
        "metrics_open",
        "0",
        _flag,
        "`1`: `GET /metrics` answers without a token (a scraper on a private network); else a `read` token.",
    ),
    Setting(
        "HELICARRIER_SLO_INGEST_AVAILABILITY",
        "slo_ingest_availability_ppm",
        "99.9",
        percent_ppm,
        "SLO: percent of ingest requests answered without a 5xx, over 30 days (Operations, `/api/v1/slo`).",
    ),
    Setting(
        "HELICARRIER_SLO_INGEST_LATENCY_MS",
        "slo_ingest_latency_ms",
        "200",
        _positive,
        "SLO: an ingest request answered slower than this many milliseconds counts against the latency SLO.",
    ),
    Setting(
        "HELICARRIER_SLO_INGEST_LATENCY",
        "slo_ingest_latency_ppm",
        "95",
        percent_ppm,
        "SLO: percent of ingest requests answered within the latency threshold (95: a p95 under it).",
    ),
    Setting(
        "HELICARRIER_SLO_ALERT_LAG_S",
        "slo_alert_lag_s",
        "60",
        _positive,
        "SLO: an alert evaluation cycle starting more than this many seconds after the previous one is late.",
    ),
    Setting(
        "HELICARRIER_SLO_PULSE_FRESHNESS_S",
        "slo_pulse_freshness_s",
        "2",
        _positive,
        "SLO: a log line handed to an open Pulse later than this after its arrival is stale.",
    ),
    Setting(
        "HELICARRIER_SLO_COMMAND_DELIVERY_S",
        "slo_command_delivery_s",
        "10",
        _positive,
        "SLO: a command delivered to its agent later than this many seconds after it was issued is late.",
    ),
    Setting(
        "HELICARRIER_SLO_TIMELINESS",
        "slo_timeliness_ppm",
        "99",
        percent_ppm,
        "SLO: percent of alert cycles, Pulse events and commands that must be on time (the three above).",
    ),
    Setting(
        "HELICARRIER_DEMO_TOKEN",
        None,
        "created once into `<data dir>/demo_token`",
        _text,
        "The ingest token `demo-agents` reports with.",
    ),
)
BY_ENV = {s.env: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    read_database_url: str | None = None
    db_pool_size: int = 5
    db_max_overflow: int = 10
    db_pool_timeout_s: int = 30
    db_pre_ping: bool = True
    db_statement_timeout_ms: int = 60_000
    db_connect_timeout_s: int = 5
    host: str = "127.0.0.1"
    port: int = 8050
    malloc_arenas: int = 2
    malloc_trim_s: int = 10
    public_url: str | None = None
    trusted_proxies: int = 0
    secret_key: str = ""
    log_level: str = "INFO"
    log_format: str = "text"
    auto_migrate: bool = True
    pricing_version: str | None = None
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_events: int = 5000
    otlp_session_attributes: tuple[str, ...] = ("session.id", "gen_ai.conversation.id", "conversation.id")
    offline_after_s: int = 60
    scheduler: bool = True
    alert_eval_s: int = 15
    alert_min_interval_s: int = 5
    sentinel_s: int = 30
    sentinel_policy: str = "alert"
    sentinel_repeat_n: int = 12
    sentinel_repeat_window_s: int = 300
    sentinel_no_output_s: int = 600
    sentinel_long_run_factor: int = 3
    sentinel_silent_s: int = 900
    sentinel_grace_s: int = 120
    sentinel_cooldown_s: int = 3600
    sentinel_labels: tuple = ()  # ((label, ((field, value), ...)), ...): HELICARRIER_SENTINEL_LABELS
    retain_usage_days: int = 90
    retain_logs_days: int = 30
    retain_audit_days: int = 730
    retain_alerts_days: int = 90
    retain_rollups_days: int = 1825
    retain_event_ids_days: int = 90
    partition_months_ahead: int = 3
    command_ttl_s: int = 300
    command_redeliver_s: int = 30
    max_task_bytes: int = 16 * 1024
    kill_settle_s: int = 30
    report_time: str = "00:15"
    report_tz: str = "UTC"
    budget_tz: str = "UTC"
    budget_eval_s: int = 30
    report_keep: int = 30
    allow_local_webhooks: bool = False
    autoscale_min: int = 1
    autoscale_max: int = 10
    autoscale_tasks_per_worker: int = 2
    autoscale_cooldown_s: int = 60
    autoscale_eval_s: int = 15
    autoscale_command: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "helicarrier@localhost"
    smtp_starttls: bool = True
    metrics_open: bool = False
    slo_ingest_availability_ppm: int = 999_000
    slo_ingest_latency_ms: int = 200
    slo_ingest_latency_ppm: int = 950_000
    slo_alert_lag_s: int = 60
    slo_pulse_freshness_s: int = 2
    slo_command_delivery_s: int = 10
    slo_timeliness_ppm: int = 990_000

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def pool(self) -> PoolSettings:
        """How the PostgreSQL engines of this process pool and bound their connections."""
        return PoolSettings(
            size=self.db_pool_size,
            max_overflow=self.db_max_overflow,
            timeout_s=self.db_pool_timeout_s,
            pre_ping=self.db_pre_ping,
            statement_timeout_ms=self.db_statement_timeout_ms,
            connect_timeout_s=self.db_connect_timeout_s,
        )

    @property
    def retention_days(self) -> dict[str, int]:
        """Days kept per kind of history (0: for ever); see helicarrier.retention."""
        return {
            "usage": self.retain_usage_days,
            "logs": self.retain_logs_days,
            "audit": self.retain_audit_days,
            "alerts": self.retain_alerts_days,
            "rollups": self.retain_rollups_days,
            "event_ids": self.retain_event_ids_days,
        }

    @property
    def base_url(self) -> str:
        """Where people reach this Helicarrier: the public URL, else the served address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def env(name: str) -> str | None:
    """A declared setting's value from the environment (an empty value counts as unset)."""
    if name not in BY_ENV:
        raise KeyError(f"{name} is not a declared setting")
    return os.environ.get(name) or None


def _read(setting: Setting) -> Any:
    raw = env(setting.env)
    if raw is None:
        return None
    try:
        return setting.parse(raw)
    except ValueError:
        raise ConfigError(f"{setting.env}={raw!r} is not a valid value ({setting.help})") from None


def load_secret_key(data_dir: Path) -> str:
    """Read the secret key kept in the data dir, creating it once.

    Created with O_EXCL so that several workers starting together agree on one key.
    """
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment; ``overrides`` (tests, tools) win. Raises ConfigError."""
    names = {f.name for f in fields(Settings)}
    values = {s.attr: v for s in SETTINGS if s.attr in names and (v := _read(s)) is not None}
    data_dir = Path(values.pop("data_dir", PROJECT_ROOT / "var")).resolve()
    values.setdefault("database_url", f"sqlite:///{data_dir / 'helicarrier.db'}")
    settings = replace(Settings(data_dir=data_dir, database_url=values.pop("database_url")), **values)
    if overrides:
        settings = replace(settings, **overrides)
    if not settings.secret_key:
        settings = replace(settings, secret_key=load_secret_key(settings.data_dir))
    return settings


def settings_table() -> str:
    """The README's configuration table, from ``SETTINGS``."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{s.env}` | {s.default} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)
