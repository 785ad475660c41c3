"""A PostgreSQL server of the test's own, on a free port, that a test may stop and start: the shared one
other tests (and other developers' runs) use must never go away."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self, bindir: Path, datadir: Path, port: int):
        self.bindir, self.datadir, self.port = bindir, datadir, port

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", opts, "-l", str(self.datadir / "log"), "-w", "start")

    def stop(self) -> None:
        """As a crash or a network cut looks to the app: gone at once, connections and all."""
        self._pg_ctl("-m", "immediate", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _bin()
    problem = None
    if bindir is None:
        problem = "no PostgreSQL server binaries under /usr/lib/postgresql"
    elif os.geteuid() != 0 or shutil.which("runuser") is None:
        problem = "a private PostgreSQL needs root (to run initdb as the postgres user)"
    if problem:
        if IN_CI:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    datadir = Path(tempfile.mkdtemp(prefix="hc-pg-"))
    shutil.chown(datadir, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pg = PrivatePostgres(bindir, datadir, free_port())
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by the test
            pg.stop()
        shutil.rmtree(datadir, ignore_errors=True)
