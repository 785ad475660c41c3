"""The HUD shell around every page: navbar, KPI strip, page container."""

from __future__ import annotations

from dash import dcc, html

from helicarrier.layouts import PAGES

KPI_REFRESH_MS = 5000

KPIS = (
    ("agents_online", "Agents online"),
    ("sessions_running", "Sessions running"),
    ("spend_today", "Spend today"),
    ("alerts_firing", "Active alerts"),
)
# Where each tile leads: the figure's detail, as in Grafana's stat panels with a data link.
KPI_LINKS = {
    "agents_online": "/",
    "sessions_running": "/ledger?status=running",
    "spend_today": "/intelligence?range=today",
    "alerts_firing": "/alerts",
}


class ID:
    """The shell's component ids."""

    URL = "shell-url"
    PAGE = "shell-page"
    KPI_STRIP = "shell-kpis"
    KPI = {key: f"shell-kpi-{key}" for key, _ in KPIS}
    KPI_INTERVAL = "shell-kpi-interval"
    USER = "shell-user"
    USERNAME = "shell-username"
    ROLE = "shell-role"
    LOGOUT = "shell-logout"
    CONNECTION = "shell-connection"
    MAINTENANCE = "shell-maintenance"
    TITLE = "shell-title"  # the browser tab's title for the page shown
    NAV = {page.name: f"shell-nav-{page.name.lower()}" for page in PAGES}  # the navbar's link to each page


def _kpi(key: str, label: str) -> dcc.Link:
    return dcc.Link(
        [
            html.Div(label, className="kpi-label"),
            html.Div("–", id=ID.KPI[key], className="kpi-value num"),
        ],
        href=KPI_LINKS[key],
        className="kpi kpi-link glass",
        title=f"{label}: open the detail",
    )


def _sign_out() -> html.Form:
    """Sign-out is a POST with the session's CSRF token: a link (a GET) could be fired by any page."""
    from helicarrier.auth.web import csrf_token

    return html.Form(
        [
            dcc.Input(type="hidden", name="csrf", value=csrf_token()),
            html.Button("Sign out", id=ID.LOGOUT, type="submit", className="btn btn-link ms-3 hud-signout"),
        ],
        action="/logout",
        method="POST",
        className="d-inline",
    )


def _user_box() -> html.Div:
    from helicarrier.auth.web import current_user

    user = current_user()
    if user is None:
        return html.Div(id=ID.USER, className="hud-user")
    return html.Div(
        [
            html.I(className="bi bi-person-circle me-1", **{"aria-hidden": "true"}),
            html.Span(user.username, id=ID.USERNAME),
            html.Span(user.role, id=ID.ROLE, className=f"role-badge role-{user.role} ms-2"),
            _sign_out(),
        ],
        id=ID.USER,
        className="hud-user muted",
    )


def navbar() -> html.Nav:
    links = [
        dcc.Link(
            [html.I(className=f"bi {page.icon} me-1", **{"aria-hidden": "true"}), page.name],
            href=page.path,
            id=ID.NAV[page.name],
            className="hud-nav-link",
        )
        for page in PAGES
    ]
    return html.Nav(
        [
            dcc.Link(
                [html.I(className="bi bi-hexagon-half", **{"aria-hidden": "true"}), "Helicarrier"],
                href="/",
                className="hud-brand",
            ),
            html.Div(links, className="d-flex hud-nav-links"),
            html.Div(
                [
                    html.Span(
                        [html.Span(className="live-dot me-2"), html.Span("LIVE", className="hud-live-text")],
                        className="hud-live mono",
                    ),
                    _user_box(),
                ],
                className="ms-auto d-flex align-items-center hud-nav-right",
            ),
        ],
        className="hud-navbar",
    )


def shell_layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id=ID.URL),
            dcc.Store(id=ID.TITLE),
            navbar(),
            # Shown by assets/connection.js while the server or its database does not answer.
            html.Div(
                id=ID.CONNECTION, className="hud-connection alert alert-warning", role="alert", hidden=True
            ),
            # Filled by the shell's callback while maintenance mode is on (ingest paused on every instance).
            html.Div(
                id=ID.MAINTENANCE, className="hud-maintenance alert alert-info", role="status", hidden=True
            ),
            html.Div([_kpi(k, label) for k, label in KPIS], className="kpi-strip", id=ID.KPI_STRIP),
            dcc.Interval(id=ID.KPI_INTERVAL, interval=KPI_REFRESH_MS),
            html.Main(id=ID.PAGE, className="hud-page"),
        ],
        className="hud-body",
        **{"data-bs-theme": "dark"},
    )
