"""``python -m helicarrier import-sessions``, run as a user runs it, on both backends: Claude Code and Codex
session logs become sessions and priced usage with each call counted once (Claude Code's repeated lines of
one message kept with the largest totals, its sidechain replays and synthetic entries dropped; Codex's
per-turn usage, never its cumulative totals), a second run imports nothing, a grown file only its new calls,
and every row says it was imported and from which file."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, select

from helicarrier.data.models import Session, UsageEvent

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ROOT / "fixtures" / "providers"
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def run(db_url, tmp_path, *args):
    env = {**os.environ, "HELICARRIER_DATABASE_URL": db_url, "HELICARRIER_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "helicarrier", "import-sessions", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def sums(repo, session_id):
    cols = [func.sum(getattr(UsageEvent, c)) for c in (*TOKENS, "reasoning_tokens")]
    with repo.engine.connect() as conn:
        row = conn.execute(select(func.count(), *cols).where(UsageEvent.session_id == session_id)).one()
    return row[0], dict(zip((*TOKENS, "reasoning_tokens"), row[1:], strict=True))


def expected(name):
    return json.loads((PROVIDERS / f"{name}.json").read_text())["expected"]["session_totals"]


def test_claude_code_logs_import_once_each_call_counted_once_with_provenance(db_url, repo, tmp_path):
    projects = tmp_path / "projects" / "-home-dev-proj"
    projects.mkdir(parents=True)
    log = projects / "2ff46cd5.jsonl"
    shutil.copy(PROVIDERS / "claude_code__session.jsonl", log)
    with log.open("a") as f:
        f.write("{not json\n")
    summary = run(db_url, tmp_path, "--format", "claude-code", str(tmp_path / "projects"))
    assert summary == (
        "files: 1, sessions: 1, events: 4 imported, 0 already there; skipped: 1 lines that are not JSON"
    )
    session_id = "2ff46cd5-f4e7-4724-bb20-579dae7956ea"
    calls, totals = sums(repo, session_id)
    assert calls == 2  # 3 lines of msg_01A, msg_01B and its sidechain replay, a synthetic entry
    want = expected("claude_code__session")
    assert {k: totals[k] for k in TOKENS} == {k: want[k] for k in TOKENS}
    with repo.engine.connect() as conn:
        session = conn.execute(select(Session).where(Session.id == session_id)).one()
        raws = conn.execute(select(UsageEvent.raw, UsageEvent.cost_nanos)).all()
    assert session.agent_id == "claude-code-proj" and session.status == "succeeded"
    assert session.labels["provenance"] == "import" and session.labels["file"] == str(log)
    assert all(r.raw["import"] == {"provenance": "import", "file": str(log)} for r in raws)
    assert all(r.cost_nanos > 0 for r in raws)

    again = run(db_url, tmp_path, "--format", "claude-code", str(log))
    assert again.startswith("files: 1, sessions: 1, events: 0 imported, 4 already there")
    assert sums(repo, session_id)[0] == 2

    # The session goes on: only the new call is imported.
    line = json.loads((PROVIDERS / "claude_code__session.jsonl").read_text().splitlines()[6])
    line["message"]["id"], line["requestId"], line["uuid"] = "msg_01C", "req_011D", "a-9"
    with log.open("a") as f:
        f.write(json.dumps(line) + "\n")
    grown = run(db_url, tmp_path, "--format", "claude-code", str(log))
    assert "events: 1 imported, 4 already there" in grown
    assert sums(repo, session_id)[0] == 3


def test_codex_logs_count_each_turn_once_from_last_or_cumulative_usage(db_url, repo, tmp_path):
    lines = [json.loads(x) for x in (PROVIDERS / "codex_cli__session.jsonl").read_text().splitlines()]
    # A later turn that carries only the cumulative totals, emitted twice: one turn of the difference.
    cumulative = {
        "input_tokens": 4500,
        "cached_input_tokens": 1750,
        "output_tokens": 525,
        "reasoning_output_tokens": 300,
        "total_tokens": 5025,
    }
    turn = {
        "timestamp": "2026-05-13T09:05:00.000Z",
        "type": "event_msg",
        "payload": {"type": "token_count", "info": {"total_token_usage": cumulative}},
    }
    log = tmp_path / "rollout-2026-05-13.jsonl"
    log.write_text("".join(json.dumps(x) + "\n" for x in [*lines, turn, turn]))
    summary = run(db_url, tmp_path, "--format", "codex", str(log))
    assert summary.startswith("files: 1, sessions: 1, events: 5 imported")
    calls, totals = sums(repo, "0199-fixture")
    want = expected("codex_cli__session")
    assert calls == 3
    assert totals == {
        "input_tokens": want["input_tokens"] + 1000,
        "output_tokens": want["output_tokens"] + 100,
        "cache_read_tokens": want["cache_read_tokens"] + 1000,
        "cache_write_tokens": 0,
        "reasoning_tokens": want["reasoning_tokens"] + 25,
    }
    assert run(db_url, tmp_path, "--format", "codex", str(log)).startswith(
        "files: 1, sessions: 1, events: 0 imported, 5 already there"
    )


def test_since_skips_what_is_older(db_url, repo, tmp_path):
    log = tmp_path / "s.jsonl"
    shutil.copy(PROVIDERS / "claude_code__session.jsonl", log)
    os.utime(log, (1_700_000_000, 1_700_000_000))  # 2023
    summary = run(db_url, tmp_path, "--format", "claude-code", "--since", "2026-01-01", str(log))
    assert summary.endswith("skipped: 1 files not changed since --since")
    os.utime(log)
    summary = run(db_url, tmp_path, "--format", "claude-code", "--since", "2026-03-01T22:40:00", str(log))
    # The session was active after --since (its start and end are imported), its two calls were not.
    assert "events: 2 imported" in summary and summary.endswith("skipped: 2 calls before --since")
    assert sums(repo, "2ff46cd5-f4e7-4724-bb20-579dae7956ea")[0] == 0


def test_watch_imports_what_is_written_to_a_followed_folder(db_url, repo, tmp_path):
    folder = tmp_path / "projects"
    folder.mkdir()
    log = folder / "s.jsonl"
    shutil.copy(PROVIDERS / "claude_code__session.jsonl", log)
    env = {**os.environ, "HELICARRIER_DATABASE_URL": db_url, "HELICARRIER_DATA_DIR": str(tmp_path)}
    args = ["import-sessions", "--format", "claude-code", "--watch", "--interval", "0.2", str(folder)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "helicarrier", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()

    def next_line() -> str:
        return lines.get(timeout=60).strip()  # waits for the watcher to say it, never forever

    try:
        assert next_line().startswith("files: 1, sessions: 1, events: 4 imported")
        line = json.loads((PROVIDERS / "claude_code__session.jsonl").read_text().splitlines()[6])
        line["message"]["id"], line["requestId"] = "msg_live", "req_live"
        with log.open("a") as f:
            f.write(json.dumps(line) + "\n")
        assert next_line() == f"{log}: 1 events imported"
        assert sums(repo, "2ff46cd5-f4e7-4724-bb20-579dae7956ea")[0] == 3
        other = folder / "new.jsonl"  # a session that starts while watched
        other.write_text((PROVIDERS / "claude_code__session.jsonl").read_text().replace("2ff46cd5", "3aa0"))
        assert next_line() == f"{other}: 4 events imported"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert next_line().startswith("files: 2, sessions: 2, events: 9 imported")
