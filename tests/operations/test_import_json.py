"""``python -m helicarrier import-json``, run as an operator runs it, on both backends, against the legacy
store in fixtures/legacy/: a dry run reports and stores nothing; an import stores every record once, with
provenance ``import`` and the cost live ingest gives the same call, and the analytics API's totals are the
fixture's own sums; a second run imports nothing; a file that is not JSON, cut short or not UTF-8 stops the
import naming its file and line, with nothing stored; a mixed store keeps its good records and lists the
bad ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helicarrier.auth.binding import Speaker
from helicarrier.data.models import Base, IngestSource, LogEvent, Session, UsageEvent
from helicarrier.ingest.validate import normalize_checked

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "fixtures" / "legacy" / "store"
MIXED = ROOT / "fixtures" / "legacy" / "mixed"
DOC = (ROOT / "docs" / "import.md").read_text()
HEADER = "file              records  to import  already present  invalid"


def run(db_url, tmp_path, *args, ok=True):
    env = {**os.environ, "HELICARRIER_DATABASE_URL": db_url, "HELICARRIER_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "helicarrier", "import-json", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def table_rows(repo) -> dict[str, int]:
    """Rows in every table but the schema's own bookkeeping."""
    with repo.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def stored_nothing(repo) -> bool:
    return not any(table_rows(repo).values())


def fixture(name: str, store: Path = STORE) -> list:
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in (store / name).read_text().splitlines() if line.strip()]
    return json.loads((store / name).read_text())


def report(proc) -> list[str]:
    return proc.stdout.strip().splitlines()


def test_a_dry_run_reports_every_file_and_stores_nothing(db_url, repo, tmp_path):
    proc = run(db_url, tmp_path, STORE, "--dry-run")
    assert report(proc) == [
        f"legacy store {STORE}",
        HEADER,
        "sessions.json           3          3                0        0",
        "usage.json              7          7                0        0",
        "logs.jsonl              4          4                0        0",
        "alerts.json             2          2                0        0",
        "total                  16         16                0        0",
        "dry run: nothing was imported (16 records would be)",
    ]
    assert "\n".join(report(proc)[1:]) in DOC, "docs/import.md shows this report as printed"
    assert stored_nothing(repo)


def test_an_import_stores_each_record_once_and_a_second_run_imports_nothing(db_url, repo, tmp_path):
    first = run(db_url, tmp_path, STORE)
    assert report(first)[-1] == "imported 16 records (19 events) in one transaction"  # 3 sessions end
    rows = table_rows(repo)
    assert (rows["sessions"], rows["usage_events"], rows["log_events"]) == (3, 7, 6)  # 4 logs + 2 alerts
    second = run(db_url, tmp_path, STORE)
    assert report(second)[2:8] == [
        "sessions.json           3          0                3        0",
        "usage.json              7          0                7        0",
        "logs.jsonl              4          0                4        0",
        "alerts.json             2          0                2        0",
        "total                  16          0               16        0",
        "imported 0 records (0 events) in one transaction",
    ]
    assert table_rows(repo) == rows


def test_stored_rows_carry_provenance_import_and_the_cost_live_ingest_gives(db_url, repo, ctx, tmp_path):
    run(db_url, tmp_path, STORE)
    with repo.engine.connect() as conn:
        usage = conn.execute(select(UsageEvent).order_by(UsageEvent.ts)).all()
        logs = conn.execute(select(LogEvent.source, LogEvent.message, LogEvent.attrs)).all()
        sessions = conn.execute(select(Session).order_by(Session.id)).all()
        source = conn.execute(select(IngestSource)).one()
    assert {u.source for u in usage} == {log.source for log in logs} == {"import"}
    assert all(s.labels["provenance"] == "import" for s in sessions)
    assert (source.name, source.provenance) == ("import", "import legacy-json")
    assert [u.raw["import"]["record"] for u in usage] == [str(r["id"]) for r in fixture("usage.json")]
    # A legacy alert is a log event of its agent, its facts kept (docs/import.md).
    alert = next(log for log in logs if log.attrs and "legacy_alert" in log.attrs)
    assert alert.message == "alert session cost over 1 USD: session cost 1.20 USD"
    assert alert.attrs["legacy_alert"]["resolved_at"] == "2026-03-02T11:50:00Z"
    # The same calls sent live (another source, another agent): the same price, provenance and table.
    events = [
        {
            "id": f"live-{r['id']}",
            "type": "usage",
            "ts": r["ts"],
            "agent_id": "live-twin",
            "data": {k: r[k] for k in ("provider", "model", "usage", "cost") if k in r},
        }
        for r in fixture("usage.json")
    ]
    body = json.dumps({"version": "v2", "source": {"name": "live"}, "events": events}).encode()
    status, _answer = ctx.ingest.ingest(Speaker.internal("live"), body, None, "test")
    assert status == 200
    cost_columns = (
        *("cost_nanos", "reported_cost_nanos", "cost_provenance", "cost_confidence", "pricing_version"),
        *("price_model", "input_tokens", "output_tokens", "cache_read_tokens"),
    )
    with repo.engine.connect() as conn:
        live = conn.execute(
            select(UsageEvent).where(UsageEvent.source == "live").order_by(UsageEvent.ts)
        ).all()
    assert [[getattr(u, c) for c in cost_columns] for u in usage] == [
        [getattr(u, c) for c in cost_columns] for u in live
    ]
    assert all(u.cost_nanos > 0 and u.cost_provenance == "computed" for u in usage)


def _fixture_sums(ctx) -> dict[str, int]:
    """Straight from the fixture: token counts as each provider defines them (Anthropic's input excludes
    the cache, OpenAI's prompt includes it), the reported costs, and each call priced by the active table."""
    book = ctx.price_books.active()
    sums = dict.fromkeys(("input_tokens", "output_tokens", "cache_read_tokens", "cost_nanos", "reported"), 0)
    for r in fixture("usage.json"):
        u = r["usage"]
        if r["provider"] == "anthropic":
            cache = u.get("cache_read_input_tokens", 0)
            sums["input_tokens"] += u["input_tokens"] + cache
            sums["output_tokens"] += u["output_tokens"]
            sums["cache_read_tokens"] += cache
        else:
            sums["input_tokens"] += u["prompt_tokens"]
            sums["output_tokens"] += u["completion_tokens"]
        if "cost" in r:
            sums["reported"] += int(Decimal(r["cost"]) * 10**9)
        ts = datetime.fromisoformat(r["ts"])
        sums["cost_nanos"] += book.price(
            normalize_checked({k: r[k] for k in ("provider", "model", "usage")}), ts
        ).total_nanos
    return sums


def test_analytics_totals_after_an_import_are_the_fixtures_sums(db_url, api, make_token, ctx, tmp_path):
    run(db_url, tmp_path, STORE)
    read = {"Authorization": f"Bearer {make_token('analyst', 'read')}"}
    body = api.client.get("/api/v1/usage?from=2026-03-01&to=2026-03-04", headers=read).get_json()
    totals = body["totals"]
    want = _fixture_sums(ctx)
    sessions = fixture("sessions.json")
    assert totals["events"] == len(fixture("usage.json")) == 7
    assert {k: totals[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cost_nanos")} == {
        k: want[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cost_nanos")
    }
    assert totals["reported_cost_nanos"] == want["reported"] == 1_200_000
    assert totals["sessions"] == len(sessions) == 3
    assert totals["succeeded"] == sum(s["status"] == "succeeded" for s in sessions) == 2
    assert totals["runtime_s"] == (20 + 45 + 30) * 60


def _broken_store(tmp_path: Path, name: str, content: bytes) -> Path:
    store = tmp_path / "store"
    shutil.copytree(STORE, store)
    (store / name).write_bytes(content)
    return store


def _usage_cut_short() -> bytes:
    text = (STORE / "usage.json").read_bytes()
    return text[: text.index(b'"id": 5')]


def _log_cut_short() -> bytes:
    text = (STORE / "logs.jsonl").read_bytes()
    return text[:-20]


def _latin1_alerts() -> bytes:
    text = (STORE / "alerts.json").read_text().replace("session cost 1.20 USD", "coût de session 1.20 USD")
    return text.encode("latin-1")


BROKEN = {
    "not JSON": (
        "usage.json",
        b"id,ts,agent\n1,2026-03-02,a\n",
        "usage.json: line 1, column 1: not valid JSON",
    ),
    "JSON cut short": ("usage.json", _usage_cut_short(), "usage.json: line 53, column 5: not valid JSON"),
    "JSON Lines cut short": (
        "logs.jsonl",
        _log_cut_short(),
        "logs.jsonl: line 4, column 117: not valid JSON",
    ),
    "UTF-16": (
        "sessions.json",
        (STORE / "sessions.json").read_text().encode("utf-16"),
        "sessions.json: line 1, column 1: the file is UTF-16 (byte order mark); save it as UTF-8",
    ),
    "UTF-16 without a byte order mark": (
        "sessions.json",
        (STORE / "sessions.json").read_text().encode("utf-16-le"),
        "sessions.json: line 1, column 2: a NUL byte",
    ),
    "Latin-1": ("alerts.json", _latin1_alerts(), "alerts.json: line 8, column 19: byte 0xfb is not UTF-8"),
    "an object, not an array": (
        "alerts.json",
        b'\n  {"alerts": []}',
        "alerts.json: line 2, column 3: the top level",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_file_stops_the_import_naming_file_and_line_and_stores_nothing(db_url, repo, tmp_path, case):
    name, content, message = BROKEN[case]
    store = _broken_store(tmp_path, name, content)
    for args in ((store,), (store, "--dry-run")):
        proc = run(db_url, tmp_path, *args, ok=False)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith(f"helicarrier: {message}"), lines
        assert lines[-1].endswith("; nothing was imported") and "Traceback" not in proc.stderr
        assert proc.stdout == ""
        assert stored_nothing(repo)
    assert lines[-1] in DOC, "docs/import.md shows every such error as printed"


def test_a_mixed_store_imports_its_good_records_and_lists_the_bad(db_url, repo, tmp_path):
    proc = run(db_url, tmp_path, MIXED)
    assert report(proc)[2:] == [
        "sessions.json           3          1                0        2",
        "usage.json              6          2                0        4",
        "logs.jsonl              3          1                0        2",
        "alerts.json             2          1                0        1",
        "total                  14          5                0        9",
        "invalid records (not imported):",
        "  sessions.json record 1 (id s-bad-1): ended_at: required when status is 'failed'",
        "  sessions.json record 2 (id s-bad-2): started_at: Value error, timestamp must carry a timezone"
        " (e.g. 2026-11-26T10:00:00Z)",
        "  usage.json record 2 (id 8): usage.input_tokens: negative count -5",
        "  usage.json record 3 (id 9): ts: Field required",
        "  usage.json record 4 (id 1): id: the same as record 0's",
        "  usage.json record 5: not a JSON object",
        "  logs.jsonl line 2: not a JSON object",
        "  logs.jsonl line 3 (id log-x): level: Input should be 'debug', 'info', 'warning', 'error'"
        " or 'critical'",
        "  alerts.json record 1 (id a-bad): rule: required: the rule's name, 1 to 200 characters",
        "imported 5 records (6 events) in one transaction",
    ]
    assert "\n".join(report(proc)[1:]) in DOC, "docs/import.md shows this report as printed"
    with repo.engine.connect() as conn:
        assert conn.execute(select(Session.id)).scalars().all() == ["s-legacy-001"]
        assert sorted(conn.execute(select(UsageEvent.event_id)).scalars()) == [
            "legacy:usage:1",
            "legacy:usage:2",
        ]
        assert sorted(conn.execute(select(LogEvent.event_id)).scalars()) == [
            "legacy:alert:a-1",
            "legacy:log:log-1",
        ]


def test_a_failure_while_storing_keeps_nothing(repo, ctx, monkeypatch, tmp_path):
    """The commit is one transaction: a failure in its last batch takes the earlier batches with it."""
    from helicarrier.data.repository import Tx  # the assembled unit of work (its methods are timed there)
    from helicarrier.operations import legacy_import

    monkeypatch.setattr(legacy_import, "CHUNK_RECORDS", 2)  # several batches
    staged = legacy_import.stage(ctx.repo, STORE)
    assert sum(len(f.batches) for f in staged.files) > 3
    real, calls = Tx.store_batch, []

    def store_then_fail(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Tx, "store_batch", store_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        legacy_import.commit(ctx.ingest, staged)
    assert len(calls) == 5 and stored_nothing(repo)
    monkeypatch.setattr(Tx, "store_batch", real)
    done = legacy_import.commit(ctx.ingest, legacy_import.stage(ctx.repo, STORE))
    assert done.events == 19


def test_progress_bars_stay_off_the_output_when_not_on_a_terminal(db_url, tmp_path):
    proc = run(db_url, tmp_path, STORE)
    assert "importing" not in proc.stderr and "checking" not in proc.stderr


def test_an_imported_session_start_does_not_restart_a_killed_agent(repo, ctx):
    """Live, a killed agent that starts a session works again; a legacy session's start is history."""
    from sqlalchemy import insert

    from helicarrier.data.models import Agent
    from helicarrier.operations import legacy_import

    now = datetime.now(UTC)
    with repo.engine.begin() as conn:
        conn.execute(
            insert(Agent).values(
                id="legacy-builder", name="b", status="idle", control_state="killed", updated_at=now
            )
        )
    legacy_import.commit(ctx.ingest, legacy_import.stage(ctx.repo, STORE))
    with repo.engine.connect() as conn:
        state = conn.execute(select(Agent.control_state).where(Agent.id == "legacy-builder")).scalar_one()
    assert state == "killed"
    assert repo.audit_entries(action="agent.restart")["actor"].tolist() == []


def test_a_nul_character_or_nesting_past_the_limit_is_an_invalid_record(repo, ctx, tmp_path):
    """PostgreSQL text cannot hold U+0000 and JSON past 32 levels cannot be stored: both are refused by the
    ingest's own checks, per record, naming the record's field."""
    from helicarrier.operations import legacy_import

    deep: dict = {}
    for _ in range(40):
        deep = {"d": deep}
    lines = [
        {"id": "n-1", "ts": "2026-03-02T09:00:00Z", "agent_id": "a", "message": "before\u0000after"},
        {"id": "n-2", "ts": "2026-03-02T09:00:00Z", "agent_id": "a", "message": "deep", "attrs": deep},
        {"id": "n-3", "ts": "2026-03-02T09:00:00Z", "agent_id": "a", "message": "fine"},
    ]
    (tmp_path / "logs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    staged = legacy_import.stage(ctx.repo, tmp_path)
    logs = next(f for f in staged.files if f.name == "logs.jsonl")
    assert [i.text() for i in logs.invalid] == [
        "logs.jsonl line 1 (id n-1): message: the NUL character (\\u0000) cannot be stored; remove or"
        " replace it",
        "logs.jsonl line 2 (id n-2): attrs"
        + ".d" * 30
        + ": nested more than 32 levels deep (the limit for JSON"
        " objects and arrays)",
    ]
    assert (logs.records, logs.new) == (3, 1)


def test_a_log_line_without_an_id_is_known_by_its_content(repo, ctx, tmp_path):
    from helicarrier.operations import legacy_import

    line = json.dumps({"ts": "2026-03-02T09:00:00Z", "agent_id": "a", "message": "same"}) + "\n"
    other = json.dumps({"ts": "2026-03-02T09:00:01Z", "agent_id": "a", "message": "same"}) + "\n"
    (tmp_path / "logs.jsonl").write_text(line + other + line)
    staged = legacy_import.stage(ctx.repo, tmp_path)
    logs = staged.files[2]
    assert [i.text() for i in logs.invalid] == [
        "logs.jsonl line 3: the same line as line 1 (a line without an id is known by its content)"
    ]
    legacy_import.commit(ctx.ingest, staged)
    again = legacy_import.stage(ctx.repo, tmp_path).files[2]
    assert (again.new, again.already, len(again.invalid)) == (0, 2, 1)


def test_the_import_progress_advances_by_every_event_it_stores(repo, ctx):
    """The operator's "importing" bar (on a terminal) ends at its total: each batch stored advances it."""
    from helicarrier.operations import legacy_import

    staged = legacy_import.stage(ctx.repo, STORE)
    bars: dict[str, list[int]] = {}

    def progress(description: str, total: int):
        bars[description] = [total, 0]

        def advance(n: int) -> None:
            bars[description][1] += n

        return advance

    done = legacy_import.commit(ctx.ingest, staged, progress)
    assert bars == {"importing": [19, 19]} and done.events == 19


def test_an_import_counts_as_ingest_does_in_drift_and_the_rejection_rate(api, make_token, ctx, tmp_path):
    """Imported calls with usage fields the normalizer does not know are counted as drift (the Operations
    page lists them), and the imported events count toward the ingest rejection-rate alert as stored."""
    from helicarrier.data.models import UsageDrift
    from helicarrier.operations import legacy_import

    store = tmp_path / "store"
    shutil.copytree(STORE, store)
    usage = fixture("usage.json")
    usage[0]["usage"]["surcharge_units"] = {"grounding": 2}
    (store / "usage.json").write_text(json.dumps(usage))
    assert legacy_import.commit(ctx.ingest, legacy_import.stage(ctx.repo, store)).events == 19
    assert [(r.provider, r.field, r.seen_count) for r in api.rows(UsageDrift)] == [
        ("anthropic", "surcharge_units", 1)
    ]

    logs = [
        {"id": f"l{i}", "type": "log", "ts": datetime.now(UTC).isoformat(), "agent_id": "a", "data": data}
        for i, data in enumerate([{"message": f"line {n}"} for n in range(5)] + [{"level": "info"}])
    ]
    resp = api.post({"version": "v2", "source": {"name": "live"}, "events": logs})
    assert (resp.status_code, resp.get_json()["rejected"]) == (207, 1)
    rule = {
        "name": "ingest rejections",
        "metric": "ingest_rejection_rate",
        "group_by": "fleet",
        "comparator": ">",
        "threshold": "0",
        "window_s": 600,
        "params": {"min_samples": 1},
    }
    admin = make_token("admin-bot", "admin")
    preview = api.post(rule, path="/api/v1/alert-rules/preview", token=admin).get_json()["preview"]
    # 1 refused of 25 events: the 19 imported and the 5 live stored
    assert [Decimal(a["value"]) for a in preview["alerts"]] == [Decimal("0.04")]
