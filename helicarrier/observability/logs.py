"""Log lines that say which request and which trace they belong to.

``HELICARRIER_LOG_FORMAT=json`` (production): one JSON object per line on standard output, for a log
collector: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``, ``trace_id``,
``span_id`` and ``exc`` (the traceback) when there is one. ``text`` (the default, development): readable
lines on standard error as before, with ``[request <id> trace <id>]`` when the line is logged inside one.

The request id is a context variable the HTTP hooks set (``observability.web``); the trace and span ids are
the current span's (or the caller's ``traceparent`` when tracing is off). A filter on our handler stamps them
on every record, whichever library logged it.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from opentelemetry import trace

FORMATS = ("text", "json")
REQUEST_ID: ContextVar[str | None] = ContextVar("helicarrier_request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class ContextFilter(logging.Filter):
    """Stamps ``request_id``, ``trace_id``, ``span_id`` (None outside them) and ``context`` (the text
    form) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = trace.format_trace_id(ctx.trace_id)
            record.span_id = trace.format_span_id(ctx.span_id)
        else:
            record.trace_id = record.span_id = None
        parts = []
        if record.request_id:
            parts.append(f"request {record.request_id}")
        if record.trace_id:
            parts.append(f"trace {record.trace_id}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, not more lines)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def handler(fmt: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``fmt`` lines (json: to stdout, text: to stderr, unless ``stream`` is given)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(FORMATS)}")
    out = stream or (sys.stdout if fmt == "json" else sys.stderr)
    made = logging.StreamHandler(out)
    made.addFilter(ContextFilter())
    made.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    made.helicarrier_format = fmt  # type: ignore[attr-defined]
    return made


def setup(level: str, fmt: str) -> None:
    """The process's log lines in ``fmt`` at ``level``, set up once (as ``logging.basicConfig`` was: a
    root logger that already has another's handlers, pytest's or an embedding program's, is left alone)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if hasattr(h, "helicarrier_format")]
    if root.handlers and not ours:
        return
    if ours and ours[0].helicarrier_format == fmt:  # type: ignore[attr-defined]
        root.setLevel(level)
        return
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level)
