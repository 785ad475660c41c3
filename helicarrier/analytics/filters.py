"""What the Ledger, the API and exports filter sessions by: one frozen value, built from a request or a UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SessionFilters:
    """Session filters. Empty tuples and None mean "any".

    Values within one field are ORed (``models=("a", "b")``: model a or b); fields are ANDed. Labels are
    ``"key=value"`` strings: labels with the same key are ORed, different keys ANDed. ``start``/``end`` bound
    ``started_at`` as ``[start, end)`` and must be timezone-aware. ``text`` is a case-insensitive substring
    of the task or the error (SQL wildcards in it match literally).
    """

    agent_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # "key=value"
    start: datetime | None = None  # on started_at, UTC-aware, [start, end)
    end: datetime | None = None
    text: str | None = None  # free text over task and error

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        for label in self.labels:
            if "=" not in label or not label.split("=", 1)[0]:
                raise ValueError(f"label filter {label!r} is not key=value")

    def label_pairs(self) -> dict[str, tuple[str, ...]]:
        """The label filters grouped by key: {key: (value, ...)}."""
        out: dict[str, list[str]] = {}
        for label in self.labels:
            key, value = label.split("=", 1)
            out.setdefault(key, []).append(value)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def search(self) -> str | None:
        """The free text, stripped; None when blank."""
        text = (self.text or "").strip()
        return text or None
