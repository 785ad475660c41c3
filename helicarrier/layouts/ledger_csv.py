"""CSV downloads from the UI (Ledger and Intelligence): rows through ``write_csv`` (RFC 4180, formula
injection neutralized) into the payload a ``dcc.Download`` expects."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dash import dcc

from helicarrier.reports.csv import write_csv

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO(newline="")
    write_csv(out, header, rows)
    return out.getvalue()


def csv_filename(stem: str, now: datetime | None = None) -> str:
    """``helicarrier-<stem>-<UTC time>.csv`` with anything but [A-Za-z0-9._-] in the stem replaced."""
    now = now or datetime.now(UTC)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or "export"
    return f"helicarrier-{safe}-{now:%Y%m%dT%H%M%SZ}.csv"


def csv_download(stem: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """Rows written as given under ``header``."""
    return dcc.send_string(csv_text(header, rows), csv_filename(stem), type="text/csv")


def records_download(stem: str, records: pd.DataFrame | list[dict[str, Any]]) -> dict[str, Any]:
    """A frame or a list of dicts; every ``*_nanos`` column gets its exact ``*_usd`` column beside it."""
    out = io.StringIO(newline="")
    write_csv(records, out)
    return dcc.send_string(out.getvalue(), csv_filename(stem), type="text/csv")
