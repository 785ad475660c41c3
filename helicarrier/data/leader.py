"""Leader election, in the database: one scheduler runs jobs at a time (``helicarrier.scheduler`` asks).

- PostgreSQL: a session-level advisory lock held on a dedicated connection. If the leader dies, its
  connection closes and the lock is free at once; the connection's application_name says who holds it.
  Advisory locks are database-wide, so the lock's second key is the schema's: two Helicarriers in two
  schemas of one database (or a test run beside another) each elect their own leader.
- SQLite (one machine by nature): an exclusive non-blocking flock on a file beside the database, whose
  content names the holder. The kernel frees it when the holder dies.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import zlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

LOCK_KEY = 0x48454C4A  # shared by every Helicarrier process; differs from the migration lock
_SCHEMA_KEY = "SELECT current_schema()"


def _schema_key(conn) -> int:
    """The lock's second key: the schema's name as a non-negative int4 (pg_locks.objid shows it as is)."""
    return zlib.crc32(str(conn.execute(text(_SCHEMA_KEY)).scalar()).encode()) & 0x7FFFFFFF


def identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    """``try_acquire()`` is cheap to call often; ``is_leader`` says whether this process holds the lock."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.identity = identity()
        self._lock = threading.Lock()
        self._conn = None
        self._fd: int | None = None
        self.since: datetime | None = None

    @property
    def is_leader(self) -> bool:
        return self.since is not None

    def try_acquire(self) -> bool:
        with self._lock:
            if self.is_leader:
                return self._still_held()
            got = self._acquire_pg() if self.engine.dialect.name == "postgresql" else self._acquire_file()
            if got:
                self.since = datetime.now(UTC)
            return got

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    key = {"k": LOCK_KEY, "s": _schema_key(self._conn)}
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k, :s)"), key)
                    self._conn.close()
                except Exception:  # noqa: BLE001 - a dead connection has released the lock anyway
                    pass
                self._conn = None
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
            self.since = None

    # -- PostgreSQL ---------------------------------------------------------------------------------

    def _acquire_pg(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.execute(
                text("SELECT set_config('application_name', :n, false)"),
                {"n": f"helicarrier-scheduler {self.identity}"[:63]},
            )
            key = {"k": LOCK_KEY, "s": _schema_key(conn)}
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k, :s)"), key).scalar()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _still_held(self) -> bool:
        if self._conn is None:
            return True  # file lock: held as long as the fd is open
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - the connection died, and the lock with it
            self._conn = None
            self.since = None
            return False

    # -- SQLite -------------------------------------------------------------------------------------

    def _lock_path(self) -> Path:
        return Path(str(Path(self.engine.url.database).resolve()) + "-scheduler")

    def _acquire_file(self) -> bool:
        fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"holder": self.identity, "since": datetime.now(UTC).isoformat()}).encode())
        self._fd = fd
        return True


def current_holder(engine: Engine) -> str | None:
    """Who runs the jobs now, for the Operations page (None when nobody does)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.classid = :k AND l.objid = :s AND l.objsubid = 2 "
                    "AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database()) LIMIT 1"
                ),
                {"k": LOCK_KEY, "s": _schema_key(conn)},
            ).scalar()
    path = Path(str(Path(engine.url.database).resolve()) + "-scheduler")
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: the content names the holder
            return json.loads(path.read_text() or "{}").get("holder")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
