"""Pruning per the retention settings. The leader runs ``prune`` every few minutes; each call deletes at most
``max_batches`` batches per kind, so a first run over years of history spreads over several runs instead of
holding the database for minutes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from helicarrier.data.queries.retention import KINDS, Holding
from helicarrier.retention.partitions import drop_expired

FLAG_PREFIX = "retention."
BATCH_ROWS = 5000
MAX_BATCHES = 20


def effective_days(days: Mapping[str, int]) -> dict[str, int]:
    """Rollups are never pruned before the raw usage they sum: analytics read whole hours from them, so
    rollups younger than the raw rows would leave hours counted as empty. Event ids are never forgotten
    before the raw usage and logs: an event is sent before or when it is first seen, so every stored event's
    id is still known, and a resend of it is a duplicate."""
    out = {kind: days.get(kind, 0) for kind in KINDS}
    raw = out["usage"]
    if raw == 0:
        out["rollups"] = 0
    elif out["rollups"]:
        out["rollups"] = max(out["rollups"], raw)
    if 0 in (out["usage"], out["logs"]):
        out["event_ids"] = 0
    elif out["event_ids"]:
        out["event_ids"] = max(out["event_ids"], out["usage"], out["logs"])
    return out


def prune(repo, days: Mapping[str, int], now: datetime, *, batch: int = BATCH_ROWS,
          max_batches: int = MAX_BATCHES) -> dict[str, int]:  # fmt: skip
    """Delete what each kind holds past its days; the rows deleted per kind. On PostgreSQL, raw usage and
    logs first lose their monthly partitions wholly past the cutoff (a DROP, however many rows); the
    month the cutoff falls in and the DEFAULT partition go in batches like every other kind. Records each
    kind's last prune in a service flag (when, how many, up to what time) for the Operations page."""
    deleted: dict[str, int] = {}
    for kind, keep in effective_days(days).items():
        if not keep:
            continue
        cutoff = now - timedelta(days=keep)
        total = drop_expired(repo, kind, cutoff)
        for _ in range(max_batches):
            n = repo.prune_batch(kind, cutoff, batch)
            total += n
            if n == 0:
                break
        deleted[kind] = total
        repo.set_flag(FLAG_PREFIX + kind, json.dumps({"deleted": total, "cutoff": cutoff.isoformat()}))
    return deleted


def raw_usage_pruned_before(repo) -> datetime | None:
    """The time before which retention has deleted the raw usage events that the rollups still sum (None
    while nothing was): figures of earlier times come from the rollups alone (exact on the quarter hour),
    and a session's per-call usage detail from then is gone."""
    flag = repo.flag(FLAG_PREFIX + "usage")
    last = json.loads(flag.value) if flag and flag.value else {}
    if not last.get("cutoff"):
        return None
    cutoff = datetime.fromisoformat(last["cutoff"])
    return cutoff if repo.usage_rollups_before(cutoff) else None


@dataclass(frozen=True)
class KindStatus:
    kind: str
    keep_days: int  # 0: for ever
    rows: int
    oldest: datetime | int | None
    last_pruned: datetime | None
    last_deleted: int | None


def status(repo, days: Mapping[str, int]) -> list[KindStatus]:
    """What each kind holds, what it keeps and when it was last pruned."""
    keep = effective_days(days)
    out = []
    for h in repo.retention_holdings():
        h: Holding
        flag = repo.flag(FLAG_PREFIX + h.kind)
        last = json.loads(flag.value) if flag and flag.value else {}
        out.append(
            KindStatus(h.kind, keep[h.kind], h.rows, h.oldest, flag and flag.updated_at, last.get("deleted"))
        )
    return out
