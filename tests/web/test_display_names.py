"""One name per model and per agent across the charts, the matrix and the Ledger: the short model id with
the dated one on hover, the agent's name with its id on hover (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from helicarrier.callbacks import intelligence as intel_cb
from helicarrier.callbacks import ledger as ledger_cb
from helicarrier.layouts.intelligence_charts import heatmap_figure
from helicarrier.layouts.ledger_filters import build_filters
from helicarrier.names import agent_labels, short_model

DATED = "claude-sonnet-4-5-20250929"


@pytest.fixture
def seeded(app):
    """The demo history: sessions ask for short model ids, the providers answer with dated ones."""
    from helicarrier.demo.seed import seed_demo

    ctx = app.server.config["HELICARRIER"]
    seed_demo(ctx.ingest, days=1, now=datetime.now(UTC))
    return ctx


def test_short_ids_drop_the_release_date_only():
    assert short_model("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    assert short_model("gpt-4.1-2025-04-14") == "gpt-4.1"
    assert short_model("claude-3-5-sonnet@20240620") == "claude-3-5-sonnet"
    for same in ("gemini-2.5-pro", "mistral-large-latest", "o3", "gpt-4o-2024", ""):
        assert short_model(same) == same


def test_agents_sharing_a_name_keep_their_ids():
    labels = agent_labels(["a-1", "a-2", "b-1", "c-1"], {"a-1": "Atlas", "a-2": "Atlas", "b-1": "Bo"})
    assert labels == {"a-1": "Atlas (a-1)", "a-2": "Atlas (a-2)", "b-1": "Bo", "c-1": "c-1"}


def _charts(ctx, group: str):
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=2)).isoformat(), today.isoformat()
    cost, _, tokens, _ = intel_cb.charts(ctx, start, end, "UTC", group, "day", "input_tokens")
    return cost, tokens


def test_the_usage_charts_name_models_as_the_ledger_does(seeded):
    cost, tokens = _charts(seeded, "model")
    names = {t.name for t in cost.data}
    ledger = ledger_cb.rows_response(seeded, {"startRow": 0, "endRow": 500}, build_filters())["rowData"]
    ledger_models = {r["model"] for r in ledger}
    # The providers answered with dated ids; the legend shows the id the sessions asked for.
    assert "claude-sonnet-4-5" in names and not any(n[-8:].isdigit() for n in names), names
    assert names <= ledger_models | {"other"}, (names, ledger_models)
    sonnet = next(t for t in cost.data if t.name == "claude-sonnet-4-5")
    assert set(sonnet.customdata) == {DATED} and "%{customdata}" in sonnet.hovertemplate
    assert {t.name: t.marker.color for t in cost.data} == {t.name: t.marker.color for t in tokens.data}


def test_the_charts_and_the_ledger_show_agents_by_name_with_the_id_on_hover(seeded):
    cost, _ = _charts(seeded, "agent")
    atlas = next(t for t in cost.data if t.name == "Atlas")
    assert set(atlas.customdata) == {"atlas-01"}
    rows = ledger_cb.rows_response(seeded, {"startRow": 0, "endRow": 500}, build_filters())["rowData"]
    row = next(r for r in rows if r["agent_id"] == "atlas-01")
    assert row["agent"] == "Atlas"
    from helicarrier.layouts.ledger_grid import COLUMNS

    agent_col = next(c for c in COLUMNS if c["headerName"] == "Agent")
    assert agent_col["field"] == "agent" and agent_col["tooltipField"] == "agent_id"


def _cells(*models: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": m, "task_kind": "coding", "successes": 30, "total": 40, "wilson_low": 0.6,
             "wilson_high": 0.85}
            for m in models
        ]
    )  # fmt: skip


def test_the_matrix_rows_show_short_ids_and_the_stored_one_on_hover():
    fig = heatmap_figure(_cells(DATED, "gpt-4.1"), min_samples=20)
    assert list(fig.layout.yaxis.ticktext) == ["claude-sonnet-4-5", "gpt-4.1"]
    assert DATED in fig.data[0].customdata[0][0]
    # Two ids of one model are scored apart: their rows keep the ids that tell them apart.
    fig = heatmap_figure(_cells("gpt-4.1", "gpt-4.1-2025-04-14"), min_samples=20)
    assert list(fig.layout.yaxis.ticktext) == ["gpt-4.1", "gpt-4.1-2025-04-14"]


def test_the_ledgers_agent_filter_offers_names_and_filters_by_id(seeded):
    agents, *_ = ledger_cb.load_options(seeded, None, *[None] * len(ledger_cb.FILTER_IDS))
    atlas = next(o for o in agents if o["value"] == "atlas-01")
    assert atlas == {"label": "Atlas", "value": "atlas-01", "title": "atlas-01"}
