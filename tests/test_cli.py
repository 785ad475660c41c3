"""The command line, run as a user runs it: a subprocess on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args, db_url, tmp_path, stdin=None):
    env = {**os.environ, "HELICARRIER_DATABASE_URL": db_url, "HELICARRIER_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "helicarrier", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_token_create_prints_token_alone_on_last_line(db_url, tmp_path, repo):
    proc = run_cli(["token", "create", "--name", "ci", "--scopes", "ingest,read"], db_url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip().splitlines()[-1]
    assert token.startswith("hc_") and " " not in token
    assert repo.authenticate_token(token).scopes == ("ingest", "read")
    listed = run_cli(["token", "list"], db_url, tmp_path)
    assert "ci" in listed.stdout and token not in listed.stdout
    assert run_cli(["token", "revoke", "ci"], db_url, tmp_path).returncode == 0
    assert repo.authenticate_token(token) is None


def test_token_create_with_unknown_scope_fails_with_message(db_url, tmp_path):
    proc = run_cli(["token", "create", "--name", "x", "--scopes", "root"], db_url, tmp_path)
    assert proc.returncode == 1
    assert "unknown scope root" in proc.stderr


def test_user_create_from_stdin(db_url, tmp_path, repo):
    proc = run_cli(
        ["user", "create", "olga", "--role", "operator", "--password-stdin"],
        db_url,
        tmp_path,
        stdin="s3cret-pass\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert repo.check_login("olga", "s3cret-pass").role == "operator"


def test_init_creates_admin_once(db_url, tmp_path, repo):
    first = run_cli(["init"], db_url, tmp_path)
    assert first.returncode == 0, first.stderr
    password = first.stdout.split("shown only this once):")[1].split()[0]
    assert repo.check_login("admin", password).role == "admin"
    second = run_cli(["init"], db_url, tmp_path)
    assert "admin" not in second.stdout


def test_every_command_has_help(db_url, tmp_path):
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["migrate", "upgrade", "--help"],
        ["token", "create", "--help"],
        ["user", "create", "--help"],
        ["init", "--help"],
    ):
        proc = run_cli(args, db_url, tmp_path)
        assert proc.returncode == 0 and "Usage:" in proc.stdout, args


def test_pricing_version_override_and_reprice(db_url, tmp_path, repo):
    assert (
        run_cli(["pricing", "add-version", "acme"], db_url, tmp_path).stdout.strip()
        == "genai-prices-0.2.3+acme"
    )
    bad = run_cli(
        [
            "pricing",
            "set-price",
            "genai-prices-0.2.3+acme",
            "--provider",
            "openai",
            "--model",
            "x",
            "--input-per-mtok",
            "1.5",
        ],
        db_url,
        tmp_path,
    )
    assert bad.returncode == 1 and "output_usd_per_mtok" in bad.stderr
    ok = run_cli(
        [
            "pricing",
            "set-price",
            "genai-prices-0.2.3+acme",
            "--provider",
            "openai",
            "--model",
            "x",
            "--input-per-mtok",
            "1.5",
            "--output-per-mtok",
            "6",
        ],
        db_url,
        tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    listed = run_cli(["pricing", "list"], db_url, tmp_path).stdout
    assert (
        "* genai-prices-0.2.3 " in listed and "genai-prices-0.2.3+acme" in listed and "1 overrides" in listed
    )
    unknown = run_cli(["reprice", "--pricing-version", "nope"], db_url, tmp_path)
    assert unknown.returncode == 1 and "unknown pricing version" in unknown.stderr
    done = run_cli(["reprice", "--pricing-version", "genai-prices-0.2.3+acme"], db_url, tmp_path)
    assert done.returncode == 0 and "recorded costs unchanged" in done.stdout


def test_a_token_limited_to_agents_and_an_agents_owner_changed_from_the_command_line(db_url, tmp_path, repo):
    proc = run_cli(
        ["token", "create", "--name", "builds", "--scopes", "ingest", "--agents", "build-*"], db_url, tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert repo.token_named("builds").agents == ("build-*",)
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from helicarrier.data.models import Agent

    with repo.engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(insert(Agent).values(id="build-1", name="b", status="idle", updated_at=now))
    assert "nobody" in run_cli(["agent", "owner", "build-1"], db_url, tmp_path).stdout
    assert run_cli(["agent", "owner", "build-1", "--token", "builds"], db_url, tmp_path).returncode == 0
    assert run_cli(["agent", "owner", "build-1"], db_url, tmp_path).stdout.strip() == "builds"
    missing = run_cli(["agent", "owner", "build-1", "--token", "nope"], db_url, tmp_path)
    assert missing.returncode == 1 and "no live token named 'nope'" in missing.stderr
    assert [e for e in repo.audit_entries(action="agent.owner")["actor"]] == ["cli"]


def _runbook_commands() -> set[tuple[str, ...]]:
    """The subcommand path of every `python -m helicarrier ...` in docs/RUNBOOK.md (arguments dropped)."""
    import re

    from helicarrier.cli import cli

    text = (ROOT / "docs" / "RUNBOOK.md").read_text()
    found = set()
    for match in re.finditer(r"python -m helicarrier((?: [a-z][a-z-]*)+)", text):
        group, path = cli, []
        for word in match.group(1).split():
            commands = getattr(group, "commands", None)
            if commands is None:
                break  # the rest are the command's arguments (`maintenance on`)
            assert word in commands, (
                f"docs/RUNBOOK.md names `python -m helicarrier {' '.join([*path, word])}`"
            )
            path.append(word)
            group = commands[word]
        found.add(tuple(path))
    return found


def test_every_runbook_command_is_a_real_subcommand():
    commands = _runbook_commands()
    assert {("backup",), ("restore",), ("maintenance",), ("copy-db",), ("parity-check",)} <= commands
    for path in sorted(commands):
        proc = subprocess.run(
            [sys.executable, "-m", "helicarrier", *path, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0 and "Usage:" in proc.stdout, path
