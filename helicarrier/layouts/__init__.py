"""Page layouts. Each page is a module with ``layout(subpath=None, query=None)`` (``query``: the URL's query
string); ``PAGES`` is the one list the router, the navbar and the callback validation read. Its callbacks
are in the module of the same name in ``helicarrier.callbacks``.

A page that has sub-pages (``/ledger/<session id>``) receives the rest of the path as ``subpath``; such a
module lists every layout it can return in ``validation_layouts()``, so Dash can check every callback id.

Each page module has ``ID``, its component ids as constants, every one starting with the module's name
(``command-kill-agent``; ``shell-`` for the shell). A page built over several modules (``ledger_*.py``) keeps
them in ``<page>_ids.py``. Callbacks, tests and scripts use the constants, never the strings
(tests/web/test_page_ids.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import unquote

from dash.development.base_component import Component

from helicarrier.layouts import alerts, command, intelligence, ledger, operations, watchtower


@dataclass(frozen=True)
class Page:
    path: str
    name: str
    icon: str
    module: ModuleType

    def layout(self, subpath: str | None = None, query: str | None = None) -> Component:
        """``query`` is the URL's query string: the pages that keep their state there start from it."""
        return self.module.layout(subpath, query)

    def validation_layouts(self) -> list[Component]:
        extra: Callable[[], list[Component]] | None = getattr(self.module, "validation_layouts", None)
        return extra() if extra else [self.module.layout(None)]


PAGES: tuple[Page, ...] = (
    Page("/", "Watchtower", "bi-grid-3x3-gap", watchtower),
    Page("/command", "Command", "bi-terminal", command),
    Page("/ledger", "Ledger", "bi-journal-text", ledger),
    Page("/intelligence", "Intelligence", "bi-graph-up", intelligence),
    Page("/alerts", "Alerts", "bi-bell", alerts),
    Page("/operations", "Operations", "bi-gear", operations),
)


def page_title(page: Page | None, subpath: str | None) -> str:
    """The browser tab's title: each page its own, so tabs and history tell the pages apart."""
    if page is None:
        return "Not found · Helicarrier"
    if subpath and page.path == "/ledger":
        return f"Session {unquote(subpath)} · Ledger · Helicarrier"
    return f"{page.name} · Helicarrier"


def page_for(pathname: str | None) -> tuple[Page | None, str | None]:
    """The page for a path, and the rest of the path below it (``/ledger/abc`` -> ledger, "abc")."""
    path = (pathname or "/").rstrip("/") or "/"
    for page in PAGES:
        if page.path == path:
            return page, None
        if page.path != "/" and path.startswith(page.path + "/"):
            return page, path[len(page.path) + 1 :]
    return None, None
