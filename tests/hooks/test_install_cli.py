"""``python -m helicarrier hooks install/uninstall --claude-code``, run as a user runs it, on a temp settings
file: every event gets Helicarrier's http hook, other hooks and settings are kept, a second install changes
nothing, uninstall removes only Helicarrier's — and the installed hook, as written, is answered by the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from helicarrier.hooks.claude_code import EVENTS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "claude_code_hooks"
THEIRS = {"type": "command", "command": "npx prettier --write ."}
OTHERS = {
    "model": "opus",
    "hooks": {
        "PostToolUse": [{"matcher": "Edit|Write", "hooks": [THEIRS]}],
        "PreCompact": [{"hooks": [{"type": "command", "command": "echo compacting"}]}],
    },
}


def run(*args: str, tmp_path: Path):
    env = {**os.environ, "HELICARRIER_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    env.pop("HELICARRIER_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "helicarrier", "hooks", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ours(doc: dict) -> list[tuple[str, dict]]:
    return [
        (event, h)
        for event, groups in doc.get("hooks", {}).items()
        for g in groups
        for h in g["hooks"]
        if h.get("type") == "http"
    ]


def test_install_merges_is_idempotent_and_uninstall_removes_only_ours(tmp_path):
    settings = tmp_path / "project" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(OTHERS))
    args = (
        "--claude-code",
        "--settings",
        str(settings),
        "--url",
        "http://hc.example:8050",
        "--agent",
        "dev 1",
    )
    proc = run("install", *args, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(settings.read_text())
    installed = ours(doc)
    assert sorted(e for e, _ in installed) == sorted(EVENTS)
    handler = installed[0][1]
    assert handler["url"] == "http://hc.example:8050/api/v1/hooks/claude-code?agent=dev%201"
    assert handler["headers"] == {"Authorization": "Bearer $HELICARRIER_TOKEN"}
    assert handler["allowedEnvVars"] == ["HELICARRIER_TOKEN"]
    assert doc["model"] == "opus" and THEIRS in doc["hooks"]["PostToolUse"][0]["hooks"]
    assert doc["hooks"]["PreCompact"] == OTHERS["hooks"]["PreCompact"]

    first = settings.read_text()
    assert run("install", *args, tmp_path=tmp_path).returncode == 0
    assert settings.read_text() == first  # twice is once

    assert run("uninstall", "--claude-code", "--settings", str(settings), tmp_path=tmp_path).returncode == 0
    assert json.loads(settings.read_text()) == OTHERS


def test_install_refuses_a_settings_file_that_is_not_json_and_leaves_it(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text("{ not json")
    proc = run("install", "--claude-code", "--settings", str(settings), tmp_path=tmp_path)
    assert proc.returncode == 1 and "not valid JSON" in proc.stderr
    assert settings.read_text() == "{ not json"


def test_the_installed_hook_as_written_is_answered_by_the_app(api, tmp_path):
    settings = tmp_path / "settings.json"
    proc = run(
        "install", "--claude-code", "--settings", str(settings), "--token", api.token, tmp_path=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert os.stat(settings).st_mode & 0o077 == 0  # it holds a token: private
    (_event, handler), *_ = ours(json.loads(settings.read_text()))
    assert handler["headers"] == {"Authorization": f"Bearer {api.token}"} and "allowedEnvVars" not in handler
    url = urlsplit(handler["url"])
    body = (FIXTURES / "session_start.json").read_bytes()
    headers = {**handler["headers"], "Content-Type": "application/json"}
    resp = api.client.post(url.path, data=body, headers=headers)
    assert resp.status_code == 200 and resp.get_json() == {}
