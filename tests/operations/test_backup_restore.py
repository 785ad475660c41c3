"""Backup and restore drills on both backends: seed through the API, back up WHILE ingest runs, restore into
a fresh database, and the restored database equals the backup's manifest exactly."""

from __future__ import annotations

import orjson
from sqlalchemy.engine import make_url

from helicarrier.data.engine import make_engine
from helicarrier.data.models import UsageEvent
from helicarrier.data.parity import Fingerprint, fingerprint
from helicarrier.operations.parity import compare
from tests.operations.conftest import IngestStream, seed_through_api
from tests.test_cli import run_cli
from tests.waiting import wait_for


def _fresh_target(backend, db_url, tmp_path, fresh_pg_database, name="restored"):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    schema = make_url(db_url).query["options"].split("=", 1)[1]
    return fresh_pg_database(schema)


def _fingerprint(url: str) -> Fingerprint:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return fingerprint(conn)
    finally:
        engine.dispose()


def test_backup_while_ingesting_restores_to_exactly_the_manifest(
    api, backend, db_url, tmp_path, fresh_pg_database
):
    seed_through_api(api)
    out = tmp_path / "helicarrier.backup"
    with IngestStream(api) as stream:
        wait_for(lambda: stream.accepted >= 2, what="ingest running")
        during = stream.accepted
        made = run_cli(["backup", "--out", str(out), "--database-url", db_url], db_url, tmp_path)
        assert made.returncode == 0, made.stderr
        wait_for(lambda: stream.accepted > during + 1, what="ingest still running after the backup")
    assert stream.errors == []
    assert out.stat().st_mode & 0o777 == 0o600  # it holds what the database holds: token hashes, prompts
    manifest = orjson.loads(out.with_name(out.name + ".manifest.json").read_bytes())
    assert manifest["backend"] == backend and manifest["revision"]
    backed_up = manifest["tables"]["usage_events"]["rows"]
    assert backed_up >= 45 + 2 * during  # the seed and what was stored before the backup began
    assert api.count(UsageEvent) > backed_up  # ingest went on: the live database moved past the backup

    target = _fresh_target(backend, db_url, tmp_path, fresh_pg_database)
    restored = run_cli(["restore", "--from", str(out), "--to", target], db_url, tmp_path)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "parity with the manifest: equal" in restored.stdout
    # Independently of the command's own check: the restored database is the manifest, table by table.
    assert compare(Fingerprint.from_json(manifest), _fingerprint(target)) == []

    again = run_cli(["restore", "--from", str(out), "--to", target], db_url, tmp_path)
    assert again.returncode == 1 and "not empty" in again.stderr


def test_a_restore_that_differs_from_its_manifest_fails_naming_the_table(
    api, backend, db_url, tmp_path, fresh_pg_database
):
    seed_through_api(api, days=1, sessions_per_day=2, usages=2)
    out = tmp_path / "b.backup"
    assert run_cli(["backup", "--out", str(out), "--database-url", db_url], db_url, tmp_path).returncode == 0
    manifest_file = out.with_name(out.name + ".manifest.json")
    manifest = orjson.loads(manifest_file.read_bytes())
    manifest["tables"]["sessions"]["rows"] += 1  # as if a session had been lost on the way
    manifest_file.write_bytes(orjson.dumps(manifest))

    target = _fresh_target(backend, db_url, tmp_path, fresh_pg_database)
    proc = run_cli(["restore", "--from", str(out), "--to", target], db_url, tmp_path)
    assert proc.returncode == 1
    assert "sessions: rows" in proc.stdout and "differences from the manifest" in proc.stderr


def test_restore_refuses_a_damaged_file_or_another_backend(api, backend, db_url, tmp_path):
    out = tmp_path / "c.backup"
    assert run_cli(["backup", "--out", str(out), "--database-url", db_url], db_url, tmp_path).returncode == 0
    other = (
        "sqlite:///" + str(tmp_path / "x.db")
        if backend == "postgresql"
        else db_url.replace("sqlite", "postgresql+psycopg", 1)
    )
    if backend == "postgresql":
        proc = run_cli(["restore", "--from", str(out), "--to", other], db_url, tmp_path)
        assert proc.returncode == 1 and "restores into postgresql, not sqlite" in proc.stderr
    with out.open("ab") as fh:
        fh.write(b"x")
    proc = run_cli(
        ["restore", "--from", str(out), "--to", f"sqlite:///{tmp_path / 'y.db'}"], db_url, tmp_path
    )
    assert proc.returncode == 1 and "SHA-256 differs" in proc.stderr
    assert not (tmp_path / "y.db").exists() or (tmp_path / "y.db").stat().st_size == 0
