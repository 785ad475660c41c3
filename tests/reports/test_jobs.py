"""Scheduled CSV reports, retention, the listing, and ``export-csv`` run as a user runs it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from helicarrier.reports.jobs import list_reports, prune_reports, write_scheduled_reports
from tests.ingesting import provider_fixtures

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = provider_fixtures()


@pytest.fixture
def history(ctx, sender):
    """Two agents, two models, on 2026-04-09 and 10 in Paris (UTC+2), sessions ending on both days."""
    events = []
    for k, ts in enumerate(
        [
            datetime(2026, 4, 8, 21, 59, tzinfo=UTC),  # 23:59 Paris, 8 April
            datetime(2026, 4, 8, 22, 0, tzinfo=UTC),  # 00:00 Paris, 9 April
            datetime(2026, 4, 9, 12, 0, tzinfo=UTC),
            datetime(2026, 4, 9, 21, 59, tzinfo=UTC),
            datetime(2026, 4, 9, 22, 0, tzinfo=UTC),  # 10 April in Paris
        ]
    ):
        sid, agent = f"r-{k}", f"agent-{k % 2}"
        fixture = ["openai_chat__full", "anthropic_messages__full"][k % 2]
        events.append(
            sender.event("session.start", ts - timedelta(minutes=5), agent, sid, {"model": f"m{k % 2}"})
        )
        events.append(sender.event("usage", ts, agent, sid, FIXTURES[fixture]["data"]))
        events.append(
            sender.event("session.end", ts, agent, sid, {"status": "succeeded" if k % 3 else "failed"})
        )
    sender.send(events)


def test_scheduled_reports_for_the_previous_local_day(history, ctx, tmp_path):
    now = datetime(2026, 4, 10, 1, 30, tzinfo=UTC)  # 03:30 on 10 April in Paris
    paths = write_scheduled_reports(ctx.repo, tmp_path, now, tz="Europe/Paris")
    assert [p.name for p in paths] == ["usage-2026-04-09.csv", "sessions-2026-04-09.csv"]
    raw = paths[0].read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") > 1  # RFC 4180 line ends
    usage = pd.read_csv(paths[0], dtype={"cost_usd": str})
    assert set(usage["day"]) == {"2026-04-09"}
    assert usage["events"].sum() == 3  # 21:59Z on the 8th is the 8th; 21:59Z on the 9th is the 9th
    assert (usage["cost_usd"].map(lambda s: round(float(s) * 1e9)) == usage["cost_nanos"]).all()
    sessions = pd.read_csv(paths[1])
    assert sessions["sessions"].sum() == 3 and list(sessions.columns)[:4] == [
        "day",
        "agent_id",
        "model",
        "provider",
    ]
    start, end = datetime(2026, 4, 8, 22, tzinfo=UTC), datetime(2026, 4, 9, 22, tzinfo=UTC)
    assert usage["cost_nanos"].sum() == ctx.repo.usage_totals(start, end)["cost_nanos"]
    # Idempotent: the same day again rewrites the same files.
    again = write_scheduled_reports(ctx.repo, tmp_path, now, tz="Europe/Paris")
    assert again == paths and again[0].read_bytes() == raw


def test_an_empty_day_still_gets_a_header(ctx, tmp_path):
    paths = write_scheduled_reports(ctx.repo, tmp_path, datetime(2030, 1, 2, tzinfo=UTC))
    assert paths[0].read_text().startswith("day,agent_id,model,provider,events,")
    assert len(pd.read_csv(paths[0])) == 0


def test_retention_and_listing(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for d in range(1, 11):
        for kind in ("usage", "sessions"):
            (folder / f"{kind}-2026-01-{d:02d}.csv").write_text("x\r\n")
    (folder / "notes.txt").write_text("not a report")
    removed = prune_reports(tmp_path, keep=3)
    assert len(removed) == 14
    listed = list_reports(tmp_path)
    assert [r["name"] for r in listed] == [
        "usage-2026-01-10.csv",
        "sessions-2026-01-10.csv",
        "usage-2026-01-09.csv",
        "sessions-2026-01-09.csv",
        "usage-2026-01-08.csv",
        "sessions-2026-01-08.csv",
    ]
    assert listed[0]["size"] == 3 and listed[0]["modified"].tzinfo is not None
    assert list_reports(tmp_path / "nowhere") == []


def _run(args, db_url, tmp_path):
    env = {**os.environ, "HELICARRIER_DATABASE_URL": db_url, "HELICARRIER_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "helicarrier.reports.commands", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_export_csv_command(history, ctx, db_url, tmp_path):
    out = tmp_path / "april.csv"
    proc = _run(
        [
            "--report",
            "usage",
            "--from",
            "2026-04-09",
            "--to",
            "2026-04-10",
            "--out",
            str(out),
            "--tz",
            "Europe/Paris",
        ],
        db_url,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 3 rows" in proc.stdout  # 9 April: 2 agent x model pairs; 10 April: 1
    frame = pd.read_csv(out)
    assert sorted(set(frame["day"])) == ["2026-04-09", "2026-04-10"] and frame["events"].sum() == 4
    stdout = _run(
        ["--report", "sessions", "--from", "2026-04-09", "--to", "2026-04-09", "--out", "-"], db_url, tmp_path
    )
    assert stdout.returncode == 0, stdout.stderr
    sessions = pd.read_csv(io.StringIO(stdout.stdout))
    assert sessions["sessions"].sum() == 3  # in UTC: 12:00Z, 21:59Z and 22:00Z on the 9th


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report", "usage", "--from", "2026-04-09", "--to", "2026-04-01", "--out", "-"], "before"),
        (
            ["--report", "usage", "--from", "2026-04-09", "--to", "2026-04-10", "--out", "-", "--tz", "X/Y"],
            "time zone",
        ),
        (["--report", "costs", "--from", "2026-04-09", "--to", "2026-04-10", "--out", "-"], "costs"),
    ],
)
def test_export_csv_refuses_bad_arguments(db_url, tmp_path, args, message):
    proc = _run(args, db_url, tmp_path)
    assert proc.returncode != 0 and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_export_csv_is_registered_with_the_cli():
    from helicarrier.cli import cli
    from helicarrier.reports.commands import export_csv

    assert cli.commands["export-csv"] is export_csv
