"""The daily reports job writes yesterday's CSVs once, after the configured local time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from helicarrier.scheduler.runner import daily_reports
from helicarrier.webapp import create_app


def test_daily_reports_once_after_the_report_time(settings):
    app = create_app(replace(settings, report_time="06:30", report_tz="Asia/Kolkata"))
    ctx = app.server.config["HELICARRIER"]
    # 00:30 UTC is 06:00 in Kolkata: before the report time.
    assert daily_reports(ctx, datetime(2026, 3, 2, 0, 30, tzinfo=UTC)) == []
    written = daily_reports(ctx, datetime(2026, 3, 2, 1, 30, tzinfo=UTC))  # 07:00 local
    assert sorted(p.name for p in written) == ["sessions-2026-03-01.csv", "usage-2026-03-01.csv"]
    assert all(p.exists() for p in written)
    assert daily_reports(ctx, datetime(2026, 3, 2, 2, 30, tzinfo=UTC)) == []  # already written
