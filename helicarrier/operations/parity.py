"""Comparing what two databases hold (``parity-check``, a restore against its manifest, ``copy-db``'s
check): one line per difference, and a table a person reads at a glance."""

from __future__ import annotations

from dataclasses import dataclass

from helicarrier.data.parity import Fingerprint


@dataclass(frozen=True)
class Difference:
    what: str  # "agents: rows", "usage 2026-12-01: cost_nanos", "schema revision"
    expected: str
    found: str


def compare(expected: Fingerprint, found: Fingerprint) -> list[Difference]:
    out: list[Difference] = []
    if expected.revision != found.revision:
        out.append(Difference("schema revision", str(expected.revision), str(found.revision)))
    for name in sorted(set(expected.tables) | set(found.tables)):
        a, b = expected.tables.get(name), found.tables.get(name)
        if a is None or b is None:
            out.append(
                Difference(f"{name}: table", "present" if a else "missing", "present" if b else "missing")
            )
        elif a.rows != b.rows:
            out.append(Difference(f"{name}: rows", str(a.rows), str(b.rows)))
        elif a.checksum != b.checksum:
            out.append(Difference(f"{name}: checksum", a.checksum[:16], b.checksum[:16]))
    for day in sorted(set(expected.usage_days) | set(found.usage_days)):
        a, b = expected.usage_days.get(day), found.usage_days.get(day)
        for field in ("events", "total_tokens", "cost_nanos"):
            va = getattr(a, field) if a else 0
            vb = getattr(b, field) if b else 0
            if va != vb:
                out.append(Difference(f"usage {day}: {field}", str(va), str(vb)))
    return out


def table_lines(expected: Fingerprint, found: Fingerprint, left: str, right: str) -> list[str]:
    """Every table with its row counts on both sides and whether it matches."""
    diffs = {d.what.split(":")[0] for d in compare(expected, found)}
    lines = [f"{'table':28} {left:>12} {right:>12}  match"]
    for name in sorted(set(expected.tables) | set(found.tables)):
        a, b = expected.tables.get(name), found.tables.get(name)
        ra = str(a.rows) if a else "-"
        rb = str(b.rows) if b else "-"
        lines.append(f"{name:28} {ra:>12} {rb:>12}  {'DIFFERS' if name in diffs else 'ok'}")
    days_differ = any(w.startswith("usage ") for w in diffs)
    lines.append(
        f"{'usage per day (tokens, cost)':28} {len(expected.usage_days):>12} {len(found.usage_days):>12}  "
        f"{'DIFFERS' if days_differ else 'ok'}"
    )
    return lines


def difference_lines(diffs: list[Difference]) -> list[str]:
    lines = [f"{'difference':40} {'expected':>20} {'found':>20}"]
    lines += [f"{d.what:40} {d.expected:>20} {d.found:>20}" for d in diffs]
    return lines
