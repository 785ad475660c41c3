"""Component ids: every id carries its page's prefix (``command-``, ``ledger-``...; ``shell-`` in the shell),
is defined by one page only, and is written once, in its page's ``ID`` namespace: callbacks, tests and
scripts use the constant, never the string."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from dash import html
from dash.development.base_component import Component

from helicarrier.layouts import PAGES, shell
from helicarrier.layouts.shell import shell_layout

ROOT = Path(__file__).resolve().parents[2]
# Where ids are written: the layouts that define them and everything that uses them.
SOURCES = (
    "helicarrier/layouts/*.py",
    "helicarrier/callbacks/*.py",
    "tests/web/*.py",
    "tests/browser/*.py",
    "assets/*.js",
    "assets/zz-theme/*.css",
    "bench/hero_grid.py",
    "bench/pulse_latency.py",
)
NAMESPACES = {
    "shell-": shell.ID,
    **{f"{page.module.__name__.rsplit('.', 1)[-1]}-": page.module.ID for page in PAGES},
}


def component_ids(node) -> Iterator[str]:
    """Every id in a component tree; a pattern-matching id by its type."""
    if isinstance(node, list | tuple):
        for child in node:
            yield from component_ids(child)
        return
    if not isinstance(node, Component):
        return
    cid = getattr(node, "id", None)
    if isinstance(cid, dict):
        yield str(cid.get("type"))
    elif cid is not None:
        yield str(cid)
    for prop in node._prop_names:  # children, and components held by other props
        value = getattr(node, prop, None)
        if isinstance(value, Component | list | tuple):
            yield from component_ids(value)


def layout_ids() -> dict[str, list[str]]:
    """The ids of each page's validation layouts, by the page's prefix (the shell's too)."""
    found = {"shell-": list(component_ids(shell_layout()))}
    for page in PAGES:
        prefix = f"{page.module.__name__.rsplit('.', 1)[-1]}-"
        found[prefix] = [i for tree in page.validation_layouts() for i in component_ids(tree)]
    return found


def namespace_ids(namespace: type) -> list[str]:
    """The ids an ``ID`` class defines: its strings, and the values of its dicts (families of ids)."""
    out: list[str] = []
    for name, value in vars(namespace).items():
        if name.startswith("_"):
            continue
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            out.extend(value.values())
    return out


def problems(ids_by_prefix: dict[str, list[str]]) -> list[str]:
    """An id without its page's prefix, or one defined twice (in one page or by two)."""
    found = [
        f"{i}: not {prefix}*"
        for prefix, ids in ids_by_prefix.items()
        for i in ids
        if not i.startswith(prefix)
    ]
    counts = Counter(i for ids in ids_by_prefix.values() for i in ids)
    return found + [f"{i}: defined {n} times" for i, n in sorted(counts.items()) if n > 1]


def test_the_check_finds_unprefixed_and_doubly_defined_ids():
    ids = {"x-": ["x-page", "kill-agent"], "y-": ["y-grid", "x-page"]}
    assert problems(ids) == ["kill-agent: not x-*", "x-page: not y-*", "x-page: defined 2 times"]
    assert list(component_ids(html.Div([html.Span(id={"type": "a-card", "agent": "x"})], id="a-page"))) == [
        "a-page",
        "a-card",
    ]


def test_every_layout_id_carries_its_pages_prefix_and_is_defined_once():
    assert problems(layout_ids()) == []


def test_every_id_namespace_is_prefixed_and_defines_each_id_once():
    assert problems({prefix: namespace_ids(ns) for prefix, ns in NAMESPACES.items()}) == []


def test_every_id_in_a_layout_is_a_constant_of_its_pages_namespace():
    defined = {prefix: set(namespace_ids(ns)) for prefix, ns in NAMESPACES.items()}
    missing = {prefix: sorted(set(ids) - defined[prefix]) for prefix, ids in layout_ids().items()}
    assert {p: ids for p, ids in missing.items() if ids} == {}


def test_no_id_is_written_as_a_string_outside_its_definition():
    files = [path for pattern in SOURCES for path in sorted(ROOT.glob(pattern))]
    texts = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in files}
    retyped = []
    for ns in NAMESPACES.values():
        for cid in namespace_ids(ns):
            # As a string or a CSS selector: "x-page", '#x-page input'.
            pattern = re.compile(r"""["'#]""" + re.escape(cid) + r"(?![\w-])")
            places = [name for name, text in texts.items() for _ in pattern.finditer(text)]
            # A constant's one place is its definition, in a layout; an id built from a template has none.
            if len(places) > 1 or (places and not places[0].startswith("helicarrier/layouts/")):
                retyped.append(f"{cid}: {', '.join(places)}")
    assert retyped == []
