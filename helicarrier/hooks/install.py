"""Writing Helicarrier's http hooks into a Claude Code settings file, and taking them out again: plain
functions on the settings document. Other hooks and settings are kept as they are; Helicarrier's own
handlers are recognised by their URL, so installing twice changes nothing and uninstalling removes only them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from helicarrier.hooks.claude_code import EVENTS

ROUTE = "/api/v1/hooks/claude-code"
# Read by Claude Code when it sends a hook (not a Helicarrier setting).
TOKEN_VARIABLE = "HELICARRIER_TOKEN"
TIMEOUT_S = 5  # Claude Code waits at most this; the route answers within 2.5 s (it fails open)
TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse"})  # their matcher is a tool name pattern


class SettingsError(ValueError):
    pass


def handler(base_url: str, agent: str | None, token: str | None) -> dict[str, Any]:
    """One http handler. With a token, it is written as is; without, Claude Code reads it from
    $HELICARRIER_TOKEN (which keeps the secret out of a file that may be committed)."""
    url = base_url.rstrip("/") + ROUTE + (f"?agent={quote(agent, safe='')}" if agent else "")
    out: dict[str, Any] = {
        "type": "http",
        "url": url,
        "timeout": TIMEOUT_S,
        "headers": {"Authorization": f"Bearer {token or '$' + TOKEN_VARIABLE}"},
    }
    if not token:
        out["allowedEnvVars"] = [TOKEN_VARIABLE]
    return out


def _ours(h: Any) -> bool:
    return isinstance(h, dict) and h.get("type") == "http" and ROUTE in str(h.get("url", ""))


def without_ours(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with Helicarrier's handlers taken out (groups and events left empty go too)."""
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return settings
    kept: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            kept[event] = groups
            continue
        new_groups = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                rest = [h for h in group["hooks"] if not _ours(h)]
                if not rest and len(rest) != len(group["hooks"]):
                    continue  # only ours were in it
                group = {**group, "hooks": rest}
            new_groups.append(group)
        if new_groups or not groups:
            kept[event] = new_groups
    out = dict(settings)
    if kept:
        out["hooks"] = kept
    else:
        out.pop("hooks", None)
    return out


def with_ours(settings: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    out = without_ours(settings)
    hooks = dict(out.get("hooks") or {})
    if not isinstance(out.get("hooks", {}), dict):
        raise SettingsError("`hooks` in the settings file is not an object")
    for event in EVENTS:
        group: dict[str, Any] = {"hooks": [entry]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        existing = hooks.get(event) or []
        if not isinstance(existing, list):
            raise SettingsError(f"`hooks.{event}` in the settings file is not a list")
        hooks[event] = [*existing, group]
    out["hooks"] = hooks
    return out


def read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc}); left untouched") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"{path} does not hold a JSON object; left untouched")
    return doc


def write(path: Path, doc: dict[str, Any]) -> None:
    """Atomically (a crash leaves the old file or the new one), private when it holds a token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
