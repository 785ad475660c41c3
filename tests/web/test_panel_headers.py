"""Every panel header reads the same way on every page: its icon and title together on the left (the
Operations page had the icon on the left and the title pushed to the far right)."""

from __future__ import annotations

from dash import html

from helicarrier.layouts import PAGES
from tests.web.test_intelligence_layouts import walk


def _headers(tree):
    return [
        n
        for n in walk(tree)
        if isinstance(n, html.Div) and "glass-header" in (getattr(n, "className", None) or "").split()
    ]


def test_each_panel_header_has_its_icon_and_title_in_one_first_child(monkeypatch):
    import helicarrier.auth.web as web

    monkeypatch.setattr(web, "current_user", lambda: None)  # layouts that ask who is signed in
    seen = 0
    for page in PAGES:
        for tree in page.validation_layouts():
            for header in _headers(tree):
                children = header.children if isinstance(header.children, list) else [header.children]
                first = children[0]
                parts = first.children if isinstance(first.children, list) else [first.children]
                assert isinstance(first, html.Span), (page.name, header)
                assert isinstance(parts[0], html.I) and any(isinstance(p, str) and p for p in parts), (
                    page.name,
                    header,
                )
                seen += 1
    assert seen > 10
