"""Stark HUD visual theme shared by the Python side (Plotly figures, inline styles).

The CSS side lives in ``assets/zz-theme/hud.css``; the colour constants below are the
single source of truth for the palette and must match the ``--hud-*`` / ``--status-*``
custom properties declared there (``tests/unit/test_theme.py`` checks that they do).

Usage::

    from helicarrier.theme import register_template
    fig.update_layout(template=register_template())   # or px.line(..., template="stark_hud")
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE_NAME = "stark_hud"

# --- typography -----------------------------------------------------------------------
# System stacks only: the app runs on a closed network, no web fonts are fetched.
FONT_SANS = (
    'Inter, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
    '"Noto Sans", "Liberation Sans", sans-serif'
)
FONT_MONO = 'ui-monospace, "JetBrains Mono", "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace'

# --- surfaces ---------------------------------------------------------------------------
BG_DEEP = "#050910"  # page background, darkest point of the radial gradient
BG_GLOW = "#0c1a2c"  # page background, lightest point of the radial gradient
CARD_BG = "rgba(17, 28, 46, 0.62)"  # .glass background (translucent)
CARD_BG_HOVER = "rgba(22, 36, 58, 0.70)"  # .glass:hover / .agent-card:hover
# Opaque equivalents (alpha-blended over the page background) used for contrast checks.
CARD_BG_OPAQUE_EQUIV = "#0c1523"  # CARD_BG over BG_DEEP: the darkest card background
CARD_BG_OPAQUE_LIGHTEST = "#132136"  # CARD_BG_HOVER over BG_GLOW: the lightest card background
BORDER = "rgba(120, 180, 255, 0.14)"  # thin luminous 1px card border

# --- text ---------------------------------------------------------------------------------
TEXT = "#e6edf7"
TEXT_MUTED = "#8b9bb4"
GRID = "rgba(139, 155, 180, 0.14)"  # chart grid lines
AXIS_LINE = "rgba(139, 155, 180, 0.30)"

# --- accent & status ----------------------------------------------------------------------
ACCENT = "#38e1ff"  # the one accent: live state, focus, selection

STATUS_COLORS: dict[str, str] = {
    "running": "#3ddc97",
    "idle": "#9fb3cc",
    "stalled": "#fbbf24",
    "waiting": "#a78bfa",  # on something outside the agent, for a stated time (issue 16)
    "offline": "#8d939c",
    "killing": "#fb923c",
    "killed": "#f87171",
    "paused": "#a78bfa",  # by an operator or a budget's lock (issue 16)
}

# Log levels (Pulse log), matching .level-* classes.
LEVEL_COLORS: dict[str, str] = {
    "debug": "#7d8ba1",
    "info": "#38e1ff",
    "warning": "#fbbf24",
    "error": "#f87171",
    "critical": "#ff5c8a",
}

# Eight hues that stay distinguishable on a near-black background; accent first.
COLORWAY: list[str] = [
    ACCENT,
    "#a78bfa",  # violet
    "#3ddc97",  # green
    "#fbbf24",  # amber
    "#f472b6",  # pink
    "#fb923c",  # orange
    "#60a5fa",  # blue
    "#cbd5e1",  # light slate
]


def _build_template() -> go.layout.Template:
    axis = dict(
        gridcolor=GRID,
        linecolor=AXIS_LINE,
        zerolinecolor=AXIS_LINE,
        tickcolor=AXIS_LINE,
        tickfont=dict(family=FONT_MONO, color=TEXT_MUTED, size=11),
        title=dict(font=dict(family=FONT_SANS, color=TEXT_MUTED, size=12)),
        showline=False,
        zeroline=False,
        automargin=True,
    )
    layout = go.Layout(
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(family=FONT_SANS, color=TEXT, size=13),
        title=dict(font=dict(family=FONT_SANS, color=TEXT, size=15), x=0.01, xanchor="left"),
        colorway=COLORWAY,
        xaxis=axis,
        yaxis=axis,
        legend=dict(
            bgcolor="rgba(0,0,0,0)",
            bordercolor="rgba(0,0,0,0)",
            font=dict(color=TEXT_MUTED, size=12),
            orientation="h",
            yanchor="bottom",
            y=1.02,
            xanchor="left",
            x=0,
        ),
        hoverlabel=dict(
            bgcolor="#0e1a2b",
            bordercolor=ACCENT,
            font=dict(family=FONT_MONO, color=TEXT, size=12),
        ),
        margin=dict(l=48, r=16, t=40, b=40),
        colorscale=dict(
            sequential=[[0.0, "#0b2540"], [0.5, "#1f7fb0"], [1.0, ACCENT]],
            diverging=[[0.0, "#f87171"], [0.5, "#1b2738"], [1.0, ACCENT]],
        ),
        polar=dict(
            bgcolor="rgba(0,0,0,0)",
            angularaxis=dict(gridcolor=GRID, linecolor=AXIS_LINE),
            radialaxis=dict(gridcolor=GRID, linecolor=AXIS_LINE),
        ),
        modebar=dict(bgcolor="rgba(0,0,0,0)", color=TEXT_MUTED, activecolor=ACCENT),
    )
    return go.layout.Template(
        layout=layout,
        data=dict(
            scatter=[go.Scatter(line=dict(width=2), marker=dict(size=6))],
            bar=[go.Bar(marker=dict(line=dict(width=0)))],
            pie=[go.Pie(marker=dict(line=dict(color=BG_DEEP, width=2)))],
            indicator=[go.Indicator(number=dict(font=dict(family=FONT_MONO, color=TEXT)))],
            table=[
                go.Table(
                    header=dict(fill=dict(color="#111c2e"), font=dict(color=TEXT_MUTED)),
                    cells=dict(fill=dict(color="#0c1523"), font=dict(family=FONT_MONO, color=TEXT)),
                )
            ],
        ),
    )


def register_template() -> str:
    """Register the "stark_hud" template in ``plotly.io.templates`` and return its name.

    Idempotent. Does not change ``pio.templates.default``; pass ``template=`` per figure or
    set ``pio.templates.default = register_template()`` once at start-up.
    """
    pio.templates[TEMPLATE_NAME] = _build_template()
    return TEMPLATE_NAME
