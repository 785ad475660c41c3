"""The Operations page's "Service levels" panel: the layout has it, the table shows each SLO's figures from
the same service as GET /api/v1/slo, and the refresh serves it to a signed-in user."""

from __future__ import annotations

from datetime import UTC, datetime

from dash import html

from helicarrier.layouts.operations import ID, layout, service_levels_table
from helicarrier.slo.recorder import minute_of
from helicarrier.slo.service import report_json
from tests.web.test_operations import app, signed_in  # noqa: F401 - the fixture, with its users


def _texts(component) -> list[str]:
    """Every string in a component tree, depth first."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    if not isinstance(children, list | tuple):
        children = [children]
    return [t for c in children for t in _texts(c)]


def _find(component, component_id):
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


def test_the_page_has_a_service_levels_panel():
    page = layout()
    panel = _find(page, ID.SLO)
    assert panel is not None
    assert "Service levels" in _texts(page)


def _burning(ctx):
    now = minute_of(datetime.now(UTC))
    # Twenty bad of every thousand for the last hour: 20x the 0.1% budget, a page.
    ctx.repo.add_sli_counts({(now - m, "ingest_availability"): (1000, 20) for m in range(60)})
    return [report_json(r) for r in ctx.slo.report(datetime.now(UTC))]


def test_the_table_shows_slis_budget_burn_and_the_page(ctx):
    table = service_levels_table(_burning(ctx))
    row = _find(table, f"{ID.SLO}-ingest_availability")
    cells = [_texts(td) for td in row.children]
    assert cells[0] == ["Ingest availability"] and cells[1] == ["99.9%"]
    assert cells[2:5] == [["98.000%"], ["98.000%"], ["98.000%"]]  # 1 h, 24 h, 30 d
    # 1,200 bad against 60 allowed: the 30-day budget is overspent nineteen times over.
    assert cells[5] == ["-1900.0%"]
    assert cells[6:8] == [["20.0x"], ["20.0x"]]
    assert cells[8] == ["page: page_fast, page_slow, ticket"]
    # An SLO without events says so.
    latency = [_texts(td) for td in _find(table, f"{ID.SLO}-ingest_latency").children]
    assert latency[2:6] == [["–"], ["–"], ["–"], ["–"]] and latency[8] == ["ok"]


def test_the_refresh_serves_the_panel_to_a_signed_in_user(app):  # noqa: F811 - the imported fixture
    ctx = app.server.config["HELICARRIER"]
    _burning(ctx)
    client = signed_in(app, "omar")
    resp = client.post(
        "/_dash-update-component",
        json={
            "output": f"{ID.SLO}.children",
            "outputs": {"id": ID.SLO, "property": "children"},
            "inputs": [{"id": ID.INTERVAL, "property": "n_intervals", "value": 1}],
            "changedPropIds": [f"{ID.INTERVAL}.n_intervals"],
        },
    )
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "Ingest availability" in body and "20.0x" in body and "page: page_fast" in body
    assert isinstance(service_levels_table([]), html.Table)
