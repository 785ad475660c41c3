"""Scheduled CSV reports in ``<data dir>/reports``: yesterday's usage and sessions by day x model x agent.

``write_scheduled_reports`` is what the scheduler's daily job calls (the job itself is wired elsewhere). It
is idempotent: a second run for the same day rewrites the same two files (atomically, through a temporary
file and a rename), and never leaves a half-written report behind.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from helicarrier.reports.csv import write_csv

REPORT_KINDS = ("usage", "sessions")
_NAME = re.compile(r"^(usage|sessions)-(\d{4}-\d{2}-\d{2})\.csv$")


def reports_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "reports"


def local_day_bounds(day: Any, tz: str) -> tuple[datetime, datetime]:
    """[local midnight of ``day``, local midnight of the next day) as aware datetimes in ``tz``."""
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    return start, end


def write_report(repo, kind: str, start: datetime, end: datetime, tz: str, path: Path | IO[str]) -> int:
    """Write one report over [start, end) to ``path`` (atomically) or a text stream; returns the row count."""
    if kind == "usage":
        rows = repo.usage_report_rows(start, end, tz=tz)
    elif kind == "sessions":
        rows = repo.session_report_rows(start, end, tz=tz)
    else:
        raise ValueError(f"unknown report {kind!r}; known: {', '.join(REPORT_KINDS)}")
    if not isinstance(path, Path):
        return _write(path, kind, rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            n = _write(fh, kind, rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _write(fh: IO[str], kind: str, rows: list[dict]) -> int:
    return write_csv(rows, fh) if rows else write_csv(fh, report_columns(kind), [])


def report_columns(kind: str) -> list[str]:
    """The header of an empty report (the same columns a non-empty one has)."""
    from helicarrier.data.queries.analytics import SESSION_REPORT_COLUMNS, USAGE_REPORT_COLUMNS

    cols = USAGE_REPORT_COLUMNS if kind == "usage" else SESSION_REPORT_COLUMNS
    out: list[str] = []
    for c in cols:
        out.append(c)
        if c.endswith("_nanos"):
            out.append(c[: -len("_nanos")] + "_usd")
    return out


def write_scheduled_reports(
    repo, data_dir: Path, now: datetime, *, tz: str = "UTC", keep: int = 30
) -> list[Path]:
    """Write ``usage-YYYY-MM-DD.csv`` and ``sessions-YYYY-MM-DD.csv`` for the local day before ``now``.

    Then delete the oldest reports of each kind beyond ``keep``. Returns the paths written.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
    start, end = local_day_bounds(day, tz)
    folder = reports_dir(data_dir)
    written = []
    for kind in REPORT_KINDS:
        path = folder / f"{kind}-{day.isoformat()}.csv"
        write_report(repo, kind, start, end, tz, path)
        written.append(path)
    prune_reports(data_dir, keep)
    return written


def prune_reports(data_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` reports of each kind (by the date in the name)."""
    folder = reports_dir(data_dir)
    if not folder.is_dir():
        return []
    by_kind: dict[str, list[tuple[str, Path]]] = {}
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            by_kind.setdefault(m.group(1), []).append((m.group(2), p))
    removed = []
    for items in by_kind.values():
        items.sort(reverse=True)
        for _day, p in items[max(keep, 0) :]:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def list_reports(data_dir: Path) -> list[dict[str, Any]]:
    """The reports on disk, newest day first: [{"name", "size" (bytes), "modified" (aware UTC datetime)}]."""
    from datetime import UTC

    folder = reports_dir(data_dir)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if not m or not p.is_file():
            continue
        st = p.stat()
        found.append(
            (
                m.group(2),
                m.group(1),
                {
                    "name": p.name,
                    "size": st.st_size,
                    "modified": datetime.fromtimestamp(st.st_mtime, tz=UTC),
                },
            )
        )
    found.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [f[2] for f in found]
