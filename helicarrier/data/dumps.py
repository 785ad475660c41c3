"""Whole-database copies: SQLite through its online backup API (a consistent copy while the app writes),
PostgreSQL through ``pg_dump -Fc`` / ``pg_restore`` of the database's schema."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL, make_url

from helicarrier.data.engine import _create_private


class DumpError(Exception):
    """A backup or restore step failed; the message says which and why."""


def sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise DumpError(f"{url} is not a SQLite file")
    return Path(path)


def sqlite_online_backup(source: Path, out: Path) -> None:
    """Copy the live SQLite file page by page; writers may go on (the copy restarts its pass when they
    write, and the result is one consistent state)."""
    _create_private(out)  # a backup holds what the database holds: token hashes, prompts
    src = sqlite3.connect(source)
    dst = sqlite3.connect(out)
    try:
        with dst:
            src.backup(dst)
    except sqlite3.DatabaseError as exc:
        raise DumpError(f"cannot copy {source}: {exc}") from None
    finally:
        dst.close()
        src.close()


def check_sqlite_file(path: Path) -> None:
    """``path`` is a whole SQLite database (``PRAGMA quick_check``): a file that is no database, or a damaged
    one, is refused before a restore creates anything. Opened immutable: a backup is one finished file, and
    a plain read-only open of a WAL-mode file would leave -wal and -shm files beside it."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DumpError(f"{path} is not a readable SQLite database: {exc}") from None
    if result != "ok":
        raise DumpError(f"{path} is a damaged SQLite database: {result}")


def pg_binary(name: str) -> str:
    """``pg_dump``/``pg_restore``: on PATH, or the newest under /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise DumpError(
            f"{name} not found on PATH nor under /usr/lib/postgresql/*/bin (install postgresql-client)"
        )
    return candidates[-1]


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    # --no-password: a missing password is an error at once, never a prompt that waits for an hour.
    cmd = [cmd[0], "--no-password", *cmd[1:]]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        raise DumpError(f"{Path(cmd[0]).name} did not finish within an hour") from None
    if proc.returncode != 0:
        raise DumpError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")


def pg_dump(url: str, schema: str, snapshot: str, out: Path) -> None:
    """Dump ``schema`` in the custom format, as of ``snapshot`` (see ``parity.pg_exported_snapshot``)."""
    u = make_url(url)
    args, env = _libpq(u)
    cmd = [pg_binary("pg_dump"), *args, "-Fc", "--no-owner", f"--snapshot={snapshot}", "-n", schema]
    _create_private(out)
    _run([*cmd, "-f", str(out), u.database or "postgres"], env)


def pg_restore(url: str, dump: Path) -> None:
    u = make_url(url)
    args, env = _libpq(u)
    _run(
        [
            pg_binary("pg_restore"),
            *args,
            "--no-owner",
            "--exit-on-error",
            "-d",
            u.database or "postgres",
            str(dump),
        ],
        env,
    )


def search_schema(conn: Connection) -> str:
    """The schema a URL's connections create tables in: the first of its search path ("$user" skipped),
    whether or not it exists yet."""
    path = conn.execute(text("SHOW search_path")).scalar_one()
    for part in (p.strip().strip('"') for p in path.split(",")):
        if part and part != "$user":
            return part
    return "public"


def pg_schema_tables(engine: Engine, schema: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s ORDER BY 1"),
            {"s": schema},
        )
        return [r[0] for r in rows]


def pg_drop_empty_schema(engine: Engine, schema: str) -> None:
    """Drop ``schema`` when it exists and holds no tables (the dump creates it), never one with tables."""
    if pg_schema_tables(engine, schema):
        raise DumpError(f"schema {schema} holds tables")
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}"'))
