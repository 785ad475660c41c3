"""``backup`` and ``restore``: a file plus a manifest beside it (what the backup holds: row counts and
checksums per table, usage per day), and a restore that proves it brought back exactly that."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from helicarrier.data import dumps
from helicarrier.data.engine import SUPPORTED_BACKENDS, make_engine
from helicarrier.data.parity import Fingerprint, fingerprint, pg_exported_snapshot, pg_schema, user_tables
from helicarrier.data.schema import SchemaError, ensure_schema
from helicarrier.operations.databases import checked_url, existing_source, reaching
from helicarrier.operations.parity import Difference, compare


class RestoreRefused(Exception):
    """The restore was not attempted (wrong target, not empty, no manifest); nothing was changed."""


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def backup(url: str, out: Path, option: str = "--database-url") -> dict[str, Any]:
    """Back up the database at ``url`` into ``out`` and write the manifest; returns the manifest. A URL that
    names no database, or no existing one, is refused (``OperationRefused``; ``option`` says where it came
    from) before anything is created; a backup that fails leaves no file behind."""
    existing_source(url, option)
    existed = out.exists()
    try:
        return _backup(url, out)
    except BaseException:
        if not existed:
            out.unlink(missing_ok=True)
        raise


def _backup(url: str, out: Path) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with reaching(url, "source"):
            engine.connect().close()
        if engine.dialect.name == "sqlite":
            dumps.sqlite_online_backup(dumps.sqlite_path(url), out)
            # The manifest describes the copy itself: the live file may have moved on meanwhile.
            copy = make_engine(f"sqlite:///{out}")
            try:
                with copy.connect() as conn:
                    held = fingerprint(conn)
            finally:
                copy.dispose()
            schema = None
        else:
            with pg_exported_snapshot(engine) as (snapshot, conn):
                schema = pg_schema(conn)
                held = fingerprint(conn)  # the same snapshot pg_dump reads
                dumps.pg_dump(url, schema, snapshot, out)
    finally:
        engine.dispose()
    manifest = {
        "format": 1,
        "backend": engine.dialect.name,
        "schema": schema,
        "file": out.name,
        "file_sha256": _file_sha256(out),
        "created_at": datetime.now(UTC).isoformat(),
        **held.to_json(),
    }
    manifest_path(out).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


@dataclass
class Restored:
    manifest: dict[str, Any]
    found: Fingerprint
    differences: list[Difference]


# What restore reads from a manifest; the rest (file name, time) is for people.
_MANIFEST_KEYS = ("backend", "file_sha256", "tables", "usage_days")


def read_manifest(dump: Path) -> dict[str, Any]:
    """The manifest beside ``dump``, checked (it is JSON, has what restore needs, and describes this very
    file) before anything is restored; any fault is a ``RestoreRefused`` naming it."""
    path = manifest_path(dump)
    if not dump.is_file():
        raise RestoreRefused(f"{dump} does not exist" if not dump.exists() else f"{dump} is not a file")
    if not path.exists():
        raise RestoreRefused(f"no manifest beside the backup ({path}); cannot verify a restore without it")
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise RestoreRefused(f"the manifest {path} is not JSON ({exc}): truncated or damaged?") from None
    _check_manifest(manifest, path)
    if _file_sha256(dump) != manifest["file_sha256"]:
        raise RestoreRefused(f"{dump} is not the file its manifest describes (SHA-256 differs): damaged?")
    if manifest["backend"] == "sqlite":
        dumps.check_sqlite_file(dump)
    return manifest


def _check_manifest(manifest: Any, path: Path) -> None:
    if not isinstance(manifest, dict):
        kind = type(manifest).__name__
        raise RestoreRefused(f"the manifest {path} is not a backup manifest (a JSON {kind}, not an object)")
    missing = [key for key in _MANIFEST_KEYS if key not in manifest]
    if missing:
        raise RestoreRefused(f"the manifest {path} is not a backup manifest: no {', '.join(missing)}")
    if manifest["backend"] not in SUPPORTED_BACKENDS:
        raise RestoreRefused(f"the manifest {path} names an unknown backend {manifest['backend']!r}")
    if manifest["backend"] == "postgresql" and not isinstance(manifest.get("schema"), str):
        raise RestoreRefused(f"the manifest {path} is not a backup manifest: no schema")
    try:
        Fingerprint.from_json(manifest)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise RestoreRefused(
            f"the manifest {path} is damaged: its tables or usage days cannot be read ({exc!r})"
        ) from None


def restore(dump: Path, url: str) -> Restored:
    """Restore ``dump`` into the empty database at ``url``, verify its schema, compare with the manifest."""
    backend = checked_url(url, "--to").get_backend_name()
    manifest = read_manifest(dump)
    if backend != manifest["backend"]:  # before the engine, which creates a SQLite file
        raise RestoreRefused(
            f"a {manifest['backend']} backup restores into {manifest['backend']}, "
            f"not {backend} (to move between backends use copy-db)"
        )
    engine = make_engine(url)
    try:
        with reaching(url, "target"):
            if backend == "sqlite":
                _restore_sqlite(dump, url, engine)
            else:
                _restore_pg(dump, url, engine, manifest["schema"])
        try:
            ensure_schema(engine, auto_migrate=False)
        except SchemaError as exc:
            raise RestoreRefused(f"restored, but the schema does not verify: {exc}") from exc
        with engine.connect() as conn:
            found = fingerprint(conn)
    finally:
        engine.dispose()
    return Restored(manifest, found, compare(Fingerprint.from_json(manifest), found))


def _refuse_non_empty(tables: list[str], where: str) -> None:
    if tables:
        shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
        raise RestoreRefused(
            f"{where} is not empty ({len(tables)} tables: {shown}); restore only into an empty one"
        )


def _restore_sqlite(dump: Path, url: str, engine: Engine) -> None:
    target = dumps.sqlite_path(url)
    if target.exists():
        _refuse_non_empty(user_tables(engine), str(target))
    engine.dispose()
    dumps.sqlite_online_backup(dump, target)


def _restore_pg(dump: Path, url: str, engine: Engine, schema: str) -> None:
    with engine.connect() as conn:
        target_schema = dumps.search_schema(conn)
    if target_schema != schema:
        raise RestoreRefused(
            f"the backup holds schema {schema!r} but the target URL's search_path is {target_schema!r}; "
            f"restore into a fresh database with options=-csearch_path={schema}"
        )
    _refuse_non_empty(dumps.pg_schema_tables(engine, schema), f"schema {schema}")
    dumps.pg_drop_empty_schema(engine, schema)  # the dump creates it
    dumps.pg_restore(url, dump)
