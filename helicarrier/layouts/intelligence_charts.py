"""Figures of the Intelligence page, from the small frames the repository returns. Each figure is drawn from
a tidy frame that is also what its CSV download holds, so the download is exactly the chart's data."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from helicarrier.names import row_labels
from helicarrier.theme import COLORWAY, FONT_MONO, TEXT_MUTED, register_template

if TYPE_CHECKING:  # pandas (and numpy) load on first use: a worker that only serves the API never needs them
    import pandas as pd

TOP_GROUPS = 7  # plus "other": the eight colours of the template's colorway
OTHER = "other"
INSUFFICIENT_FILL = "rgba(139, 155, 180, 0.10)"
MATRIX_SCALE = [[0.0, "#3b1424"], [0.35, "#7a2c3a"], [0.6, "#8a6a1c"], [0.8, "#1f7f6a"], [1.0, "#3ddc97"]]
# Cell labels are white or black, whichever reads better on the cell: only those two reach WCAG's 4.5:1 on
# every colour of a scale from dark to bright (the theme's softer text fell to 4.1 at mid-scale).
LIGHT_TEXT, DARK_TEXT = "#ffffff", "#000000"


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def scale_color(value: float) -> tuple[float, float, float]:
    """The heatmap's colour at ``value`` in [0, 1], interpolated as Plotly does between the scale's stops."""
    v = min(max(float(value), 0.0), 1.0)
    for (lo, c0), (hi, c1) in zip(MATRIX_SCALE, MATRIX_SCALE[1:], strict=False):
        if v <= hi:
            t = 0.0 if hi == lo else (v - lo) / (hi - lo)
            return tuple(a + (b - a) * t for a, b in zip(_rgb(c0), _rgb(c1), strict=True))
    return tuple(float(c) for c in _rgb(MATRIX_SCALE[-1][1]))


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a, b) -> float:
    """WCAG contrast of two RGB colours (1 to 21)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def cell_text_color(value: float) -> str:
    """White, or black where the cell is bright: whichever reads better on it."""
    bg = scale_color(value)
    return (
        LIGHT_TEXT
        if contrast_ratio(_rgb(LIGHT_TEXT), bg) >= contrast_ratio(_rgb(DARK_TEXT), bg)
        else DARK_TEXT
    )


def group_colors(*orders: list[str]) -> dict[str, str]:
    """One colour per group across paired charts (cost and tokens of the same range): in the order the
    groups first appear, "other" grey. Each chart ranks its groups by its own total, so without this the
    same model took another colour in the chart beside it."""
    colors: dict[str, str] = {OTHER: "#5b6b82"}
    for order in orders:
        for group in order:
            if group not in colors:
                colors[group] = COLORWAY[(len(colors) - 1) % len(COLORWAY)]
    return colors


def plot_text(value: Any) -> str:
    """Text that came from agents (model, agent, provider names) as Plotly shows it: Plotly renders trace
    names and tick labels as pseudo-HTML (<a href>, <b>, <br>...), so what an agent typed is escaped."""
    return html.escape(str(value), quote=False)


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        template=register_template(),
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"color": TEXT_MUTED, "size": 14},
            }
        ],
        margin={"l": 16, "r": 16, "t": 16, "b": 16},
    )
    return fig


def chart_frame(
    series: pd.DataFrame,
    columns: list[str],
    top: int = TOP_GROUPS,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """[bucket, group, *columns]: the ``top`` groups by the first column's total, the rest as "other".
    ``labels``: group id -> display name (helicarrier.names); ids sharing a name are summed as one."""
    import pandas as pd

    if series is None or series.empty:
        return pd.DataFrame(columns=["bucket", "group", *columns])
    df = series[["bucket", "group", *columns]].copy()
    df["group"] = df["group"].fillna("–").astype(str)
    if labels:
        df["group"] = df["group"].map(lambda g: labels.get(g, g))
    if df["group"].nunique() > top + 1:
        totals = df.groupby("group")[columns[0]].sum().sort_values(ascending=False)
        keep = set(totals.index[:top])
        df.loc[~df["group"].isin(keep), "group"] = OTHER
    df = df.groupby(["bucket", "group"], as_index=False, sort=True)[columns].sum()
    return df.sort_values(["bucket", "group"]).reset_index(drop=True)


def _group_order(frame: pd.DataFrame, value: str) -> list[str]:
    totals = frame.groupby("group")[value].sum().sort_values(ascending=False)
    order = [g for g in totals.index if g != OTHER]
    return order + ([OTHER] if OTHER in totals.index else [])


def stacked_figure(
    frame: pd.DataFrame,
    value: str,
    *,
    scale: float = 1.0,
    unit: str = "",
    hover: str,
    colors: dict[str, str] | None = None,
    ids: dict[str, str] | None = None,
) -> go.Figure:
    """Stacked bars of ``value`` per bucket, one trace per group (largest first, "other" last, grey).
    ``ids``: display name -> the ids behind it, shown on hover (the dated model id, the agent id)."""
    fig = go.Figure()
    order = _group_order(frame, value)
    colors = {**group_colors(order), **(colors or {})}
    for group in order:
        part = frame[frame["group"] == group]
        behind = (ids or {}).get(group, "")
        fig.add_bar(
            x=part["bucket"],
            y=part[value] / scale,
            name=plot_text(group),
            marker_color=colors[group],
            customdata=[plot_text(behind)] * len(part),
            # The name and ids by reference, not pasted in: a model called "%{y}" stays text.
            hovertemplate=f"%{{x}}<br>%{{fullData.name}}: {hover}"
            + ("<br>%{customdata}" if behind else "")
            + "<extra></extra>",
        )
    fig.update_layout(
        template=register_template(),
        barmode="stack",
        bargap=0.25,
        hovermode="closest",
        yaxis={"title": unit, "rangemode": "tozero"},
        xaxis={"title": None},
        margin={"l": 56, "r": 16, "t": 16, "b": 24},
        legend={"orientation": "h", "y": -0.12, "yanchor": "top", "x": 0, "font": {"size": 11}},
    )
    return fig


def paired_colors(costs: pd.DataFrame, tokens: pd.DataFrame, kind: str) -> dict[str, str]:
    """The colours of the cost and tokens charts of one range: by cost first, then the tokens' own."""
    orders = [_group_order(f, v) for f, v in ((costs, "cost_nanos"), (tokens, kind)) if not f.empty]
    return group_colors(*orders)


def cost_figure(
    frame: pd.DataFrame, colors: dict[str, str] | None = None, ids: dict[str, str] | None = None
) -> go.Figure:
    if frame.empty:
        return empty_figure("No usage in this range.")
    fig = stacked_figure(
        frame, "cost_nanos", scale=1e9, unit="USD", hover="$%{y:,.4f}", colors=colors, ids=ids
    )
    fig.update_yaxes(tickprefix="$", tickformat=",.2f")
    return fig


def tokens_figure(
    frame: pd.DataFrame,
    kind: str,
    label: str,
    colors: dict[str, str] | None = None,
    ids: dict[str, str] | None = None,
) -> go.Figure:
    if frame.empty:
        return empty_figure("No usage in this range.")
    fig = stacked_figure(
        frame, kind, unit=f"{label} tokens", hover="%{y:,.0f} tokens", colors=colors, ids=ids
    )
    fig.update_yaxes(tickformat="~s")
    return fig


def heatmap_height(cells: pd.DataFrame | None) -> int:
    """Pixels for the heatmap: a fixed band per model, so cells stay legible with many models."""
    n = 0 if cells is None or cells.empty else cells["model"].nunique()
    return max(260, 80 + 56 * n)


def heatmap_figure(cells: pd.DataFrame, min_samples: int) -> go.Figure:
    """Models (rows) x task kinds (columns), coloured by the Wilson lower bound; the sample count in each
    cell; cells under ``min_samples`` grey, hatched and labelled "insufficient data" instead of coloured.

    ``cells``: [model, task_kind, successes, total, wilson_low, wilson_high] (one row per non-empty cell).
    """
    if cells is None or cells.empty:
        return empty_figure("No finished sessions in this range.")
    models = sorted(cells["model"].unique(), key=str)
    names = row_labels(str(m) for m in models)
    kinds = sorted(cells["task_kind"].unique(), key=str)
    mi = {m: i for i, m in enumerate(models)}
    ki = {k: i for i, k in enumerate(kinds)}
    z: list[list[Any]] = [[None] * len(kinds) for _ in models]
    insufficient: list[tuple[int, int, str]] = []
    scored: list[tuple[int, int, str, str]] = []  # (x, y, label, its colour): readable on its own cell
    hover: list[list[str]] = [["no sessions"] * len(kinds) for _ in models]
    fig = go.Figure()
    for c in cells.itertuples(index=False):
        y, x = mi[c.model], ki[c.task_kind]
        # The hover names the model as stored (the dated id where the provider gave one).
        who = plot_text(c.model) + "<br>"
        counts = f"{int(c.successes)}/{int(c.total)}"
        interval = f"95% CI {c.wilson_low:.0%}–{c.wilson_high:.0%}"
        if c.total < min_samples:
            insufficient.append((x, y, f"{counts}<br>insufficient data"))
            hover[y][x] = who + f"{counts} succeeded: fewer than {min_samples} sessions, not scored"
            fig.add_scatter(
                x=[x - 0.5, x + 0.5, x + 0.5, x - 0.5, x - 0.5],
                y=[y - 0.5, y - 0.5, y + 0.5, y + 0.5, y - 0.5],
                fill="toself",
                mode="none",
                fillcolor=INSUFFICIENT_FILL,
                fillpattern={
                    "shape": "/",
                    "fgcolor": "rgba(139, 155, 180, 0.35)",
                    "size": 8,
                    "solidity": 0.15,
                },
                hoverinfo="skip",
                showlegend=False,
            )
        else:
            z[y][x] = float(c.wilson_low)
            scored.append((x, y, f"{counts}<br>≥{c.wilson_low:.0%}", cell_text_color(float(c.wilson_low))))
            hover[y][x] = who + f"{counts} succeeded · rate {c.successes / c.total:.1%} · {interval}"
    fig.add_heatmap(
        z=z,
        x=list(range(len(kinds))),
        y=list(range(len(models))),
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        colorscale=MATRIX_SCALE,
        zmin=0,
        zmax=1,
        xgap=3,
        ygap=3,
        colorbar={"title": {"text": "lower<br>bound", "side": "top"}, "tickformat": ".0%", "thickness": 10},
    )
    # The heatmap draws over the hatching: move it first so the pattern shows in the empty cells.
    fig.data = (fig.data[-1], *fig.data[:-1])
    for x, y, label in insufficient:
        fig.add_annotation(
            x=x, y=y, text=label, showarrow=False, font={"family": FONT_MONO, "size": 11, "color": TEXT_MUTED}
        )
    for x, y, label, color in scored:
        fig.add_annotation(
            x=x, y=y, text=label, showarrow=False, font={"family": FONT_MONO, "size": 11, "color": color}
        )
    fig.update_layout(
        template=register_template(),
        xaxis={
            "tickmode": "array",
            "tickvals": list(range(len(kinds))),
            "ticktext": [plot_text(k) for k in kinds],
            "showgrid": False,
            "side": "top",
            "range": [-0.5, len(kinds) - 0.5],
        },
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(len(models))),
            "ticktext": [plot_text(names[str(m)]) for m in models],
            "showgrid": False,
            "autorange": "reversed",
        },
        margin={"l": 16, "r": 16, "t": 48, "b": 16},
    )
    return fig
