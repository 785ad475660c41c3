"""How a PostgreSQL engine pools and bounds its connections (``HELICARRIER_DB_*``; SQLite ignores them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolSettings:
    size: int = 5
    max_overflow: int = 10
    timeout_s: int = 30  # waiting for a free connection
    pre_ping: bool = True
    statement_timeout_ms: int = 60_000  # 0: no limit
    connect_timeout_s: int = 5
