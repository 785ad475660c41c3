"""The HUD shell around every page: navbar, KPI strip, page container."""

from __future__ import annotations

from dash import dcc, html

KPI_REFRESH_MS = 5000

KPIS = (
    ("agents_online", "Agents online"),
    ("sessions_running", "Sessions running"),
    ("spend_today", "Spend today"),
    ("alerts_firing", "Active alerts"),
)


def _kpi(key: str, label: str) -> html.Div:
    return html.Div(
        [
            html.Div(label, className="kpi-label"),
            html.Div("–", id=f"shell-kpi-{key}", className="kpi-value num"),
        ],
        className="kpi glass",
    )


def navbar() -> html.Nav:
    from helicarrier.layouts import PAGES

    links = [
        dcc.Link(
            [html.I(className=f"bi {page.icon} me-1", **{"aria-hidden": "true"}), page.name],
            href=page.path,
            id=f"shell-nav-{page.name.lower()}",
            className="hud-nav-link",
        )
        for page in PAGES
    ]
    return html.Nav(
        [
            html.Div([html.Span(className="live-dot"), "HELICARRIER"], className="hud-brand"),
            html.Div(links, className="hud-nav-links"),
            html.Div(id="shell-user", className="hud-user"),
        ],
        className="hud-navbar",
    )


def shell_layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id="shell-url"),
            navbar(),
            html.Div([_kpi(k, label) for k, label in KPIS], className="kpi-strip", id="shell-kpis"),
            dcc.Interval(id="shell-kpi-interval", interval=KPI_REFRESH_MS),
            html.Main(id="shell-page", className="hud-page"),
        ],
        className="hud-body",
    )
