"""Engine creation: one code path for SQLite and PostgreSQL, the backend chosen by the URL alone."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from helicarrier.data.pool import PoolSettings
from helicarrier.data.schema import SchemaError

log = logging.getLogger("helicarrier.data")

# SQLite's heap in one process (a worker), all its connections together (soft_heap_limit is process-wide).
# Each connection may cache up to 64 MB of pages, but a gthread worker holds a connection per busy thread:
# in an hour's soak a worker's eight caches filled as the file grew and it reached 500 MB (issue 17's
# target: under 200). With the limit, SQLite reuses cached pages instead of allocating more; the file's
# pages stay in the operating system's cache.
SQLITE_HEAP_LIMIT_BYTES = 32 * 1024 * 1024
# 64 MB page cache instead of SQLite's 2 MB default: measured 1.9x on large ingest transactions.
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA cache_size=-65536",
    f"PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT_BYTES}",
)


# Every PostgreSQL session of the app runs without JIT compilation. The server compiles any plan it costs
# above jit_above_cost (100,000 by default), and the app's queries reach that only where the planner cannot
# see how little they read: the usage series' windows over usage_quarter_rollups (a LATERAL index range per
# local day, estimated 108k-415k, read in 10-40 ms) were compiled on every call, 10-20 ms of server CPU and
# wall each (EXPLAIN ANALYZE at 1M sessions / 10M events: "JIT ... Total 14.2 ms" of a 49 ms statement;
# the statements of bench/analytics.py's 21 hourly series 173 -> 92 ms in all, 21 daily 238 -> 209 ms). No
# query of the app scans enough rows for compiled code to pay back. A URL's own `-c jit=on` still wins.
_PG_SESSION_OPTIONS = ("-c jit=off",)

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
URL_FORMS = "sqlite:////absolute/path.db or postgresql+psycopg://USER@HOST:PORT/DATABASE"


class DatabaseURLError(SchemaError):
    """The URL is no database URL, or names a database Helicarrier does not run on: refused before any
    driver is loaded (SQLAlchemy would fail with a parse error or a missing module's traceback)."""


def database_url(url: str | URL) -> URL:
    """``url`` parsed, of a backend Helicarrier runs on; the message never shows a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"{url!r} is not a database URL; use {URL_FORMS}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseURLError(
            f"{backend!r} databases are not supported ({parsed.render_as_string(hide_password=True)}); "
            "Helicarrier runs on SQLite or PostgreSQL"
        )
    return parsed


def make_engine(url: str, *, pool: PoolSettings | None = None, echo: bool = False) -> Engine:
    """An engine for ``url``; on PostgreSQL pooled and bounded as ``pool`` says (the settings' defaults)."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        # One driver for PostgreSQL everywhere: psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    pool = pool or PoolSettings()
    # Sent with the connection (libpq `options`), so every session has them before its first statement;
    # beside any options the URL already carries (e.g. a search_path), the later of two settings winning.
    options = [*_PG_SESSION_OPTIONS, parsed.query.get("options")]
    if pool.statement_timeout_ms:
        options.append(f"-c statement_timeout={pool.statement_timeout_ms}")
    parsed = parsed.update_query_dict({"options": " ".join(o for o in options if o)})
    return create_engine(
        parsed,
        echo=echo,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_s,
        pool_pre_ping=pool.pre_ping,
        connect_args={"connect_timeout": pool.connect_timeout_s},
    )


class DatabaseFileError(SchemaError):
    """The SQLite file cannot be created where the URL says: the app refuses to start, with one line."""


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (SQLite gives its WAL and shared-memory files the
    database file's mode), as the secret key is: it holds every token's hash and every prompt an agent
    sent. An existing file keeps its mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.exists():
            return
        raise DatabaseFileError(
            f"cannot create the SQLite database {path}: a file stands where a folder should be"
        ) from None
    except OSError as exc:
        raise DatabaseFileError(f"cannot create the SQLite database {path}: {exc.strerror or exc}") from None
    os.close(fd)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        _create_private(Path(parsed.database))
    engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False, "timeout": 10})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Take transaction control away from pysqlite so that BEGIN is emitted by us (below): this makes DDL
        # transactional (a failed migration leaves nothing half-applied) and lets writers BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Writers ask for IMMEDIATE so that two writers queue on busy_timeout instead of one failing with
        # "database is locked" when it upgrades a read lock.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


WRITE_LOCK_TIMEOUT_S = 10.0


class DatabaseBusy(Exception):
    """The database stayed busy past its timeout: nothing was done; the request may be retried."""


class _SqliteWriteLock:
    """Queue SQLite writers on a file lock instead of SQLite's busy handler.

    The busy handler polls with sleeps of 1, 2, 5, 10... ms, so a second writer often sleeps well past the
    moment the first one commits: two gunicorn workers wrote barely faster than one. A blocking flock wakes
    the next writer as soon as the lock is free. flock excludes processes; the threading lock excludes
    threads of one process (they share the file description, which flock does not tell apart).
    """

    def __init__(self, path: Path, timeout_s: float = WRITE_LOCK_TIMEOUT_S):
        self._path = path
        self._timeout_s = timeout_s
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self):
        # Bounded like SQLite's own busy timeout: a writer stuck elsewhere turns into a 503, not a hang.
        deadline = time.monotonic() + self._timeout_s
        if not self._thread_lock.acquire(timeout=self._timeout_s):
            raise DatabaseBusy(f"no write slot within {self._timeout_s:g} s")
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            tries = 0
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise DatabaseBusy(
                            f"another process held the write lock for {self._timeout_s:g} s"
                        ) from None
                    # Short waits first: a transaction usually ends within milliseconds, and a writer that
                    # sleeps past it costs throughput (the reason for this lock, see above).
                    tries += 1
                    time.sleep(0.0002 if tries < 100 else 0.001 if tries < 1000 else 0.005)
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc):
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_WRITE_LOCKS: dict[str, _SqliteWriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def write_lock(engine: Engine):
    """A context manager held around every write transaction of the app (a no-op on PostgreSQL)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return nullcontext()
    path = str(Path(engine.url.database).resolve()) + "-writelock"
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(path)
        if lock is None:
            lock = _WRITE_LOCKS[path] = _SqliteWriteLock(Path(path))
    return lock


# Commits between WAL checkpoints, per process. Under sustained ingest SQLite's own auto-checkpoint rarely
# finishes (readers keep old snapshots), and the WAL grew to gigabytes in trials; truncating it every ~100
# commits kept it at a few MB at a small cost.
CHECKPOINT_EVERY = 100
_commits: dict[int, int] = {}


def maybe_checkpoint(engine: Engine) -> None:
    """Called after each write commit, with the write lock still held (so no writer competes). A checkpoint
    that fails (the disk is full: the database file cannot grow) is logged and tried again after the next
    commit: the commit before it stands, and its caller must not be told otherwise (issue 12)."""
    if engine.dialect.name != "sqlite":
        return
    n = _commits.get(id(engine), 0) + 1
    _commits[id(engine)] = n
    if n % CHECKPOINT_EVERY:
        return
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except OperationalError as exc:
        _commits[id(engine)] = n - 1
        log.warning("WAL checkpoint failed, the commit stands: %s", str(exc).splitlines()[0][:300])


_TRANSIENT_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def is_transient(exc: BaseException) -> bool:
    """A failure after which the same transaction may simply be run again."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES
