"""The Hero Grid's model: cards from the fleet snapshot, filters, sorting, and the smallest update.

Plain functions, no Dash. Relative times (runtime, heartbeat age) are not part of a card's signature: the
browser ticks them from absolute timestamps, and heartbeats travel as a small id -> time map. So a card is
resent only when something the agent did changes, and a refresh at 500 agents sends a handful of cards.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime

from helicarrier.fleet.status import effective_status

SORTS = {
    "name": "Name",
    "status": "Status",
    "cost": "Session cost",
    "tokens": "Session tokens",
    "heartbeat": "Last heartbeat",
}
# Most urgent first when sorting by status.
STATUS_ORDER = {
    s: i
    for i, s in enumerate(("killing", "stalled", "paused", "offline", "running", "waiting", "idle", "killed"))
}


@dataclass(frozen=True, slots=True)
class CardModel:
    id: str
    name: str
    status: str
    model: str | None
    task: str | None
    session_started_at: str | None  # ISO, for the browser-side runtime clock
    last_seen: str | None  # ISO, for the browser-side heartbeat age
    tokens: int
    cost_nanos: int
    unpriced_events: int
    labels: tuple[tuple[str, str], ...]
    # The stuck-loop sentinel's open findings on the agent: (detector, rung reached), oldest first.
    sentinel: tuple[tuple[str, str], ...] = ()

    @property
    def signature(self) -> str:
        # Heartbeats travel separately (see heartbeat_changes), so a heartbeat alone does not resend a card.
        fields = asdict(self)
        fields.pop("last_seen")
        return hashlib.blake2b(repr(fields).encode(), digest_size=8).hexdigest()


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def card_models(
    snapshot: list[dict], now: datetime, offline_after_s: int, findings: dict[str, list] | None = None
) -> list[CardModel]:
    """``findings``: {agent id: [(detector, step), ...]} of the sentinel's open findings."""
    findings = findings or {}
    cards = []
    for row in snapshot:
        running = row.get("session_status") == "running"
        cards.append(
            CardModel(
                id=row["id"],
                name=row["name"] or row["id"],
                status=effective_status(
                    row["status"], row["control_state"], row["last_heartbeat_at"], now, offline_after_s
                ),
                model=row["model"],
                task=row["current_task"],
                session_started_at=_iso(row["session_started_at"]) if running else None,
                last_seen=_iso(row["last_heartbeat_at"]),
                tokens=int((row["input_tokens"] or 0) + (row["output_tokens"] or 0)) if running else 0,
                cost_nanos=int(row["cost_nanos"] or 0) if running else 0,
                unpriced_events=int(row["unpriced_events"] or 0) if running else 0,
                labels=tuple(sorted((row["labels"] or {}).items())),
                sentinel=tuple(tuple(f) for f in findings.get(row["id"], ())),
            )
        )
    return cards


def label_options(cards: list[CardModel]) -> list[str]:
    return sorted({f"{k}={v}" for c in cards for k, v in c.labels})


def filter_cards(
    cards: list[CardModel], statuses: list[str] | None, labels: list[str] | None, search: str | None
) -> list[CardModel]:
    out = cards
    if statuses:
        wanted = set(statuses)
        out = [c for c in out if c.status in wanted]
    if labels:
        pairs = {tuple(lbl.split("=", 1)) for lbl in labels if "=" in lbl}
        out = [c for c in out if pairs <= set(c.labels)]
    if search:
        needle = search.strip().lower()
        out = [c for c in out if needle in c.name.lower() or needle in c.id.lower()]
    return out


def sort_cards(cards: list[CardModel], key: str | None) -> list[CardModel]:
    if key == "status":
        return sorted(cards, key=lambda c: (STATUS_ORDER.get(c.status, 99), c.name.lower()))
    if key == "cost":
        return sorted(cards, key=lambda c: (-c.cost_nanos, c.name.lower()))
    if key == "tokens":
        return sorted(cards, key=lambda c: (-c.tokens, c.name.lower()))
    if key == "heartbeat":
        return sorted(cards, key=lambda c: (c.last_seen or "", c.name.lower()), reverse=True)
    return sorted(cards, key=lambda c: c.name.lower())


@dataclass(frozen=True)
class GridUpdate:
    """``full``: replace all cards (membership or order changed); ``patch``: replace these positions;
    ``none``: nothing changed."""

    kind: str
    changed: tuple[int, ...] = ()


def plan_update(previous: list[list[str]] | None, cards: list[CardModel]) -> GridUpdate:
    """Compare what the browser shows ([id, signature] per position) with the new cards."""
    if previous is None or [p[0] for p in previous] != [c.id for c in cards]:
        return GridUpdate("full")
    changed = tuple(i for i, (p, c) in enumerate(zip(previous, cards, strict=True)) if p[1] != c.signature)
    return GridUpdate("patch", changed) if changed else GridUpdate("none")


def shown_state(cards: list[CardModel]) -> list[list[str]]:
    return [[c.id, c.signature] for c in cards]


def heartbeat_changes(
    previous: dict[str, str | None] | None, cards: list[CardModel]
) -> dict[str, str | None]:
    """Last-seen times the browser does not have yet (all of them on the first refresh)."""
    previous = previous or {}
    return {c.id: c.last_seen for c in cards if previous.get(c.id) != c.last_seen}
