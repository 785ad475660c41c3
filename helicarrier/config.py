"""Settings from environment variables, with documented defaults.

Every setting is listed in ``SETTINGS_DOC`` so the README table and a test can check that nothing goes
undocumented (the Datasette habit: documentation is tested).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# name -> (default shown in the docs, description)
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "HELICARRIER_DATABASE_URL": (
        "sqlite:///<data dir>/helicarrier.db",
        "SQLAlchemy URL. `postgresql+psycopg://user@host/db` selects PostgreSQL; nothing else changes.",
    ),
    "HELICARRIER_DATA_DIR": ("./var", "Where the SQLite file, the secret key and CSV reports live."),
    "HELICARRIER_HOST": ("127.0.0.1", "Address `serve` binds to."),
    "HELICARRIER_PORT": ("8050", "Port `serve` binds to."),
    "HELICARRIER_SECRET_KEY": (
        "generated once into `<data dir>/secret_key`",
        "Signs session cookies and Dash background-callback handles; the same for every worker.",
    ),
    "HELICARRIER_LOG_LEVEL": ("INFO", "Python logging level."),
    "HELICARRIER_AUTO_MIGRATE": (
        "1",
        "Bring the database to head on start. `0`: only verify, refuse to start when behind (production).",
    ),
    "HELICARRIER_PRICING_VERSION": (
        "genai-prices-<package version>",
        "Price table used to cost new usage events.",
    ),
    "HELICARRIER_MAX_BODY_BYTES": ("5242880", "Largest ingest request body (413 above)."),
    "HELICARRIER_MAX_BATCH_EVENTS": ("5000", "Most events in one v2 batch (413 above)."),
    "HELICARRIER_OFFLINE_AFTER_S": ("60", "An agent without a heartbeat for this long shows as offline."),
    "HELICARRIER_SCHEDULER": (
        "on",
        "`off`: web processes run no background jobs (run `python -m helicarrier scheduler` instead).",
    ),
    "HELICARRIER_REPORT_TIME": (
        "00:15",
        "Local time of day the daily usage and session CSV reports are written.",
    ),
    "HELICARRIER_REPORT_TZ": ("UTC", "Time zone of report days and of the report time."),
    "HELICARRIER_REPORT_KEEP": ("30", "Daily reports of each kind kept in `<data dir>/reports`."),
    "HELICARRIER_COMMAND_TTL_S": ("300", "A command not fetched by its agent within this time expires."),
    "HELICARRIER_MAX_TASK_BYTES": ("16384", "Largest injected task (413 above)."),
    "HELICARRIER_KILL_SETTLE_S": (
        "30",
        "A confirmed kill is verified once no usage arrived from the agent for this long.",
    ),
}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key: str = ""
    log_level: str = "INFO"
    auto_migrate: bool = True
    pricing_version: str | None = None
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_events: int = 5000
    offline_after_s: int = 60
    command_ttl_s: int = 300
    max_task_bytes: int = 16 * 1024
    kill_settle_s: int = 30
    report_time: str = "00:15"
    report_tz: str = "UTC"
    report_keep: int = 30
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)


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


def load_settings(**overrides: object) -> Settings:
    data_dir = Path(_env("HELICARRIER_DATA_DIR", str(PROJECT_ROOT / "var"))).resolve()
    database_url = _env("HELICARRIER_DATABASE_URL", f"sqlite:///{data_dir / 'helicarrier.db'}")
    secret_key = os.environ.get("HELICARRIER_SECRET_KEY") or ""
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        host=_env("HELICARRIER_HOST", "127.0.0.1"),
        port=int(_env("HELICARRIER_PORT", "8050")),
        secret_key=secret_key,
        log_level=_env("HELICARRIER_LOG_LEVEL", "INFO").upper(),
        auto_migrate=_env("HELICARRIER_AUTO_MIGRATE", "1") not in ("0", "false", "no"),
        pricing_version=os.environ.get("HELICARRIER_PRICING_VERSION") or None,
        max_body_bytes=int(_env("HELICARRIER_MAX_BODY_BYTES", str(5 * 1024 * 1024))),
        max_batch_events=int(_env("HELICARRIER_MAX_BATCH_EVENTS", "5000")),
        offline_after_s=int(_env("HELICARRIER_OFFLINE_AFTER_S", "60")),
        command_ttl_s=int(_env("HELICARRIER_COMMAND_TTL_S", "300")),
        max_task_bytes=int(_env("HELICARRIER_MAX_TASK_BYTES", "16384")),
        kill_settle_s=int(_env("HELICARRIER_KILL_SETTLE_S", "30")),
        report_time=_env("HELICARRIER_REPORT_TIME", "00:15"),
        report_tz=_env("HELICARRIER_REPORT_TZ", "UTC"),
        report_keep=int(_env("HELICARRIER_REPORT_KEEP", "30")),
    )
    if overrides:
        settings = replace(settings, **overrides)
    if not settings.secret_key:
        settings = replace(settings, secret_key=load_secret_key(settings.data_dir))
    return settings
