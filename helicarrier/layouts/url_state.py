"""Page state in the URL: the Ledger's filters and the Intelligence page's range, zone and grouping live in
the query string, so a link can be shared, a reload keeps them and Back returns to them (as in Grafana and
Langfuse). Parsing is strict and bounded: a value that is not one the controls offer is dropped, never shown
as typed and never an error (a shared link from an older version still opens the page).

Plain functions, tested without Dash; the pages read ``*_from_query`` when they render and a clientside
callback writes the string ``*_query`` builds back with ``history.replaceState`` (no page reload)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlencode

from helicarrier.localtime import FIRST_YEAR, LAST_YEAR, MAX_ZONE_LENGTH, zone

MAX_VALUES = 50  # per multi-value key: more is not a filter anybody picked
MAX_VALUE_LEN = 200  # the longest id or model name the schema stores
MAX_QUERY_LEN = 8000  # the whole string: browsers and proxies cut URLs near here anyway

LEDGER_LISTS = ("agent", "model", "provider", "status", "label")
LEDGER_PRESETS = ("1h", "24h", "7d", "30d", "month")
INTEL_PRESETS = ("today", "7d", "30d", "month")
INTEL_GROUPS = ("model", "provider", "agent")


def _parse(search: str | None) -> dict[str, list[str]]:
    text = (search or "").lstrip("?")[:MAX_QUERY_LEN]
    try:
        parsed = parse_qs(text, keep_blank_values=False, max_num_fields=MAX_VALUES * 8)
    except ValueError:  # more fields than that: a crafted link, not a page state
        return {}
    return {k: [v for v in vals if v and len(v) <= MAX_VALUE_LEN][:MAX_VALUES] for k, vals in parsed.items()}


def _first(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key) or []
    return values[0] if values else None


def query_value(search: str | None, key: str) -> str | None:
    """One parameter of a page's query string, read under the same bounds as the rest of its state."""
    return _first(_parse(search), key)


def parse_day(value: str | None) -> str | None:
    """An ISO day within the years the pages accept, or None."""
    if not value:
        return None
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return d.isoformat() if FIRST_YEAR <= d.year <= LAST_YEAR else None


def _encode(pairs: list[tuple[str, str]]) -> str:
    return "?" + urlencode(pairs) if pairs else ""


def ledger_from_query(search: str | None) -> dict:
    """The Ledger's control values from a query string (missing or invalid values: the control's default)."""
    params = _parse(search)
    state: dict = {key: params.get(key, []) for key in LEDGER_LISTS}
    state["from"] = parse_day(_first(params, "from"))
    state["to"] = parse_day(_first(params, "to"))
    state["q"] = (_first(params, "q") or "").strip()
    preset = _first(params, "range")
    state["range"] = preset if preset in LEDGER_PRESETS and not (state["from"] or state["to"]) else None
    return state


def ledger_query(
    lists: dict[str, list[str] | None], start: str | None, end: str | None, text: str | None,
    preset: str | None = None,
) -> str:  # fmt: skip
    """The query string for the Ledger's control values ("" when nothing is filtered)."""
    pairs = [(key, str(v)) for key in LEDGER_LISTS for v in (lists.get(key) or [])]
    if preset in LEDGER_PRESETS:
        pairs.append(("range", preset))
    else:
        pairs += [(k, d) for k, d in (("from", parse_day(start)), ("to", parse_day(end))) if d]
    if text and text.strip():
        pairs.append(("q", text.strip()[:MAX_VALUE_LEN]))
    return _encode(pairs)


def preset_bounds(preset: str | None, now: datetime | None = None, tz: str = "UTC") -> tuple:
    """A Ledger preset as a UTC [start, end) range (end None: up to now and beyond); (None, None) if none."""
    now = now or datetime.now(UTC)
    spans = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
             "30d": timedelta(days=30)}  # fmt: skip
    if preset in spans:
        return now - spans[preset], None
    if preset == "month":
        local = now.astimezone(zone(tz))
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return first.astimezone(UTC), None
    return None, None


def intel_preset_days(preset: str, today: date) -> tuple[str, str]:
    """An Intelligence preset as the date picker's inclusive first and last day."""
    first = {
        "today": today,
        "7d": today - timedelta(days=6),
        "30d": today - timedelta(days=29),
        "month": today.replace(day=1),
    }[preset]
    return first.isoformat(), today.isoformat()


def intel_from_query(search: str | None) -> dict:
    """The Intelligence controls from a query string; None where the page's default applies."""
    params = _parse(search)
    tz = _first(params, "tz")
    if tz is not None:
        try:
            zone(tz[:MAX_ZONE_LENGTH])
        except ValueError:
            tz = None
    group = _first(params, "group")
    preset = _first(params, "range")
    return {
        "from": parse_day(_first(params, "from")),
        "to": parse_day(_first(params, "to")),
        "tz": tz,
        "group": group if group in INTEL_GROUPS else None,
        "range": preset if preset in INTEL_PRESETS else None,  # a relative range: today where it opens
    }


def intel_query(start: str | None, end: str | None, tz: str | None, group: str | None) -> str:
    pairs = [(k, d) for k, d in (("from", parse_day(start)), ("to", parse_day(end))) if d]
    if tz and tz != "UTC":
        pairs.append(("tz", tz))
    if group in INTEL_GROUPS and group != "model":
        pairs.append(("group", group))
    return _encode(pairs)


def ledger_link(**filters: str | list[str] | None) -> str:
    """A link to the Ledger filtered as given (``ledger_link(model="gpt-4o", status="failed")``)."""
    lists = {k: [v] if isinstance(v, str) else list(v or []) for k, v in filters.items() if k in LEDGER_LISTS}
    get = filters.get
    return "/ledger" + ledger_query(lists, get("start"), get("end"), get("q"), get("range"))
