"""Stark HUD theme: vendored assets are self-contained, load in the right order, colours are
consistent between CSS and Python and meet WCAG AA, and the plotly template registers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo root may not be on sys.path under plain `pytest`
    sys.path.insert(0, str(ROOT))

from helicarrier import theme  # noqa: E402

ASSETS = ROOT / "assets"
BOOTSTRAP_CSS = ASSETS / "vendor" / "bootstrap" / "bootstrap.min.css"
ICONS_CSS = ASSETS / "vendor" / "bootstrap-icons" / "font" / "bootstrap-icons.min.css"
THEME_CSS = ASSETS / "zz-theme" / "hud.css"
VENDORED_CSS = [BOOTSTRAP_CSS, ICONS_CSS]

# url("..."), url('...') or url(...)
URL_RE = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s][^)]*?))\s*\)""", re.IGNORECASE)
IMPORT_RE = re.compile(r"@import\s", re.IGNORECASE)


def css_urls(css_path: Path) -> list[str]:
    text = css_path.read_text(encoding="utf-8")
    return [next(g for g in m.groups() if g is not None) for m in URL_RE.finditer(text)]


def all_css() -> list[Path]:
    return sorted(ASSETS.rglob("*.css"))


# ---------------------------------------------------------------------------------------------
# WCAG 2.x helpers
# ---------------------------------------------------------------------------------------------
def parse_color(value: str) -> tuple[float, float, float, float]:
    value = value.strip().lower()
    if value.startswith("#"):
        h = value[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)", value)
    assert m, f"unparseable colour {value!r}"
    r, g, b, a = m.groups()
    return float(r), float(g), float(b), float(a) if a is not None else 1.0


def blend(fg: str, bg: str) -> tuple[float, float, float]:
    """Opaque colour of translucent fg composited over opaque bg."""
    fr, fg_, fb, a = parse_color(fg)
    br, bg_, bb, _ = parse_color(bg)
    return a * fr + (1 - a) * br, a * fg_ + (1 - a) * bg_, a * fb + (1 - a) * bb


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str | tuple, b: str | tuple) -> float:
    la = luminance(a if isinstance(a, tuple) else parse_color(a)[:3])
    lb = luminance(b if isinstance(b, tuple) else parse_color(b)[:3])
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


CARD_BACKGROUNDS = {
    "darkest": theme.CARD_BG_OPAQUE_EQUIV,
    "lightest": theme.CARD_BG_OPAQUE_LIGHTEST,
}


# ---------------------------------------------------------------------------------------------
# vendored assets
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("css", VENDORED_CSS, ids=lambda p: p.name)
def test_vendored_css_exists_with_license(css: Path) -> None:
    assert css.is_file() and css.stat().st_size > 10_000
    vendor_root = css.parent if css == BOOTSTRAP_CSS else css.parent.parent
    assert (vendor_root / "LICENSE").is_file()


def test_bootstrap_is_5_3_and_only_one_bootstrap_css() -> None:
    head = BOOTSTRAP_CSS.read_text(encoding="utf-8")[:400]
    assert re.search(r"Bootstrap\s+v5\.3\.\d+", head)
    bootstraps = [p for p in all_css() if "bootstrap" in p.name and "icons" not in p.name]
    assert bootstraps == [BOOTSTRAP_CSS]


def test_icon_fonts_vendored() -> None:
    fonts = ICONS_CSS.parent / "fonts"
    assert (fonts / "bootstrap-icons.woff2").is_file()
    assert (fonts / "bootstrap-icons.woff").is_file()


@pytest.mark.parametrize("css", all_css(), ids=lambda p: str(p.relative_to(ASSETS)))
def test_css_has_no_remote_references(css: Path) -> None:
    text = css.read_text(encoding="utf-8")
    assert not IMPORT_RE.search(text), f"{css}: @import (could reach the network)"
    for url in css_urls(css):
        if url.startswith("data:"):
            continue
        assert not re.match(r"^(https?:)?//", url, re.IGNORECASE), f"{css}: remote url({url})"


@pytest.mark.parametrize("css", all_css(), ids=lambda p: str(p.relative_to(ASSETS)))
def test_css_urls_resolve_to_files_under_assets(css: Path) -> None:
    for url in css_urls(css):
        if url.startswith("data:"):
            continue
        local = url.split("#", 1)[0].split("?", 1)[0]
        assert not local.startswith("/"), f"{css}: absolute url({url}) bypasses /assets/ prefix"
        target = (css.parent / local).resolve()
        assert target.is_file(), f"{css}: url({url}) -> missing {target}"
        assert ASSETS.resolve() in target.parents, f"{css}: url({url}) escapes assets/"


def test_vendored_icon_css_references_fonts() -> None:
    urls = [u for u in css_urls(ICONS_CSS) if not u.startswith("data:")]
    assert any(".woff2" in u for u in urls)


def test_dash_loads_bootstrap_before_theme() -> None:
    dash = pytest.importorskip("dash")
    app = dash.Dash(__name__, assets_folder=str(ASSETS))
    app._walk_assets_directory()  # what Dash runs on first request; defines the <link> order
    order = [css["asset_path"] for css in app.css.get_all_css() if "asset_path" in css]
    assert order.index("vendor/bootstrap/bootstrap.min.css") < order.index("zz-theme/hud.css")
    assert order.index("vendor/bootstrap-icons/font/bootstrap-icons.min.css") < order.index(
        "zz-theme/hud.css"
    )


# ---------------------------------------------------------------------------------------------
# theme CSS content & consistency with theme.py
# ---------------------------------------------------------------------------------------------
REQUIRED_CLASSES = [
    "hud-body", "hud-navbar", "hud-brand", "hud-nav-link", "active", "kpi-strip", "kpi", "kpi-label",
    "kpi-value", "glass", "glass-header", "hero-grid", "agent-card", "agent-name", "agent-model",
    "agent-task", "agent-meta", "status-badge", "pulse-log", "pulse-row", "pulse-time", "pulse-agent",
    "pulse-level", "pulse-msg", "level-debug", "level-info", "level-warning", "level-error",
    "level-critical", "terminal", "terminal-prompt", "terminal-input", "btn-kill", "login-card",
    "page-title", "muted", "live-dot", "mono", "num", "ag-theme-alpine-dark",
]  # fmt: skip


def theme_css() -> str:
    return THEME_CSS.read_text(encoding="utf-8")


@pytest.mark.parametrize("cls", REQUIRED_CLASSES + [f"status-{s}" for s in theme.STATUS_COLORS])
def test_theme_defines_class(cls: str) -> None:
    assert re.search(rf"\.{re.escape(cls)}(?![\w-])", theme_css()), f".{cls} not styled"


@pytest.mark.parametrize("status", list(theme.STATUS_COLORS))
def test_status_applies_to_card(status: str) -> None:
    css = theme_css()
    assert re.search(rf"\.status-{status}\s*\{{[^}}]*--status-color", css)
    assert ".agent-card" in css and "border-left: 3px solid var(--status-color" in css


def css_var(name: str) -> str:
    m = re.search(rf"--{re.escape(name)}\s*:\s*([^;]+);", theme_css())
    assert m, f"--{name} not declared"
    return m.group(1).strip().lower()


def test_css_tokens_match_python_constants() -> None:
    assert css_var("hud-accent") == theme.ACCENT.lower()
    assert css_var("hud-text") == theme.TEXT.lower()
    assert css_var("hud-text-muted") == theme.TEXT_MUTED.lower()
    assert css_var("hud-bg-deep") == theme.BG_DEEP.lower()
    assert css_var("hud-bg-glow") == theme.BG_GLOW.lower()
    assert parse_color(css_var("hud-card-bg")) == parse_color(theme.CARD_BG)
    assert parse_color(css_var("hud-card-bg-hover")) == parse_color(theme.CARD_BG_HOVER)
    for status, color in theme.STATUS_COLORS.items():
        assert css_var(f"status-{status}") == color.lower(), status
    for level, color in theme.LEVEL_COLORS.items():
        assert css_var(f"level-{level}") == color.lower(), level


def test_glass_uses_prefixed_backdrop_filter_and_reduced_motion() -> None:
    css = theme_css()
    assert "-webkit-backdrop-filter: blur(12px)" in css and "backdrop-filter: blur(12px)" in css
    assert "@media (prefers-reduced-motion: reduce)" in css
    assert "fonts.googleapis" not in css and "@font-face" not in css


def test_nothing_animates_forever_and_live_panels_are_not_blurred() -> None:
    """An endless animation kept a Watchtower tab at 61% of a core with nothing changing
    (bench/browser_cpu.py): motion only when something changes; no blur under panels that change."""
    css = re.sub(r"/\*.*?\*/", "", "".join(p.read_text() for p in THEME_CSS.parent.glob("*.css")), flags=re.S)
    assert re.search(r"animation[^;{}]*infinite", css) is None
    assert re.search(r"animation-iteration-count\s*:\s*infinite", css) is None
    live = css[css.index(".glass.glass-live {") :]
    assert "backdrop-filter: none" in live[: live.index("}")]


# ---------------------------------------------------------------------------------------------
# contrast (WCAG AA)
# ---------------------------------------------------------------------------------------------
def test_opaque_equivalents_match_the_translucent_cards() -> None:
    darkest = blend(theme.CARD_BG, theme.BG_DEEP)
    lightest = blend(theme.CARD_BG_HOVER, theme.BG_GLOW)
    for got, want in ((darkest, theme.CARD_BG_OPAQUE_EQUIV), (lightest, theme.CARD_BG_OPAQUE_LIGHTEST)):
        assert all(abs(g - w) <= 1 for g, w in zip(got, parse_color(want)[:3], strict=True)), (got, want)


@pytest.mark.parametrize("bg_name", list(CARD_BACKGROUNDS))
@pytest.mark.parametrize("fg_name", ["TEXT", "TEXT_MUTED", "ACCENT"])
def test_text_contrast_aa(fg_name: str, bg_name: str) -> None:
    ratio = contrast(getattr(theme, fg_name), CARD_BACKGROUNDS[bg_name])
    assert ratio >= 4.5, f"{fg_name} on {bg_name} card: {ratio:.2f}:1 < 4.5:1"


@pytest.mark.parametrize("bg_name", list(CARD_BACKGROUNDS))
@pytest.mark.parametrize("status", list(theme.STATUS_COLORS))
def test_status_colour_contrast_aa(status: str, bg_name: str) -> None:
    ratio = contrast(theme.STATUS_COLORS[status], CARD_BACKGROUNDS[bg_name])
    assert ratio >= 4.5, f"{status} on {bg_name} card: {ratio:.2f}:1"


@pytest.mark.parametrize("status", list(theme.STATUS_COLORS))
def test_status_badge_text_on_its_tint(status: str) -> None:
    color = theme.STATUS_COLORS[status]
    r, g, b, _ = parse_color(color)
    tint = 0.08 if status == "offline" else 0.12  # matches --status-tint in hud.css
    badge_bg = blend(f"rgba({r},{g},{b},{tint})", theme.CARD_BG_OPAQUE_LIGHTEST)
    assert contrast(color, badge_bg) >= 4.5


# ---------------------------------------------------------------------------------------------
# plotly template
# ---------------------------------------------------------------------------------------------
def test_register_template() -> None:
    import plotly.io as pio

    name = theme.register_template()
    assert name == "stark_hud"
    assert name in pio.templates
    layout = pio.templates[name].layout
    assert layout.paper_bgcolor == "rgba(0,0,0,0)" and layout.plot_bgcolor == "rgba(0,0,0,0)"
    assert layout.colorway[0] == theme.ACCENT and len(set(layout.colorway)) >= 8
    assert layout.hoverlabel.font.family == theme.FONT_MONO
    assert layout.font.color == theme.TEXT
    assert theme.register_template() == name  # idempotent


def test_font_stacks_are_system_only() -> None:
    assert theme.FONT_MONO.startswith("ui-monospace") and theme.FONT_MONO.endswith("monospace")
    assert "system-ui" in theme.FONT_SANS and theme.FONT_SANS.endswith("sans-serif")
