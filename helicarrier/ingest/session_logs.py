"""Importing agents' own session logs (Claude Code, Codex CLI JSONL) through the ingest path: one file is one
session; its billed calls (``normalize_session_log``: Claude Code's repeated lines of one message and request
kept once with the largest totals, sidechain replays and ``<synthetic>`` entries dropped; Codex's per-turn
usage, never its cumulative totals) become usage events with the provider's own usage object, so the ingest
normalizer and the price table treat them as any reported call.

Event ids come from the session and the message (or turn), so importing a file again stores nothing twice
and a file that grew stores only its new calls. Rows carry provenance ``import`` and their file.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from helicarrier.ingest.normalize import normalize_session_log
from helicarrier.ingest.providers.sessions import SessionEntry

FORMATS = {"claude-code": "claude_code", "codex": "codex"}
PROVIDERS = {"claude-code": "anthropic", "codex": "openai"}
SOURCE = "import"
MAX_BATCH = 2000
MAX_ID = 128
# A log quiet for this long is a session that is over: it is ended (at its last line) when imported.
QUIET_END_S = 600
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Summary:
    files: int = 0
    sessions: int = 0
    events: int = 0  # stored now
    duplicates: int = 0  # stored by an earlier run
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    def text(self) -> str:
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        return (
            f"files: {self.files}, sessions: {self.sessions}, events: {self.events} imported, "
            f"{self.duplicates} already there; skipped: {skipped}"
        )


def log_files(paths: Iterable[Path]) -> list[Path]:
    """The .jsonl files named, or under the folders named (Claude Code's projects, Codex's sessions)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.jsonl") if p.is_file()))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def read_lines(path: Path, skipped: Counter) -> list[dict[str, Any]]:
    lines = []
    with path.open("rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                skipped["lines that are not JSON"] += 1
                continue
            if isinstance(doc, dict):
                lines.append(doc)
            else:
                skipped["lines that are not JSON objects"] += 1
    return lines


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else None


def _session_facts(fmt: str, path: Path, lines: list[dict[str, Any]]) -> tuple[str, str | None, str | None]:
    """(session id, cwd, task) from the log, falling back on the file's name."""
    session = cwd = task = None
    for line in lines:
        payload = line.get("payload") if isinstance(line.get("payload"), dict) else {}
        if fmt == "codex" and line.get("type") == "session_meta":
            session = session or payload.get("id")
            cwd = cwd or payload.get("cwd")
        if fmt == "claude-code":
            session = session or line.get("sessionId")
            cwd = cwd or line.get("cwd")
            if line.get("type") == "summary" and isinstance(line.get("summary"), str):
                task = task or line["summary"]
            msg = line.get("message")
            user = line.get("type") == "user" and isinstance(msg, dict)
            if task is None and user and isinstance(msg.get("content"), str):
                task = msg["content"]
    session = session if isinstance(session, str) and session else path.stem
    return session[:MAX_ID], cwd if isinstance(cwd, str) else None, (task or "")[:500] or None


def agent_for(fmt: str, cwd: str | None) -> str:
    """``claude-code-<project folder>`` or ``codex-<project folder>``: the name the hooks give too."""
    folder = (cwd or "").rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return f"{fmt}-{_UNSAFE.sub('-', folder).strip('-') or 'session'}"[:MAX_ID]


def stable_event_id(*parts: str) -> str:
    """An event id made of its parts, the same on every run (hashed when longer than an id may be)."""
    text = ":".join(parts)
    return text if len(text) <= MAX_ID else "h-" + hashlib.sha256(text.encode()).hexdigest()


def _usage_data(fmt: str, entry: SessionEntry, origin: dict[str, Any]) -> dict[str, Any]:
    u = entry.usage
    data: dict[str, Any] = {"provider": PROVIDERS[fmt], "model": u.model, "import": origin}
    if fmt == "claude-code":
        data["usage"] = entry.raw
    else:
        # Codex logs OpenAI-semantic counts in its own field names: as a Responses API usage object.
        usage: dict[str, Any] = {
            "input_tokens": u.input_tokens,
            "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
            "output_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
        }
        if u.reasoning_tokens is not None:
            usage["output_tokens_details"] = {"reasoning_tokens": u.reasoning_tokens}
        data["usage"] = usage
    return data


def session_events(
    fmt: str,
    path: Path,
    lines: list[dict[str, Any]],
    since: datetime | None,
    agent: str | None,
    skipped: Counter,
) -> list[dict[str, Any]]:
    """A session's events: its start, its billed calls (from ``since`` on), its end."""
    session, cwd, task = _session_facts(fmt, path, lines)
    agent = agent or agent_for(fmt, cwd)
    stamps = [t for t in (_ts(line.get("timestamp")) for line in lines) if t is not None]
    fallback = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    first, last = (min(stamps), max(stamps)) if stamps else (fallback, fallback)
    entries = normalize_session_log(FORMATS[fmt], lines)
    origin = {"provenance": SOURCE, "file": str(path)}
    usage = []
    for entry in entries:
        ts = _ts(entry.timestamp) or last
        if since is not None and ts < since:
            skipped["calls before --since"] += 1
            continue
        key = stable_event_id(session, entry.key, entry.request_id or "")
        usage.append(_event(key, "usage", ts, agent, session, _usage_data(fmt, entry, origin)))
    if since is not None and not usage and last < since:
        skipped["sessions before --since"] += 1
        return []
    models = [e.usage.model for e in entries if e.usage.model]
    start: dict[str, Any] = {
        "provider": PROVIDERS[fmt],
        "task": task or f"{fmt} session {session}",
        "labels": {"provenance": SOURCE, "file": str(path)[-256:], "connector": fmt},
    }
    if models:
        start["model"] = models[0]
    events = [
        _event(stable_event_id(session, "start"), "session.start", first, agent, session, start),
        *usage,
    ]
    if (datetime.now(UTC) - last).total_seconds() >= QUIET_END_S:  # else it may still be going on
        events.append(
            _event(
                stable_event_id(session, "end"), "session.end", last, agent, session, {"status": "succeeded"}
            )
        )
    return events


def _event(eid: str, kind: str, ts: datetime, agent: str, session: str, data: dict) -> dict[str, Any]:
    return {
        "id": eid,
        "type": kind,
        "ts": ts.isoformat(),
        "agent_id": agent,
        "session_id": session,
        "data": data,
    }


def batches(events: list[dict[str, Any]], fmt: str) -> Iterator[bytes]:
    for i in range(0, len(events), MAX_BATCH):
        chunk = events[i : i + MAX_BATCH]
        yield orjson.dumps(
            {"version": "v2", "source": {"name": SOURCE, "provenance": f"import {fmt}"}, "events": chunk}
        )


class Importer:
    """Import files into the ingest path (``ingest(body) -> (status, JSON answer)``), counting in a Summary.
    ``watch`` re-imports the files that changed (new ones included): imports are idempotent and only the new
    calls are stored."""

    def __init__(self, fmt: str, ingest, since: datetime | None = None, agent: str | None = None):
        self.fmt, self.ingest, self.since, self.agent = fmt, ingest, since, agent
        self.summary = Summary()
        self._seen: dict[Path, tuple[float, int]] = {}
        self._sessions: set[str] = set()

    def import_file(self, path: Path) -> int:
        """Stored events (0 when nothing was new)."""
        from helicarrier.ingest.normalize import UsageError

        summary = self.summary
        try:
            stat = path.stat()
            self._seen[path] = (stat.st_mtime, stat.st_size)
            summary.files = len(self._seen)  # files, not imports: --watch reads a file again
            if self.since is not None and datetime.fromtimestamp(stat.st_mtime, UTC) < self.since:
                summary.skipped["files not changed since --since"] += 1
                return 0
            lines = read_lines(path, summary.skipped)
            events = session_events(self.fmt, path, lines, self.since, self.agent, summary.skipped)
        except (OSError, UsageError) as exc:
            summary.skipped[f"unreadable files ({type(exc).__name__})"] += 1
            return 0
        if not events:
            return 0
        self._sessions.add(events[0]["session_id"])
        summary.sessions = len(self._sessions)
        stored = 0
        for body in batches(events, self.fmt):
            _status, answer = self.ingest(body)
            counts = orjson.loads(answer)
            stored += counts.get("accepted", 0)
            summary.duplicates += counts.get("duplicates", 0)
            for result in counts.get("results", []) or (counts.get("error") or {}).get("details") or []:
                if isinstance(result, dict) and result.get("status") == "rejected":
                    summary.skipped[f"events rejected ({result['error']['code']})"] += 1
        summary.events += stored
        return stored

    def changed(self, paths: Iterable[Path]) -> list[Path]:
        out = []
        for path in log_files(paths):
            try:
                stat = path.stat()
            except OSError:
                continue
            if self._seen.get(path) != (stat.st_mtime, stat.st_size):
                out.append(path)
        return out
