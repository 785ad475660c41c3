"""The databases an operation (backup, restore, copy-db, parity-check) is pointed at, checked before anything
is opened: a URL that is no database URL, a database Helicarrier does not run on, a SQLite source that does
not exist (opening one would create an empty file and go on with it), or a server that cannot be reached is
one line naming the problem (issue 14), and nothing is created."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError

from helicarrier.data.engine import URL_FORMS, DatabaseURLError, database_url


class OperationRefused(Exception):
    """The operation did not start, or stopped, for the reason in the message (one line)."""


def shown(url: str | URL) -> str:
    """The URL as it may be printed: without its password."""
    return (url if isinstance(url, URL) else make_url(url)).render_as_string(hide_password=True)


def checked_url(url: str, option: str) -> URL:
    """``url`` parsed, of a backend Helicarrier runs on; ``option`` names where it came from (``--to``)."""
    try:
        parsed = database_url(url)
    except DatabaseURLError as exc:
        raise OperationRefused(f"{option}: {exc}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise OperationRefused(f"{option}: {shown(parsed)} names no SQLite file; use {URL_FORMS}")
    return parsed


def missing_sqlite_file(parsed: URL) -> Path | None:
    """The SQLite file ``parsed`` names, when it does not exist: opening it would create it empty."""
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.is_file() else path


def existing_source(url: str, option: str) -> URL:
    """A database to read from: as ``checked_url``, and a SQLite file that exists."""
    parsed = checked_url(url, option)
    path = missing_sqlite_file(parsed)
    if path is not None:
        raise OperationRefused(
            f"{option}: no SQLite database at {path} (a source must exist; nothing was created)"
        )
    return parsed


def first_line(exc: BaseException) -> str:
    exc = getattr(exc, "orig", None) or exc
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def reaching(url: str | URL, role: str) -> Iterator[None]:
    """A server that refuses the connection or drops it, or a file that is no SQLite database, is one line
    naming ``role`` and the URL. (Called around the first statements an operation sends.)"""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        problem = first_line(exc)
        raise OperationRefused(f"cannot reach the {role} database at {shown(url)}: {problem}") from None
    except DatabaseError as exc:  # e.g. SQLite's "file is not a database"
        problem = first_line(exc)
        raise OperationRefused(f"cannot read the {role} database at {shown(url)}: {problem}") from None
