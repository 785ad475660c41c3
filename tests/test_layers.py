"""The import graph has layers, and no module imports upward: the refusal type and the other value modules
at the bottom; pure modules (rules, lifecycles, normalization, scoring) import no database, Flask or Dash; the
data layer imports no service, view or page; services import no Flask or Dash. Imports inside functions
count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "helicarrier"

BOTTOM = ("helicarrier.errors", "helicarrier.actors", "helicarrier.money", "helicarrier.usage_fields")
PURE = (
    "helicarrier.jsonio",
    "helicarrier.localtime",
    "helicarrier.formatting",
    "helicarrier.control.lifecycle",
    "helicarrier.control.validation",
    "helicarrier.alerts.lifecycle",
    "helicarrier.alerts.rules",
    "helicarrier.alerts.matchers",
    "helicarrier.alerts.overlays",
    "helicarrier.alerts.grouping",
    "helicarrier.alerts.validation",
    "helicarrier.analytics.scoring",
    "helicarrier.analytics.filters",
    "helicarrier.analytics.shapes",
    "helicarrier.fleet.grid",
    "helicarrier.fleet.status",
    "helicarrier.auth.binding",
    "helicarrier.auth.throttle",
    "helicarrier.ingest.normalize",
    "helicarrier.ingest.providers",
    "helicarrier.ingest.validate",
    "helicarrier.ingest.schemas",
    "helicarrier.ingest.fold",
    "helicarrier.ingest.legacy",
    "helicarrier.pricing.book",
    "helicarrier.pricing.records",
    "helicarrier.pricing._plan",
    "helicarrier.data.rollups",
    "helicarrier.otlp.wire",
    "helicarrier.otlp.attributes",
    "helicarrier.otlp.mapped",
    "helicarrier.otlp.traces",
    "helicarrier.otlp.logs",
    "helicarrier.otlp.metrics",
    "helicarrier.otlp.unmapped",
    "helicarrier.observability.metrics",
    "helicarrier.slo.definitions",
    "helicarrier.slo.budget",
)
SERVICES = (
    "helicarrier.control.service",
    "helicarrier.alerts.service",
    "helicarrier.ingest.service",
    "helicarrier.fleet.service",
    "helicarrier.otlp.service",
    "helicarrier.retention.service",
    "helicarrier.retention.partitions",
    "helicarrier.slo.service",
)
WEB = ("flask", "dash", "werkzeug", "dash_bootstrap_components", "dash_ag_grid", "plotly")
ABOVE_DATA = (
    "helicarrier.api",
    "helicarrier.callbacks",
    "helicarrier.layouts",
    "helicarrier.webapp",
    "helicarrier.context",
    "helicarrier.cli",
    "helicarrier.scheduler",
    *SERVICES,
)


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    here = _module(path).split(".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                pkg = here[: len(here) - node.level + (1 if path.name == "__init__.py" else 0)]
                base = ".".join([*pkg, base] if base else pkg)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


MODULES = {_module(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offences(modules, forbidden) -> dict[str, list[str]]:
    out = {}
    for module, imports in MODULES.items():
        if _within(module, modules):
            bad = sorted(i for i in imports if _within(i, forbidden))
            if bad:
                out[module] = bad
    return out


def test_the_bottom_imports_nothing_of_ours():
    assert _offences(BOTTOM, ("helicarrier",)) == {}


def test_pure_modules_import_no_database_and_no_web():
    assert _offences(PURE, ("helicarrier.data", "sqlalchemy", *WEB, *SERVICES)) == {}


def test_the_data_layer_imports_no_service_view_or_page():
    assert _offences(("helicarrier.data",), (*ABOVE_DATA, *WEB)) == {}


def test_services_import_no_web():
    interfaces = ("helicarrier.api", "helicarrier.callbacks", "helicarrier.layouts")
    assert _offences(SERVICES, (*WEB, *interfaces)) == {}


@pytest.mark.parametrize("prefix", [*BOTTOM, *PURE, *SERVICES])
def test_every_layered_module_exists(prefix):
    assert any(_within(m, (prefix,)) for m in MODULES), f"{prefix} is listed in a layer but does not exist"
