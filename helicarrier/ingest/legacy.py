"""Reading a legacy JSON store (what Helicarrier V1 kept before it had a database) and turning its records
into v2 ingest events. Plain functions: no database (``helicarrier.operations.legacy_import`` stages and
stores them). The layout is docs/import.md.

The events are checked by the ingest's own validation (``parse_v2``): this module only reads the files,
maps each record's fields onto an event and maps the ingest's complaints back onto the record's field
names. Event ids derive from the record ids, so a second import finds every record already stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from helicarrier.ingest.schemas import SESSION_END_STATUSES, AwareDatetime
from helicarrier.ingest.session_logs import stable_event_id

SOURCE = "import"  # the source column of every stored row, as for import-sessions
PROVENANCE = "import legacy-json"
# The files of a store, in the order they are read and stored, and the kind of record each holds.
FILES = (
    ("sessions.json", "session"),
    ("usage.json", "usage"),
    ("logs.jsonl", "log"),
    ("alerts.json", "alert"),
)
# A store is read whole into memory: a file past this is refused rather than exhausting the machine.
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_RULE_CHARS = 200
CONTENT_ID = "sha256-"  # the id of a log line without one: the hash of its content

_USAGE_FIELDS = ("provider", "model", "usage", "response", "cost")
_SESSION_START_FIELDS = ("model", "provider", "task", "task_kind")
_TIMESTAMP = TypeAdapter(AwareDatetime)


class LegacyFileError(Exception):
    """A file that cannot be read as its layout says (not JSON, truncated, not UTF-8, too large): the
    import stops and stores nothing."""

    def __init__(self, file: str, line: int, column: int, message: str):
        super().__init__(f"{file}: line {line}, column {column}: {message}")
        self.file, self.line, self.column, self.message = file, line, column, message


class RecordError(Exception):
    """One record the layout cannot turn into events: reported, the others go on."""

    def __init__(self, field: str | None, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.reason = str(self)


@dataclass(slots=True)
class Located:
    """A record and where it is: ``record 3`` of a JSON array, ``line 7`` of a JSON Lines file."""

    where: str
    record: Any


@dataclass(slots=True)
class LegacyFile:
    records: list[Located]
    # JSON carries U+0000 only as the escape \u0000: the costly scan for it is needed only where that is.
    nul_escape: bool


def _position(raw: bytes, pos: int) -> tuple[int, int]:
    """(line, column) of byte ``pos``, both from 1; the column counts characters."""
    line_start = raw.rfind(b"\n", 0, pos) + 1
    column = len(raw[line_start:pos].decode("utf-8", "replace")) + 1
    return raw.count(b"\n", 0, pos) + 1, column


def _read(path, name: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LegacyFileError(
                name, 1, 1, f"{size} bytes; the limit is {MAX_FILE_BYTES} (split the store)"
            )
        return path.read_bytes()
    except OSError as exc:
        raise LegacyFileError(name, 1, 1, f"cannot be read: {exc.strerror or exc}") from None


_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"))
_BOMS += ((b"\xfe\xff", "UTF-16"),)


def _utf8_text(raw: bytes, name: str) -> bytes:
    """The bytes, checked to be UTF-8 (a UTF-8 byte order mark is dropped: some editors write one)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise LegacyFileError(name, 1, 1, f"the file is {encoding} (byte order mark); save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:  # UTF-16 without a byte order mark, or not text at all
        line, column = _position(raw, nul)
        raise LegacyFileError(name, line, column, "a NUL byte: the file is not UTF-8 text (UTF-16?)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(raw, exc.start)
        byte = raw[exc.start : exc.start + 1].hex()
        raise LegacyFileError(
            name, line, column, f"byte 0x{byte} is not UTF-8 (Latin-1 or another encoding?); save it as UTF-8"
        ) from None
    return raw.removeprefix(b"\xef\xbb\xbf")


def _parse(text: bytes, name: str, first_line: int = 1) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        line = first_line + exc.lineno - 1
        raise LegacyFileError(name, line, exc.colno, f"not valid JSON: {exc.msg}") from None


def load_json_records(path, name: str) -> LegacyFile:
    """The records of a JSON array file (``sessions.json``, ``usage.json``, ``alerts.json``)."""
    text = _utf8_text(_read(path, name), name)
    doc = _parse(text, name)
    if not isinstance(doc, list):
        stripped = text.lstrip()
        line, column = _position(text, len(text) - len(stripped))
        raise LegacyFileError(name, line, column, "the top level must be an array of records")
    records = [Located(f"record {i}", record) for i, record in enumerate(doc)]
    return LegacyFile(records, b"\\u0000" in text)


def load_jsonl_records(path, name: str, advance: Callable[[int], None] | None = None) -> LegacyFile:
    """The records of a JSON Lines file (``logs.jsonl``): one object a line, blank lines skipped. A line
    that is not JSON (a file cut short ends in one) stops the import, as a broken JSON file does."""
    text = _utf8_text(_read(path, name), name)
    records = []
    for number, line in enumerate(text.split(b"\n"), start=1):
        if line.strip():
            records.append(Located(f"line {number}", _parse(line, name, number)))
        if advance is not None:
            advance(len(line) + 1)
    return LegacyFile(records, b"\\u0000" in text)


# -- records -> events -------------------------------------------------------------------------------------


def record_id(kind: str, record: dict[str, Any]) -> str:
    """The record's own id (text or an integer); a log line without one is known by its content."""
    value = record.get("id")
    if value is None and kind == "log":
        return CONTENT_ID + hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError("id", "required: a string or an integer")
    text = str(value).strip()
    if not text:
        raise RecordError("id", "must not be empty")
    return text


_MISSING: Any = object()


def _event(event_id: str, kind: str, ts: Any, record: dict[str, Any], session_id: Any, data: dict) -> dict:
    """A v2 event; a field the record lacks is left out, so that the ingest says it is required."""
    event = {"id": event_id, "type": kind, "ts": ts, "agent_id": record.get("agent_id", _MISSING)}
    if session_id is not None:
        event["session_id"] = session_id
    event["data"] = data
    return {k: v for k, v in event.items() if v is not _MISSING}


def _picked(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: record[k] for k in fields if k in record}


def _timestamp(value: Any) -> datetime | None:
    """The value as an aware timestamp, or None when it is not one (the ingest then names the problem)."""
    try:
        return _TIMESTAMP.validate_python(value)
    except ValidationError:
        return None


def _session_events(rid: str, record: dict[str, Any]) -> list[dict]:
    labels = record.get("labels", {})
    if isinstance(labels, dict):
        labels = {**labels, "provenance": SOURCE}
    start = {**_picked(record, _SESSION_START_FIELDS), "labels": labels}
    start_id = stable_event_id("legacy", "session", rid, "start")
    events = [_event(start_id, "session.start", record.get("started_at", _MISSING), record, rid, start)]
    status = record.get("status")
    if "ended_at" not in record:
        if status in SESSION_END_STATUSES:
            raise RecordError("ended_at", f"required when status is {status!r}")
        if status not in (None, "running"):
            raise RecordError("status", f"one of running, {', '.join(SESSION_END_STATUSES)}")
        return events
    began, ended = _timestamp(record.get("started_at")), _timestamp(record["ended_at"])
    if began is not None and ended is not None and ended < began:
        raise RecordError("ended_at", "is before started_at")
    end = {"status": status, **_picked(record, ("error",))}
    end_id = stable_event_id("legacy", "session", rid, "end")
    events.append(_event(end_id, "session.end", record["ended_at"], record, rid, end))
    return events


def _usage_events(rid: str, record: dict[str, Any], file: str) -> list[dict]:
    data = {**_picked(record, _USAGE_FIELDS), "import": {"provenance": SOURCE, "file": file, "record": rid}}
    event_id = stable_event_id("legacy", "usage", rid)
    return [_event(event_id, "usage", record.get("ts", _MISSING), record, record.get("session_id"), data)]


def _log_events(rid: str, record: dict[str, Any]) -> list[dict]:
    data = _picked(record, ("level", "message", "attrs"))
    event_id = stable_event_id("legacy", "log", rid)
    return [_event(event_id, "log", record.get("ts", _MISSING), record, record.get("session_id"), data)]


def _alert_events(rid: str, record: dict[str, Any]) -> list[dict]:
    """A legacy alert becomes a log event of its agent at the time it fired (docs/import.md: why not an
    alert row), the alert's facts in ``attrs.legacy_alert``."""
    rule = record.get("rule")
    if not isinstance(rule, str) or not rule.strip() or len(rule) > MAX_RULE_CHARS:
        raise RecordError("rule", f"required: the rule's name, 1 to {MAX_RULE_CHARS} characters")
    value = record.get("value")
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise RecordError("value", "a number or a string")
    fired, resolved = _timestamp(record.get("fired_at")), record.get("resolved_at")
    if resolved is not None:
        ended = _timestamp(resolved)
        if ended is None:
            raise RecordError("resolved_at", "a timestamp with a timezone (e.g. 2026-03-02T10:00:00Z)")
        if fired is not None and ended < fired:
            raise RecordError("resolved_at", "is before fired_at")
    message = record.get("message")
    facts = {
        "id": rid,
        "rule": rule,
        "value": value,
        "fired_at": record.get("fired_at"),
        "resolved_at": resolved,
    }
    data: dict[str, Any] = {"level": record.get("severity", "warning"), "attrs": {"legacy_alert": facts}}
    if "message" in record:
        data["message"] = f"alert {rule}: {message}" if isinstance(message, str) else message
    event_id = stable_event_id("legacy", "alert", rid)
    return [_event(event_id, "log", record.get("fired_at", _MISSING), record, record.get("session_id"), data)]


def record_events(kind: str, record: Any, file: str) -> tuple[str, list[dict]]:
    """(the record's id, its v2 events), or RecordError for what only the layout can refuse."""
    if not isinstance(record, dict):
        raise RecordError(None, "not a JSON object")
    rid = record_id(kind, record)
    if kind == "session":
        return rid, _session_events(rid, record)
    if kind == "usage":
        return rid, _usage_events(rid, record, file)
    if kind == "log":
        return rid, _log_events(rid, record)
    return rid, _alert_events(rid, record)


# -- the ingest's complaints, in the record's field names ----------------------------------------------------

_HEADER_NAMES = {
    ("session", "session.start"): {"ts": "started_at", "session_id": "id"},
    ("session", "session.end"): {"ts": "ended_at", "session_id": "id"},
    ("alert", "log"): {"ts": "fired_at"},
}
_DATA_NAMES = {("alert", "log"): {"level": "severity", "attrs.legacy_alert": ""}}


def record_field(kind: str, event_type: str, field: str) -> str:
    """``events[3].data.usage.input_tokens`` -> ``usage.input_tokens``; ``events[0].ts`` -> ``started_at``
    for a session's start."""
    rest = field.split("]", 1)[1].lstrip(".") if field.startswith("events[") else field
    if rest.startswith("data.") or rest == "data":
        rest = rest.removeprefix("data").lstrip(".")
        for ours, theirs in _DATA_NAMES.get((kind, event_type), {}).items():
            if rest == ours or rest.startswith(ours + "."):
                return (theirs + rest[len(ours) :]).lstrip(".")
        return rest or "record"
    head, _, tail = rest.partition(".")
    name = _HEADER_NAMES.get((kind, event_type), {}).get(head, head)
    return f"{name}.{tail}" if tail else name or "record"


def rejection_reason(kind: str, event_type: str, field: str | None, message: str) -> str:
    """An ingest rejection's message with its field named as the record names it."""
    if not field:
        return message
    text = message.removeprefix(f"{field}: ")
    return f"{record_field(kind, event_type, field)}: {text}"
