"""RFC 4180 CSV that spreadsheets cannot be tricked by.

- The ``csv`` module writes the fields: ``\\r\\n`` line ends, a field quoted only when it holds a comma, a
  quote or a line break, quotes doubled.
- Numbers are written unformatted (no thousands separators): ints as digits, floats by ``repr``, Decimals
  in fixed point (never exponent notation).
- Money: with a frame or a list of dicts, every ``<name>_nanos`` column gets a ``<name>_usd`` column right
  after it with the exact decimal USD string (``12345678901`` nanos -> ``12.345678901``), unless the input
  already has one. The integer nanos stay: they are exact and easy to sum.
- Formula injection (OWASP "CSV injection"): a *text* cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return gets a leading ``'`` so a spreadsheet shows it as text instead of evaluating it.
  Numbers are never altered: a negative number is written ``-5``, which no spreadsheet evaluates as a
  formula. Text that merely looks like a negative number (the string ``"-5"``) is text and is neutralized.
- Timestamps in ISO 8601 with their offset; None and NaN as empty fields; booleans ``true``/``false``;
  lists and dicts as compact JSON text.

Two call forms:

    write_csv(frame_or_rows, fh)        # a pandas DataFrame or a list of dicts (columns from the first row)
    write_csv(fh, header, rows)         # an explicit header and rows of values, written as given
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

import orjson

from helicarrier.money import usd_text

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    return "'" + text if text.startswith(_DANGEROUS) else text


def cell(value: Any) -> str:
    """One value as CSV field text (before quoting)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, Decimal):
        return "" if value.is_nan() else format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        try:
            return cell(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "isoformat"):  # pandas Timestamp
        if _is_na(value):
            return ""
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return neutralize(orjson.dumps(value, default=str).decode())
    if _is_na(value):
        return ""
    return neutralize(str(value))


def _is_na(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, list | tuple | dict) else False
    except (TypeError, ValueError):
        return False


def _with_usd(columns: list[str]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """The output header and, per output column, (source column, conversion)."""
    out: list[str] = []
    plan: list[tuple[str, str | None]] = []
    present = set(columns)
    for c in columns:
        out.append(c)
        plan.append((c, None))
        if c.endswith("_nanos"):
            usd = c[: -len("_nanos")] + "_usd"
            if usd not in present:
                out.append(usd)
                plan.append((c, "usd"))
    return out, plan


def _records(frame_or_rows: Any) -> tuple[list[str], Iterable[Mapping[str, Any]]]:
    try:
        import pandas as pd

        if isinstance(frame_or_rows, pd.DataFrame):
            cols = [str(c) for c in frame_or_rows.columns]
            frame = frame_or_rows
            return cols, (
                dict(zip(cols, rec, strict=True)) for rec in frame.itertuples(index=False, name=None)
            )
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    rows = list(frame_or_rows)
    if not rows:
        return [], []
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols, rows


def write_csv(first: Any, second: Any, third: Iterable[Sequence[Any]] | None = None) -> int:
    """Write CSV; returns the number of data rows. See the module docstring for the two call forms."""
    if hasattr(first, "write"):
        fh: IO[str] = first
        header = [str(h) for h in second]
        writer = csv.writer(fh, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([neutralize(h) for h in header])
        n = 0
        for row in third or ():
            writer.writerow([cell(v) for v in row])
            n += 1
        return n
    fh = second
    columns, records = _records(first)
    header, plan = _with_usd(columns)
    writer = csv.writer(fh, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralize(h) for h in header])
    n = 0
    for rec in records:
        out = []
        for col, conv in plan:
            v = rec.get(col)
            if conv == "usd":
                out.append("" if v is None or _is_na(v) else usd_text(int(v)))
            elif col.endswith("_nanos") and v is not None and not _is_na(v):
                out.append(str(int(v)))  # a frame with a missing value holds nanos as floats
            else:
                out.append(cell(v))
        writer.writerow(out)
        n += 1
    return n
