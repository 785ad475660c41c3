"""Charts people compare side by side agree: a model is one colour in the cost and the tokens chart, and
the matrix's cell labels read on every cell, the brightest included (WCAG contrast, as the theme's tests)."""

from __future__ import annotations

import pandas as pd

from helicarrier.layouts.intelligence_charts import (
    MATRIX_SCALE,
    cell_text_color,
    contrast_ratio,
    cost_figure,
    heatmap_figure,
    paired_colors,
    scale_color,
    tokens_figure,
)
from tests.web.test_theme import parse_color

DAY = pd.Timestamp("2026-11-01", tz="UTC")


def test_a_model_is_one_colour_in_the_cost_and_the_tokens_chart():
    # gpt-4.1 costs most, claude uses most tokens: each chart ranks them the other way round.
    costs = pd.DataFrame(
        [
            {"bucket": DAY, "group": "gpt-4.1", "cost_nanos": 9_000, "unpriced_events": 0},
            {"bucket": DAY, "group": "claude-haiku", "cost_nanos": 1_000, "unpriced_events": 0},
        ]
    )
    tokens = pd.DataFrame(
        [
            {"bucket": DAY, "group": "gpt-4.1", "input_tokens": 10},
            {"bucket": DAY, "group": "claude-haiku", "input_tokens": 900},
        ]
    )
    colors = paired_colors(costs, tokens, "input_tokens")
    cost = {t.name: t.marker.color for t in cost_figure(costs, colors).data}
    toks = {t.name: t.marker.color for t in tokens_figure(tokens, "input_tokens", "Input", colors).data}
    assert cost == toks and cost["gpt-4.1"] != cost["claude-haiku"]


def test_every_cell_label_of_the_matrix_reads_on_its_cell():
    for value in [i / 100 for i in range(101)] + [stop for stop, _ in MATRIX_SCALE]:
        text = parse_color(cell_text_color(value))[:3]
        assert contrast_ratio(text, scale_color(value)) >= 4.5, value
    cells = pd.DataFrame(
        [{"model": "m", "task_kind": "coding", "successes": 99, "total": 100, "wilson_low": 0.95,
          "wilson_high": 0.99}]
    )  # fmt: skip
    fig = heatmap_figure(cells, min_samples=20)
    (label,) = [a for a in fig.layout.annotations if "99/100" in a.text]
    assert contrast_ratio(parse_color(label.font.color)[:3], scale_color(0.95)) >= 4.5
