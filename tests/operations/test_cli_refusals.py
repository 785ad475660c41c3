"""backup, restore, copy-db and parity-check pointed at the wrong thing (issue 14): a URL that is no database
URL, a database Helicarrier does not run on, a server nobody answers on, a SQLite source that does not exist,
a missing, truncated, not-JSON or foreign manifest, a backup its manifest does not describe, a file that is
no database. Each is one line on stderr naming the problem, a non-zero exit, no traceback, no password, and
no file created (a mistyped SQLite source used to be created empty and copied or compared as if real).

Every other command that opens HELICARRIER_DATABASE_URL likewise, through the one handler in
``helicarrier.cli.main``: a URL that is none, MySQL, a server that does not answer, a file that is no
database, a database that fails mid-command; and a read-only command on a missing SQLite file refuses
instead of creating it (and its folder)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from helicarrier.cli import main
from helicarrier.data.engine import make_engine
from helicarrier.data.schema import ensure_schema
from helicarrier.operations.backup import backup, manifest_path
from tests.test_cli import run_cli

PG_DOWN = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/x"  # nothing listens on port 1
PG_DOWN_SHOWN = "postgresql+psycopg://nobody:***@127.0.0.1:1/x"
NOT_A_URL = "is not a database URL"
MYSQL = "'mysql' databases are not supported"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A migrated SQLite database and a backup of it, made once; no case changes them."""
    where = tmp_path_factory.mktemp("good")
    engine = make_engine(f"sqlite:///{where / 'good.db'}")
    ensure_schema(engine)
    engine.dispose()
    backup(f"sqlite:///{where / 'good.db'}", where / "good.bak")
    return where


# -- what a case puts in the work folder before the command runs ----------------------------------------


def _nothing(work: Path, good: Path) -> None:
    pass


def _junk(work: Path, good: Path) -> None:
    (work / "junk.db").write_text("these are notes, not a database\n")


def _tokens_table_dropped(work: Path, good: Path) -> None:
    """A database at head whose api_tokens table is gone: the schema check passes, the command's query
    fails (the database failing mid-command)."""
    shutil.copy(good / "good.db", work / "broken.db")
    engine = make_engine(f"sqlite:///{work / 'broken.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE api_tokens"))
    engine.dispose()


def _backup_with_manifest(text: str | None) -> Callable[[Path, Path], None]:
    def setup(work: Path, good: Path) -> None:
        shutil.copy(good / "good.bak", work / "b.bak")
        if text is not None:
            manifest_path(work / "b.bak").write_text(text)

    return setup


def _good_manifest(good: Path) -> dict:
    return orjson.loads(manifest_path(good / "good.bak").read_bytes())


def _manifest_changed(**changes) -> Callable[[Path, Path], None]:
    def setup(work: Path, good: Path) -> None:
        shutil.copy(good / "good.bak", work / "b.bak")
        manifest_path(work / "b.bak").write_bytes(orjson.dumps({**_good_manifest(good), **changes}))

    return setup


def _backup_changed(work: Path, good: Path) -> None:
    shutil.copy(good / "good.bak", work / "b.bak")
    shutil.copy(manifest_path(good / "good.bak"), manifest_path(work / "b.bak"))
    with (work / "b.bak").open("ab") as f:
        f.write(b"\0")


def _described_backup(content: Callable[[Path], bytes], **changes) -> Callable[[Path, Path], None]:
    """A backup file whose manifest matches it (SHA-256 and all), so only its content can be at fault."""

    def setup(work: Path, good: Path) -> None:
        data = content(good)
        (work / "b.bak").write_bytes(data)
        doc = {**_good_manifest(good), "file_sha256": hashlib.sha256(data).hexdigest(), **changes}
        manifest_path(work / "b.bak").write_bytes(orjson.dumps(doc))

    return setup


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    says: str  # what the one line must contain; {work} is the work folder
    setup: Callable[[Path, Path], None] = _nothing
    env_database: str = "sqlite:///{good}/good.db"  # HELICARRIER_DATABASE_URL


GOOD = "sqlite:///{good}/good.db"
NEW = "sqlite:///{work}/new.db"
BAK = "{work}/b.bak"

CASES = {
    # copy-db
    "copy-db: mistyped SQLite source": Case(
        ("copy-db", "--from", "sqlite:///{work}/typo.db", "--to", NEW),
        "--from: no SQLite database at {work}/typo.db",
    ),
    "copy-db: --to not a URL": Case(
        ("copy-db", "--from", GOOD, "--to", "nonsense"), f"--to: 'nonsense' {NOT_A_URL}"
    ),
    "copy-db: --from not a URL": Case(
        ("copy-db", "--from", "nonsense", "--to", NEW), f"--from: 'nonsense' {NOT_A_URL}"
    ),
    "copy-db: --to MySQL": Case(("copy-db", "--from", GOOD, "--to", "mysql://u@h/x"), f"--to: {MYSQL}"),
    "copy-db: --to unreachable": Case(
        ("copy-db", "--from", GOOD, "--to", PG_DOWN), f"cannot reach the target database at {PG_DOWN_SHOWN}"
    ),
    "copy-db: --from unreachable": Case(
        ("copy-db", "--from", PG_DOWN, "--to", NEW), f"cannot reach the source database at {PG_DOWN_SHOWN}"
    ),
    "copy-db: --from not a database": Case(
        ("copy-db", "--from", "sqlite:///{work}/junk.db", "--to", NEW), "file is not a database", _junk
    ),
    # parity-check
    "parity-check: missing --from": Case(
        ("parity-check", "--from", "sqlite:///{work}/missing.db", "--to", GOOD),
        "--from: no SQLite database at {work}/missing.db",
    ),
    "parity-check: missing --to": Case(
        ("parity-check", "--from", GOOD, "--to", "sqlite:///{work}/missing.db"),
        "--to: no SQLite database at {work}/missing.db",
    ),
    "parity-check: not a URL": Case(("parity-check", "--from", "nonsense", "--to", GOOD), NOT_A_URL),
    "parity-check: MySQL": Case(("parity-check", "--from", "mysql://u@h/x", "--to", GOOD), MYSQL),
    "parity-check: unreachable": Case(
        ("parity-check", "--from", PG_DOWN, "--to", GOOD), f"cannot read {PG_DOWN_SHOWN}: connection failed"
    ),
    # backup
    "backup: missing SQLite file": Case(
        ("backup", "--out", BAK, "--database-url", "sqlite:///{work}/missing.db"),
        "--database-url: no SQLite database at {work}/missing.db",
    ),
    "backup: missing SQLite file from the environment": Case(
        ("backup", "--out", BAK),
        "HELICARRIER_DATABASE_URL: no SQLite database at {work}/missing.db",
        env_database="sqlite:///{work}/missing.db",
    ),
    "backup: not a URL": Case(("backup", "--out", BAK, "--database-url", "nonsense"), NOT_A_URL),
    "backup: MySQL": Case(("backup", "--out", BAK, "--database-url", "mysql://u:hunter2@h/x"), MYSQL),
    "backup: unreachable": Case(
        ("backup", "--out", BAK, "--database-url", PG_DOWN),
        f"cannot reach the source database at {PG_DOWN_SHOWN}",
    ),
    "backup: not a database": Case(
        ("backup", "--out", BAK, "--database-url", "sqlite:///{work}/junk.db"),
        "file is not a database",
        _junk,
    ),
    # restore
    "restore: --to not a URL": Case(("restore", "--from", "{good}/good.bak", "--to", "nonsense"), NOT_A_URL),
    "restore: --to MySQL": Case(("restore", "--from", "{good}/good.bak", "--to", "mysql://u@h/x"), MYSQL),
    "restore: missing backup": Case(
        ("restore", "--from", "{work}/gone.bak", "--to", NEW), "{work}/gone.bak does not exist"
    ),
    "restore: no manifest": Case(
        ("restore", "--from", BAK, "--to", NEW), "no manifest beside", _backup_with_manifest(None)
    ),
    "restore: truncated manifest": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "is not JSON",
        _backup_with_manifest('{"format": 1, "backend": "sq'),
    ),
    "restore: manifest not JSON": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "is not JSON",
        _backup_with_manifest("backed up on Tuesday\n"),
    ),
    "restore: manifest a JSON list": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "not a backup manifest (a JSON list",
        _backup_with_manifest("[1, 2]"),
    ),
    "restore: manifest without its keys": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "no file_sha256",
        _backup_with_manifest('{"backend": "sqlite"}'),
    ),
    "restore: manifest with damaged tables": Case(
        ("restore", "--from", BAK, "--to", NEW), "is damaged", _manifest_changed(tables=[1, 2])
    ),
    "restore: manifest of an unknown backend": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "unknown backend 'oracle'",
        _manifest_changed(backend="oracle"),
    ),
    "restore: backup not the one its manifest describes": Case(
        ("restore", "--from", BAK, "--to", NEW), "SHA-256 differs", _backup_changed
    ),
    "restore: backup not a database, manifest matching": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "not a readable SQLite database",
        _described_backup(lambda good: b"these are notes, not a database\n" * 100),
    ),
    "restore: truncated backup, manifest matching": Case(
        ("restore", "--from", BAK, "--to", NEW),
        "not a readable SQLite database",
        _described_backup(lambda good: (good / "good.bak").read_bytes()[:20_000]),
    ),
    "restore: PostgreSQL backup into an unreachable server": Case(
        ("restore", "--from", BAK, "--to", PG_DOWN),
        f"cannot reach the target database at {PG_DOWN_SHOWN}",
        _described_backup(lambda good: b"PGDMP", backend="postgresql", schema="hc"),
    ),
}

# The commands that open HELICARRIER_DATABASE_URL, each pointed at one bad database: through main()'s one
# handler, so every kind of failure is tried on a few commands and every command on at least one failure.
ENV_NOT_A_URL = "not a url"
ENV_MYSQL = "mysql://u:hunter2@h/x"
ENV_MISSING = "sqlite:///{work}/sub/missing.db"  # a folder that does not exist either: nothing may make it
MISSING_SAYS = "no SQLite database at {work}/sub/missing.db (HELICARRIER_DATABASE_URL); nothing was created"
UNREACHABLE = f"cannot reach the database at {PG_DOWN_SHOWN}: connection failed"
ENV_NOT_A_URL_SAYS = f"HELICARRIER_DATABASE_URL: 'not a url' {NOT_A_URL}"

ENV_CASES = {
    "token list: not a URL": Case(("token", "list"), ENV_NOT_A_URL_SAYS, env_database=ENV_NOT_A_URL),
    "token list: MySQL": Case(
        ("token", "list"), f"HELICARRIER_DATABASE_URL: {MYSQL}", env_database=ENV_MYSQL
    ),
    "token list: unreachable": Case(("token", "list"), UNREACHABLE, env_database=PG_DOWN),
    "token list: missing SQLite file": Case(("token", "list"), MISSING_SAYS, env_database=ENV_MISSING),
    "token list: not a database": Case(
        ("token", "list"),
        "the database at sqlite:///{work}/junk.db failed: file is not a database",
        _junk,
        env_database="sqlite:///{work}/junk.db",
    ),
    "token list: the database fails mid-command": Case(
        ("token", "list"),
        "the database at sqlite:///{work}/broken.db failed: no such table: api_tokens",
        _tokens_table_dropped,
        env_database="sqlite:///{work}/broken.db",
    ),
    "token create: MySQL": Case(
        ("token", "create", "--name", "n", "--scopes", "ingest"), MYSQL, env_database=ENV_MYSQL
    ),
    "token create: missing SQLite file": Case(
        ("token", "create", "--name", "n", "--scopes", "ingest"), MISSING_SAYS, env_database=ENV_MISSING
    ),
    "token revoke: unreachable": Case(("token", "revoke", "n"), UNREACHABLE, env_database=PG_DOWN),
    "agent owner: not a URL": Case(("agent", "owner", "a"), ENV_NOT_A_URL_SAYS, env_database=ENV_NOT_A_URL),
    "agent owner: missing SQLite file": Case(("agent", "owner", "a"), MISSING_SAYS, env_database=ENV_MISSING),
    "pricing list: MySQL": Case(("pricing", "list"), MYSQL, env_database=ENV_MYSQL),
    "pricing add-version: missing SQLite file": Case(
        ("pricing", "add-version", "acme"), MISSING_SAYS, env_database=ENV_MISSING
    ),
    "pricing set-price: unreachable": Case(
        ("pricing", "set-price", "v", "--provider", "p", "--model", "m", "--discount-pct", "5"),
        UNREACHABLE,
        env_database=PG_DOWN,
    ),
    "reprice: not a URL": Case(
        ("reprice", "--pricing-version", "v"), ENV_NOT_A_URL_SAYS, env_database=ENV_NOT_A_URL
    ),
    "maintenance status: missing SQLite file": Case(
        ("maintenance", "status"), MISSING_SAYS, env_database=ENV_MISSING
    ),
    "maintenance on: unreachable": Case(("maintenance", "on"), UNREACHABLE, env_database=PG_DOWN),
    "migrate current: missing SQLite file": Case(
        ("migrate", "current"), MISSING_SAYS, env_database=ENV_MISSING
    ),
    "migrate current: not a URL": Case(
        ("migrate", "current"), ENV_NOT_A_URL_SAYS, env_database=ENV_NOT_A_URL
    ),
    "migrate current: unreachable": Case(
        ("migrate", "current"),
        f"the database at {PG_DOWN_SHOWN} failed: connection failed",
        env_database=PG_DOWN,
    ),
    "migrate upgrade: MySQL": Case(("migrate", "upgrade"), MYSQL, env_database=ENV_MYSQL),
    "migrate upgrade: unreachable": Case(("migrate", "upgrade"), UNREACHABLE, env_database=PG_DOWN),
    "migrate downgrade: missing SQLite file": Case(
        ("migrate", "downgrade", "base"), MISSING_SAYS, env_database=ENV_MISSING
    ),
    "migrate downgrade: not a URL": Case(
        ("migrate", "downgrade", "base"), ENV_NOT_A_URL_SAYS, env_database=ENV_NOT_A_URL
    ),
    "init: not a URL": Case(("init",), ENV_NOT_A_URL_SAYS, env_database=ENV_NOT_A_URL),
    "init: unreachable": Case(("init",), UNREACHABLE, env_database=PG_DOWN),
    "export-csv: missing SQLite file": Case(
        ("export-csv", "--report", "usage", "--from", "2026-01-01", "--to", "2026-01-02", "--out", "-"),
        MISSING_SAYS,
        env_database=ENV_MISSING,
    ),
    "seed-demo: MySQL": Case(("seed-demo",), MYSQL, env_database=ENV_MYSQL),
    "import-json: unreachable": Case(("import-json", "{good}"), UNREACHABLE, env_database=PG_DOWN),
    "import-sessions: not a URL": Case(
        ("import-sessions", "--format", "codex", "{good}"), NOT_A_URL, env_database=ENV_NOT_A_URL
    ),
    "scheduler: MySQL": Case(("scheduler",), MYSQL, env_database=ENV_MYSQL),
    "serve: unreachable": Case(("serve", "--port", "1"), UNREACHABLE, env_database=PG_DOWN),
}
CASES.update(ENV_CASES)


def _check(case: Case, work: Path, good: Path, run: Callable[[list[str], str], tuple[int, str, str]]) -> None:
    def fill(text: str) -> str:
        return text.format(work=work, good=good)

    case.setup(work, good)
    before = sorted(work.iterdir())
    code, out, err = run([fill(a) for a in case.args], fill(case.env_database))

    said = out + err
    assert code != 0, said
    assert "Traceback" not in said
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("helicarrier: "), said
    assert fill(case.says) in lines[0]
    assert "hunter2" not in said
    assert _created(before, sorted(work.iterdir())) == []


def _created(before: list[Path], after: list[Path]) -> list[Path]:
    """Files that were not there before, but for the ones SQLite keeps beside a database that existed (it
    was opened: its journal is no new database)."""
    beside = {Path(f"{p}{end}") for p in before for end in ("-wal", "-shm", "-journal", "-writelock")}
    return [p for p in after if p not in before and p not in beside]


@pytest.fixture
def work(tmp_path) -> Path:
    (tmp_path / "work").mkdir()
    (tmp_path / "data").mkdir()
    return tmp_path / "work"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_bad_database_or_backup_is_one_line_naming_it_and_creates_nothing(
    case: Case, good, work, monkeypatch, capsys
):
    """Every case through the command line's entry point in this process (a Python start per case costs
    seconds on a loaded machine); an exception escaping it fails the test with its traceback."""

    def run(args: list[str], database_url: str) -> tuple[int, str, str]:
        monkeypatch.setenv("HELICARRIER_DATABASE_URL", database_url)
        monkeypatch.setenv("HELICARRIER_DATA_DIR", str(work.parent / "data"))
        code = main(args)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    _check(case, work, good, run)


@pytest.mark.parametrize(
    "name",
    [
        "copy-db: mistyped SQLite source",
        "parity-check: unreachable",
        "backup: missing SQLite file from the environment",
        "restore: truncated manifest",
        "token list: unreachable",
        "migrate current: missing SQLite file",
    ],
)
def test_the_real_command_line_says_the_same_one_line(name, good, work):
    """One case per command as a user runs it: ``python -m helicarrier`` in a process of its own."""

    def run(args: list[str], database_url: str) -> tuple[int, str, str]:
        proc = run_cli(args, database_url, work.parent / "data")
        return proc.returncode, proc.stdout, proc.stderr

    _check(CASES[name], work, good, run)
