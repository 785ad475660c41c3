"""Every CSV the app produces goes through the one writer that neutralizes formulas: the Ledger download, a
session's usage, each Intelligence download, the Command page's audit export, the scheduled reports and
``export-csv``. Text an agent or a visitor typed that a spreadsheet would run (=, +, -, @, tab, CR first)
arrives as text."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helicarrier.callbacks import command, intelligence, ledger
from helicarrier.reports.jobs import write_report, write_scheduled_reports

ROOT = Path(__file__).resolve().parents[2]
FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+SUM(1,2)", "-2+3", "@SUM(1)", "=1+1")
NOW = datetime.now(UTC).replace(microsecond=0)
AT = NOW - timedelta(hours=2)  # when the planted session ran; may be yesterday (UTC) just after midnight


def _plant(ctx, sender) -> None:
    at = AT
    counts = {"prompt_tokens": 3, "completion_tokens": 1}
    usage = {"provider": "openai", "model": "+SUM(1,2)", "usage": counts}
    start = {"model": "+SUM(1,2)", "task": "@SUM(1)", "task_kind": "-2+3", "labels": {"team": "=1+1"}}
    end = {"status": "failed", "error": FORMULAS[0]}
    sender.send(
        [
            sender.event("session.start", at, "=agent", "s-1", start),
            sender.event("usage", at, "=agent", "s-1", usage),
            sender.event("session.end", at + timedelta(seconds=5), "=agent", "s-1", end),
        ]
    )
    # What an unauthenticated visitor can plant: a username at the sign-in form lands in the audit log.
    ctx.repo.record_audit(actor=FORMULAS[0], actor_kind="user", action="login", outcome="refused")


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_neutral(name: str, text: str) -> None:
    cells = _cells(text)
    assert cells, name
    for cell in cells:
        if re.fullmatch(r"-?\d+(\.\d+)?(E[+-]?\d+)?", cell):
            continue  # numbers are numbers
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"{name}: {cell!r}"
    planted = [c for c in cells if any(f in c for f in FORMULAS)]
    assert planted, f"{name}: the planted text is not in the file at all"


def test_every_csv_the_app_produces_is_neutralized(ctx, sender, tmp_path):
    _plant(ctx, sender)
    produced: dict[str, str] = {}
    produced["audit"] = command.audit_csv(ctx, 1, None, None, None)["content"]
    filters = [None] * len(ledger._filter_deps(lambda *_a: None))
    produced["ledger"] = ledger.download(ctx, 1, None, *filters)[0]["content"]
    produced["session usage"] = ledger.download_usage(ctx, 1, "s-1")["content"]
    q = intelligence.make_query(AT.date().isoformat(), NOW.date().isoformat(), "UTC")
    for which in ("totals", "cost", "tokens", "matrix", "ranked", "value"):
        payload = intelligence.download_payload(ctx, which, q, "input_tokens", intelligence.ALL_KINDS)
        produced[f"intelligence {which}"] = payload["content"]
    for path in write_scheduled_reports(ctx.repo, tmp_path, AT + timedelta(days=1)):
        produced[path.name] = path.read_text()
    for kind in ("usage", "sessions"):
        out = io.StringIO()
        write_report(ctx.repo, kind, NOW - timedelta(days=1), NOW + timedelta(days=1), "UTC", out)
        produced[f"export-csv {kind}"] = out.getvalue()
    numeric_only = {"intelligence totals", "intelligence tokens"}  # sums: nothing anybody typed
    for name, text in produced.items():
        if name in numeric_only or name.startswith(("usage-", "export-csv usage", "intelligence cost")):
            assert all(not c.startswith(("=", "@")) for c in _cells(text)), name
            continue
        _assert_neutral(name, text)


def test_no_csv_is_written_around_the_one_writer():
    """``to_csv`` and the csv module are used in one place only: the writer that neutralizes."""
    offenders = []
    for path in (ROOT / "helicarrier").rglob("*.py"):
        text = path.read_text()
        if path.name != "csv.py" and re.search(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
