"""The disk under the database fills up (issue 12): the batch that does not fit is a 503
``database_unavailable`` with Retry-After, nothing of it is stored, every batch acknowledged before it is
intact, reads go on; once space is freed the client's retry (same body, same Idempotency-Key) is stored
exactly once. A real filesystem is filled: a small tmpfs under the SQLite file, and a PostgreSQL tablespace
on one; without root (no mount), SQLite's ``max_page_count`` makes the same SQLITE_FULL."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from helicarrier.config import load_settings
from helicarrier.data import engine as engine_module
from helicarrier.data.models import LogEvent
from helicarrier.webapp import create_app
from tests.conftest import BACKENDS, IN_CI

EVENTS_PER_BATCH = 50
MESSAGE_CHARS = 2000  # random hex: neither SQLite nor PostgreSQL's TOAST can shrink it
ROOM_LEFT = 600 * 1024  # free space left beside the filler: two or three batches fit, then one does not
MAX_BATCHES = 40  # a disk that never fills fails the test instead of looping


def _batch(n: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "id": f"b{n}-e{i}",
            "type": "log",
            "ts": now,
            "agent_id": "a-1",
            "data": {"message": secrets.token_hex(MESSAGE_CHARS // 2)},
        }
        for i in range(EVENTS_PER_BATCH)
    ]
    return orjson.dumps({"version": "v2", "source": {"name": "host"}, "events": events})


@dataclass
class Drill:
    """The real app on a database that can be filled, and the way to give it room again."""

    client: object
    auth: dict[str, str]
    engine: object
    free: Callable[[], None]

    def ingest(self, body: bytes, key: str):
        headers = {**self.auth, "Content-Type": "application/json", "Idempotency-Key": key}
        return self.client.post("/api/v1/ingest", data=body, headers=headers)

    def stored_event_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(LogEvent.event_id)).scalars())

    def stored_logs(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(LogEvent)).scalar_one()


def _start(database_url: str, data_dir: Path) -> tuple[object, Drill]:
    app = create_app(load_settings(database_url=database_url, data_dir=data_dir, secret_key="k"))
    repo = app.server.config["HELICARRIER"].repo
    token, _ = repo.create_token("host", "ingest,read")
    drill = Drill(app.server.test_client(), {"Authorization": f"Bearer {token}"}, repo.engine, lambda: None)
    return app, drill


def _needs_root() -> None:
    problem = None
    if os.geteuid() != 0:
        problem = "mounting a small tmpfs needs root (the max_page_count case runs without it)"
    elif shutil.which("mount") is None:
        problem = "no mount command"
    if problem:
        if IN_CI:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)


@contextlib.contextmanager
def _small_tmpfs(path: Path, size_kib: int) -> Iterator[Path]:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        # Lazily if something still holds a file there: the mount must never outlive the test.
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(path)], check=True)


def _fill(disk: Path, leave: int) -> Path:
    """A file taking all but ``leave`` bytes of the filesystem; deleting it frees them again."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    size = max(st.f_bavail * st.f_frsize - leave, 0)
    with open(filler, "wb") as f:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            size -= f.write(chunk[: min(size, len(chunk))])
    return filler


def _sqlite_on_tmpfs(tmp_path: Path) -> Iterator[Drill]:
    _needs_root()
    (tmp_path / "disk").mkdir()
    with _small_tmpfs(tmp_path / "disk", 2048) as disk:
        # The database and its -wal, -shm and -writelock files all live on the small disk.
        app, drill = _start(f"sqlite:///{disk / 'hc.db'}", tmp_path)
        try:
            filler = _fill(disk, ROOM_LEFT)
            drill.free = filler.unlink
            yield drill
        finally:
            app.server.config["HELICARRIER"].repo.dispose()


def _sqlite_with_a_page_limit(tmp_path: Path) -> Iterator[Drill]:
    """Without root: SQLite refuses to grow the database past ``max_page_count`` with the same SQLITE_FULL a
    full disk gives. The pragma is per connection, so every new connection of the app's pool gets it."""
    app, drill = _start(f"sqlite:///{tmp_path / 'hc.db'}", tmp_path)
    engine = drill.engine
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        page_size = conn.execute(text("PRAGMA page_size")).scalar_one()
    limit = {"pages": pages + ROOM_LEFT // page_size}

    @event.listens_for(engine, "connect")
    def _limit(dbapi_conn, _record) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {limit['pages']}")

    def free() -> None:
        limit["pages"] = 1_000_000
        engine.dispose()

    engine.dispose()  # connections made before the listener have no limit
    drill.free = free
    try:
        yield drill
    finally:
        app.server.config["HELICARRIER"].repo.dispose()


def _postgresql_tablespace_on_tmpfs(tmp_path: Path, private_postgres) -> Iterator[Drill]:
    """The app's tables in a tablespace on a small tmpfs of a private server (the shared one is never
    filled): inserting past it raises SQLSTATE 53100 disk_full."""
    _needs_root()
    # Not under pytest's folder: the postgres user cannot enter it.
    mountpoint = Path(tempfile.mkdtemp(prefix="hc-disk-"))
    try:
        with _small_tmpfs(mountpoint, 8192) as disk:
            location = disk / "tablespace"
            location.mkdir()
            shutil.chown(location, "postgres", "postgres")
            admin = create_engine(private_postgres.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"CREATE TABLESPACE hc_small LOCATION '{location}'"))
            app = None
            try:
                # Every table and index the migration makes goes to the small tablespace.
                url = make_url(private_postgres.url).update_query_dict(
                    {"options": "-cdefault_tablespace=hc_small"}
                )
                app, drill = _start(url.render_as_string(hide_password=False), tmp_path)
                filler = _fill(disk, ROOM_LEFT)
                drill.free = filler.unlink
                yield drill
            finally:
                if app is not None:
                    app.server.config["HELICARRIER"].repo.dispose()
                with admin.connect() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("DROP TABLESPACE hc_small"))
                admin.dispose()
    finally:
        mountpoint.rmdir()


_SQLITE_CASES = ("sqlite-tmpfs", "sqlite-tmpfs-checkpoint-every-commit", "sqlite-page-limit")
_CASES = [c for c in _SQLITE_CASES if "sqlite" in BACKENDS]
_CASES += ["postgresql-tablespace"] if "postgresql" in BACKENDS else []


@pytest.fixture(params=_CASES)
def drill(request, tmp_path, monkeypatch) -> Iterator[Drill]:
    if request.param == "sqlite-tmpfs":
        yield from _sqlite_on_tmpfs(tmp_path)
    elif request.param == "sqlite-tmpfs-checkpoint-every-commit":
        # The WAL is copied into the database file every 100 commits, after the commit: here after each,
        # so the disk fills while a checkpoint runs (a committed batch must still be a 200, not a 503).
        monkeypatch.setattr(engine_module, "CHECKPOINT_EVERY", 1)
        yield from _sqlite_on_tmpfs(tmp_path)
    elif request.param == "sqlite-page-limit":
        yield from _sqlite_with_a_page_limit(tmp_path)
    else:
        yield from _postgresql_tablespace_on_tmpfs(tmp_path, request.getfixturevalue("private_postgres"))


def test_the_batch_that_does_not_fit_is_a_503_and_its_retry_after_space_is_freed_is_stored_once(drill):
    acknowledged = []
    for n in range(MAX_BATCHES):
        body = _batch(n)
        resp = drill.ingest(body, key=f"batch-{n}")
        if resp.status_code != 200:
            break
        assert resp.get_json()["accepted"] == EVENTS_PER_BATCH
        acknowledged.append(n)
    else:
        pytest.fail(f"the disk never filled in {MAX_BATCHES} batches")
    assert acknowledged, "the first batch did not fit: the drill shows nothing about batches before it"

    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == "5"
    error = resp.get_json()["error"]
    assert error["code"] == "database_unavailable" and "out of space; nothing was stored" in error["message"]
    expected = sorted(f"b{b}-e{i}" for b in acknowledged for i in range(EVENTS_PER_BATCH))
    assert drill.stored_event_ids() == expected  # nothing of the refused batch, all of the earlier ones

    # Reads need no room.
    assert drill.client.get("/healthz").status_code == 200
    assert drill.client.get("/api/v1/sessions", headers=drill.auth).status_code == 200

    drill.free()
    retry = drill.ingest(body, key=f"batch-{n}")
    assert retry.status_code == 200, retry.get_data(as_text=True)
    assert retry.get_json()["accepted"] == EVENTS_PER_BATCH
    again = drill.ingest(body, key=f"batch-{n}")  # the client did not see the answer and sends it again
    assert again.status_code == 200 and again.get_json() == retry.get_json()
    expected += [f"b{n}-e{i}" for i in range(EVENTS_PER_BATCH)]
    assert drill.stored_event_ids() == sorted(expected)
