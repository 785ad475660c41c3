"""Page layouts. Each page is a module with ``layout()``; ``PAGES`` is the one list the router and the
navbar read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dash.development.base_component import Component

from helicarrier.layouts import watchtower


@dataclass(frozen=True)
class Page:
    path: str
    name: str
    icon: str
    layout: Callable[[], Component]


PAGES: tuple[Page, ...] = (Page("/", "Watchtower", "bi-grid-3x3-gap", watchtower.layout),)


def page_for(pathname: str | None) -> Page | None:
    path = (pathname or "/").rstrip("/") or "/"
    for page in PAGES:
        if page.path == path:
            return page
    return None
