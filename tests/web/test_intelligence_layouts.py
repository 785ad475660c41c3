"""Ledger and Intelligence pages without a browser: component trees, the plain shaping functions behind the
callbacks, the CSV exports against the repository, and the /reports/<name> route."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from dash import html
from dash.development.base_component import Component

from helicarrier.callbacks import intelligence as intel_cb
from helicarrier.callbacks import ledger as ledger_cb
from helicarrier.layouts import intelligence, ledger
from helicarrier.layouts.intelligence import ID as INTELLIGENCE
from helicarrier.layouts.intelligence_charts import chart_frame, heatmap_figure
from helicarrier.layouts.intelligence_matrix import ALL_KINDS, matrix_cells, ranked_rows, value_rows
from helicarrier.layouts.intelligence_panels import kpi_cards, mtd_view, reports_list
from helicarrier.layouts.ledger import ID as LEDGER
from helicarrier.layouts.ledger_detail import provenance_rows, session_view
from helicarrier.layouts.ledger_filters import build_filters, day_bounds
from helicarrier.layouts.ledger_grid import cost_label, grid_row, sort_from_model
from helicarrier.layouts.ledger_timeline import timeline_entries, usage_csv_rows

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def walk(node):
    if isinstance(node, Component):
        yield node
        children = getattr(node, "children", None)
        yield from walk(children)
    elif isinstance(node, list | tuple):
        for child in node:
            yield from walk(child)


def by_id(tree, component_id):
    found = [c for c in walk(tree) if getattr(c, "id", None) == component_id]
    assert found, f"no component {component_id!r}"
    return found[0]


def text_of(node) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return " ".join(text_of(n) for n in node)
    if isinstance(node, Component):
        return text_of(getattr(node, "children", None) or "")
    return ""


# -- Ledger ------------------------------------------------------------------------------------------


def test_ledger_list_layout_has_filters_a_server_side_grid_and_a_download():
    tree = ledger.layout(None)
    grid = by_id(tree, LEDGER.GRID)
    assert grid.rowModelType == "infinite"
    assert grid.getRowId == "params.data.id"
    headers = [c["headerName"] for c in grid.columnDefs]
    assert headers == [
        "Start (UTC)",
        "Agent",
        "Model",
        "Task",
        "Status",
        "Runtime",
        "Tokens",
        "Cost",
        "Pricing",
    ]
    for cid in (LEDGER.SEARCH, LEDGER.DATES, LEDGER.DOWNLOAD_BUTTON, LEDGER.DOWNLOAD, LEDGER.NAV):
        by_id(tree, cid)
    filters = (LEDGER.FILTER_AGENT, LEDGER.FILTER_MODEL, LEDGER.FILTER_PROVIDER, LEDGER.FILTER_STATUS)
    for cid in (*filters, LEDGER.FILTER_LABEL):
        assert by_id(tree, cid).multi is True
    assert "100,000" in text_of(by_id(tree, LEDGER.DOWNLOAD_NOTE))


def test_ledger_subpath_is_a_session_detail_with_the_decoded_id():
    tree = ledger.layout("abc%2F1")
    assert by_id(tree, LEDGER.DETAIL_SESSION).data == "abc/1"
    by_id(tree, LEDGER.DETAIL_DOWNLOAD_BUTTON)
    assert [getattr(t, "id", None) for t in ledger.validation_layouts()] == [LEDGER.PAGE, LEDGER.DETAIL_PAGE]


def test_grid_rows_say_unpriced_instead_of_zero_dollars():
    assert cost_label(0, 0) == "$0.0000"
    assert cost_label(0, 2) == "unpriced (2)"
    assert cost_label(1_500_000_000, 1) == "$1.50 + 1 unpriced"
    row = grid_row(
        {
            "id": "s1",
            "started_at": T0,
            "agent_id": "a",
            "model": None,
            "task": "<b>x</b>",
            "status": "failed",
            "runtime_s": 75,
            "total_tokens": 12_345,
            "cost_nanos": 0,
            "unpriced_events": 3,
            "pricing_version": None,
        }
    )
    assert row["start"] == "2025-03-10 09:00:00" and row["runtime"] == "1m 15s" and row["tokens"] == "12.3k"
    assert row["cost"] == "unpriced (3)" and row["task"] == "<b>x</b>" and row["model"] == "–"
    assert row["status_label"] == "✗ failed"


def test_sort_model_maps_to_repository_sorts():
    assert sort_from_model(None) == ("started_at", True)
    assert sort_from_model([{"colId": "cost_nanos", "sort": "asc"}]) == ("cost_nanos", False)
    assert sort_from_model([{"colId": "total_tokens", "sort": "desc"}]) == ("total_tokens", True)
    assert sort_from_model([{"colId": "task", "sort": "asc"}]) == ("started_at", True)  # not sortable


def test_filters_from_controls():
    f = build_filters(
        ["a1"], None, ["openai"], ["failed"], ["team=core"], "2025-03-01", "2025-03-02", "  boom "
    )
    assert f.agent_ids == ("a1",) and f.models == () and f.labels == ("team=core",) and f.text == "boom"
    assert f.start == datetime(2025, 3, 1, tzinfo=UTC) and f.end == datetime(2025, 3, 3, tzinfo=UTC)
    assert build_filters().start is None and build_filters(text="  ").text is None
    # A day in another zone: Paris midnight is 23:00 UTC in winter.
    lo, hi = day_bounds("2025-01-15", "2025-01-15", "Europe/Paris")
    assert lo == datetime(2025, 1, 14, 23, tzinfo=UTC) and hi == datetime(2025, 1, 15, 23, tzinfo=UTC)


def _detail():
    session = {
        "id": "s-1",
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=3),
        "agent_id": "atlas-01",
        "model": "gpt-4.1",
        "provider": "openai",
        "task": "<img src=x onerror=alert(1)>",
        "task_kind": "coding",
        "status": "failed",
        "error": "<script>alert(1)</script>",
        "runtime_s": 180.0,
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_read_tokens": 50,
        "cache_write_tokens": 0,
        "reasoning_tokens": 10,
        "total_tokens": 1200,
        "cost_nanos": 4_000_000,
        "unpriced_events": 1,
        "pricing_version": "genai-prices-0.2.3",
        "labels": {"team": "core"},
    }
    usage = [
        {
            "id": 1,
            "ts": T0 + timedelta(seconds=30),
            "provider": "openai",
            "model": "gpt-4.1-2025-04-14",
            "input_tokens": 1000,
            "output_tokens": 200,
            "cache_read_tokens": 50,
            "cache_write_tokens": 0,
            "reasoning_tokens": 10,
            "total_tokens": 1200,
            "cost_nanos": 4_000_000,
            "reported_cost_nanos": None,
            "pricing_version": "genai-prices-0.2.3",
            "price_model": "gpt-4.1",
            "cost_provenance": "computed",
            "cost_confidence": "high",
            "warnings": None,
        },
        {
            "id": 2,
            "ts": T0 + timedelta(seconds=90),
            "provider": "acme",
            "model": "mystery",
            "input_tokens": 5,
            "output_tokens": 5,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": None,
            "total_tokens": 10,
            "cost_nanos": None,
            "reported_cost_nanos": None,
            "pricing_version": "genai-prices-0.2.3",
            "price_model": None,
            "cost_provenance": "unpriced",
            "cost_confidence": "none",
            "warnings": ["no price for acme/mystery"],
        },
    ]
    logs = [{"seq": 7, "ts": T0 + timedelta(seconds=10), "level": "error", "message": "<b>boom</b>"}]
    commands = [
        {
            "id": "c1",
            "kind": "kill",
            "state": "completed",
            "issued_by": "omar",
            "reason": "runaway",
            "result_message": None,
            "created_at": T0 + timedelta(seconds=60),
        }
    ]
    breakdown = {
        "cost_by_provenance": {"computed": 4_000_000, "reported": 0, "estimated": 0, "unpriced_events": 1}
    }
    return {"session": session, "usage": usage, "logs": logs, "commands": commands, "breakdown": breakdown}


def test_session_view_renders_user_text_as_plain_strings():
    tree = session_view(_detail())
    assert by_id(tree, LEDGER.DETAIL_TASK).children == "<img src=x onerror=alert(1)>"
    assert by_id(tree, LEDGER.DETAIL_ERROR).children == "<script>alert(1)</script>"
    assert by_id(tree, LEDGER.DETAIL_TOKENS["input_tokens"]).children == "1,000"
    assert by_id(tree, LEDGER.DETAIL_COST).children == "$0.0040 + 1 unpriced"
    assert not [c for c in walk(tree) if type(c).__name__ in ("Markdown", "Iframe")]
    assert not [c for c in walk(tree) if getattr(c, "dangerously_allow_html", False)]
    timeline = text_of(by_id(tree, LEDGER.DETAIL_TIMELINE))
    assert "<b>boom</b>" in timeline and "kill → completed" in timeline
    usage = text_of(by_id(tree, LEDGER.DETAIL_USAGE))
    assert "genai-prices-0.2.3" in usage and "unpriced" in usage and "computed" in usage


def test_timeline_merges_by_time_and_provenance_counts_confidence():
    kinds = [e["kind"] for e in timeline_entries(_detail())]
    assert kinds == ["log", "usage", "command", "usage"]
    rows = provenance_rows(_detail()["breakdown"], _detail()["usage"])
    assert rows == [
        {"provenance": "computed", "events": 1, "cost_nanos": 4_000_000, "confidence": {"high": 1}},
        {"provenance": "unpriced", "events": 1, "cost_nanos": None, "confidence": {}},
    ]
    header, csv_rows = usage_csv_rows(_detail()["usage"])
    assert header[:3] == ["ts", "provider", "model"] and "matched_price_model" in header
    assert csv_rows[0][0] == (T0 + timedelta(seconds=30)).isoformat()
    assert csv_rows[1][header.index("warnings")] == "no price for acme/mystery"


# -- Intelligence ------------------------------------------------------------------------------------


def test_why_hour_is_off_is_said_beside_it_and_goes_for_a_short_range():
    from helicarrier.layouts.intelligence import HOURLY_MAX_DAYS

    options, value, note = intel_cb.granularity(None, "2026-11-01", "2026-11-30", "hour")
    assert options[1]["disabled"] and value == "day"
    assert note == f"Hour: for ranges of {HOURLY_MAX_DAYS} days or less (30 chosen)."
    options, value, note = intel_cb.granularity(None, "2026-11-29", "2026-11-30", "hour")
    assert not options[1]["disabled"] and value == "hour" and note == ""


def test_intelligence_layout_defaults():
    tree = intelligence.layout(None)
    dates = by_id(tree, INTELLIGENCE.DATES)
    first, last = date.fromisoformat(dates.start_date), date.fromisoformat(dates.end_date)
    assert (last - first).days == intelligence.DEFAULT_DAYS - 1
    assert by_id(tree, INTELLIGENCE.TZ).value == "UTC"
    assert by_id(tree, INTELLIGENCE.GROUP).value == "model"
    gran = by_id(tree, INTELLIGENCE.GRANULARITY)
    assert gran.value == "day" and gran.options[1] == {"label": "Hour", "value": "hour", "disabled": True}
    for key in intel_cb.DOWNLOADS:
        by_id(tree, INTELLIGENCE.DOWNLOAD_BUTTON[key])
    for cid in (INTELLIGENCE.COST_CHART, INTELLIGENCE.TOKENS_CHART, INTELLIGENCE.MATRIX_CHART):
        by_id(tree, cid)
    by_id(tree, INTELLIGENCE.DOWNLOAD)
    by_id(tree, INTELLIGENCE.REPORTS)


def test_query_allows_hourly_only_for_short_ranges():
    q = intel_cb.make_query("2025-03-01", "2025-03-03", "UTC", "agent", "hour")
    assert q.granularity == "hour" and q.days == 3 and q.group == "agent"
    assert intel_cb.make_query("2025-03-01", "2025-03-04", "UTC", None, "hour").granularity == "day"
    q = intel_cb.make_query("2025-03-05", "2025-03-01", "America/New_York")  # reversed picks are swapped
    assert q.first == "2025-03-01" and q.start == datetime(2025, 3, 1, 5, tzinfo=UTC)


def test_kpis_show_unpriced_usage_explicitly_never_as_zero_dollars():
    totals = {
        "cost_nanos": 0,
        "unpriced_events": 4,
        "events": 4,
        "sessions": 2,
        "succeeded": 1,
        "failed": 1,
        "cost_per_success_nanos": None,
        "total_tokens": 10,
        "input_tokens": 6,
        "output_tokens": 4,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "runtime_s": 60,
    }
    tree = html.Div(kpi_cards(totals))
    assert by_id(tree, INTELLIGENCE.KPI["cost"]).children == "unpriced"
    assert by_id(tree, INTELLIGENCE.KPI["unpriced"]).children == "4"
    assert by_id(tree, INTELLIGENCE.KPI["success"]).children == "50.0%"
    assert by_id(tree, INTELLIGENCE.KPI["cost-per-success"]).children == "–"
    assert "$0" not in text_of(tree)
    mtd = mtd_view(
        {
            "spend_nanos": 10**9,
            "projected_nanos": 3 * 10**9,
            "days_elapsed": 10,
            "days_in_month": 30,
            "unpriced_events": 2,
        },
        "UTC",
    )
    assert by_id(mtd, INTELLIGENCE.MTD_PROJECTED).children == "$3.00"
    assert "2 unpriced usage events" in text_of(mtd)


def test_chart_frame_keeps_the_top_groups_and_folds_the_rest():
    rows = [{"bucket": T0, "group": f"m{i}", "cost_nanos": i, "unpriced_events": 0} for i in range(10)]
    frame = chart_frame(pd.DataFrame(rows), ["cost_nanos", "unpriced_events"], top=3)
    assert sorted(frame["group"]) == ["m7", "m8", "m9", "other"]
    assert int(frame.loc[frame["group"] == "other", "cost_nanos"].iloc[0]) == sum(range(7))
    assert chart_frame(pd.DataFrame(columns=["bucket", "group", "x"]), ["x"]).empty


def _matrix():
    return pd.DataFrame(
        [
            {
                "model": "big",
                "task_kind": "coding",
                "successes": 970,
                "total": 1000,
                "cost_nanos": 10 * 10**9,
            },
            {"model": "lucky", "task_kind": "coding", "successes": 3, "total": 3, "cost_nanos": 10**8},
            {"model": "free", "task_kind": "coding", "successes": 90, "total": 100, "cost_nanos": 0},
            {"model": "big", "task_kind": "triage", "successes": 20, "total": 25, "cost_nanos": 10**9},
        ]
    ).assign(
        failures=lambda d: d["total"] - d["successes"],
        median_runtime_s=30.0,
        p95_runtime_s=90.0,
        unpriced_events=[0, 0, 7, 0],
        top_failure_reasons=[[("ToolError", 20)], [], [("APIError", 10)], [("ToolError", 5)]],
    )


def test_matrix_views_are_sample_aware():
    cells = matrix_cells(_matrix(), 20)
    lucky = cells[cells["model"] == "lucky"].iloc[0]
    assert bool(lucky["insufficient"]) and lucky["wilson_low"] < 0.6
    ranked = ranked_rows(_matrix(), "coding", 20)
    assert [r["model"] for r in ranked][:2] == ["big", "free"] and ranked[0]["rank"] == 1
    assert ranked[-1]["model"] == "lucky" and ranked[-1]["rank"] is None and ranked[-1]["insufficient"]
    assert ranked[0]["median_runtime_s"] == 30.0 and ranked[0]["cost_per_success_nanos"] == 10 * 10**9 // 970
    everything = {r["model"]: r for r in ranked_rows(_matrix(), ALL_KINDS, 20)}
    assert everything["big"]["successes"] == 990 and everything["big"]["total"] == 1025
    assert everything["big"]["median_runtime_s"] is None  # runtimes do not sum across kinds
    value = {r["model"]: r for r in value_rows(_matrix(), "coding", 20)}
    assert value["free"]["rank"] is None and value["free"]["per_dollar"] is None and value["free"]["unpriced"]
    assert value["big"]["rank"] == 1 and value["big"]["per_dollar"] == pytest.approx(97.0)


def test_heatmap_marks_insufficient_cells_instead_of_colouring_them():
    fig = heatmap_figure(matrix_cells(_matrix(), 20), 20)
    heat = next(t for t in fig.data if t.type == "heatmap")
    y_lucky = list(fig.layout.yaxis.ticktext).index("lucky")
    x_coding = list(fig.layout.xaxis.ticktext).index("coding")
    assert heat.z[y_lucky][x_coding] is None
    assert any("insufficient data" in a.text and "3/3" in a.text for a in fig.layout.annotations)
    assert any(t.type == "scatter" and t.fillpattern.shape == "/" for t in fig.data)
    y_big = list(fig.layout.yaxis.ticktext).index("big")
    assert heat.z[y_big][x_coding] == pytest.approx(matrix_cells(_matrix(), 20).iloc[0]["wilson_low"])


def test_reports_list_links_to_the_download_route():
    tree = reports_list([{"name": "usage-2025-03-09.csv", "size": 2048, "modified": T0}])
    link = next(c for c in walk(tree) if isinstance(c, html.A))
    assert link.href == "/reports/usage-2025-03-09.csv"
    assert "2.0 kB" in text_of(tree)
    assert by_id(reports_list([]), INTELLIGENCE.REPORTS_EMPTY)


# -- against the repository ----------------------------------------------------------------------------


@pytest.fixture
def app(settings):
    from helicarrier.webapp import create_app

    app = create_app(settings)
    app.server.config["HELICARRIER"].repo.create_user("vera", "correct-horse-battery", "viewer")
    return app


@pytest.fixture
def seeded(app):
    from helicarrier.demo.seed import seed_demo

    ctx = app.server.config["HELICARRIER"]
    seed_demo(ctx.ingest, days=2, now=datetime.now(UTC))
    return ctx


def test_csv_downloads_round_trip_and_match_the_totals(seeded):
    ctx = seeded
    today = datetime.now(UTC).date()
    q = intel_cb.make_query((today - timedelta(days=3)).isoformat(), today.isoformat(), "UTC", "agent", "day")
    payload = intel_cb.download_payload(ctx, "cost", q, "input_tokens", ALL_KINDS)
    assert payload["filename"].endswith(".csv") and "cost-by-agent" in payload["filename"]
    frame = pd.read_csv(io.StringIO(payload["content"]))
    assert list(frame.columns) == ["bucket", "group", "cost_nanos", "cost_usd", "unpriced_events"]
    assert int(frame["cost_nanos"].sum()) == ctx.repo.usage_totals(q.start, q.end)["cost_nanos"] > 0
    tokens = pd.read_csv(
        io.StringIO(intel_cb.download_payload(ctx, "tokens", q, "output_tokens", ALL_KINDS)["content"])
    )
    assert int(tokens["output_tokens"].sum()) == ctx.repo.usage_totals(q.start, q.end)["output_tokens"]
    for which in ("totals", "mtd", "matrix", "ranked", "value"):
        frame = pd.read_csv(
            io.StringIO(intel_cb.download_payload(ctx, which, q, "input_tokens", ALL_KINDS)["content"])
        )
        assert len(frame) >= 1, which

    filters = build_filters()
    rows, more = ledger_cb.export_rows(ctx, filters, "started_at", True, cap=7)
    assert len(rows) == 7 and more
    rows, more = ledger_cb.export_rows(ctx, filters, "cost_nanos", True, cap=10**6)
    assert not more and len(rows) == ctx.repo.session_count(filters)
    costs = [r[ledger_cb.SESSION_CSV_COLUMNS.index("cost_nanos")] for r in rows]
    assert costs == sorted(costs, reverse=True)


def test_grid_blocks_page_through_every_session(seeded):
    ctx = seeded
    filters = build_filters()
    total = ctx.repo.session_count(filters)
    seen = []
    start = 0
    while True:
        resp = ledger_cb.rows_response(
            ctx, {"startRow": start, "endRow": start + 50, "sortModel": []}, filters
        )
        seen += [r["id"] for r in resp["rowData"]]
        if resp["rowCount"] != -1:
            assert resp["rowCount"] == total
            break
        start += 50
    assert len(seen) == len(set(seen)) == total


def _login(client):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"username": "vera", "password": "correct-horse-battery", "csrf": csrf, "next": "/"}
    )


def test_reports_route_serves_listed_reports_to_signed_in_users_only(app, settings):
    folder = settings.data_dir / "reports"
    folder.mkdir(parents=True)
    (folder / "usage-2025-03-09.csv").write_text("day,cost_nanos\r\n2025-03-09,5\r\n")
    (folder / "notes.txt").write_text("not a report")
    (settings.data_dir / "secret.csv").write_text("nope")
    client = app.server.test_client()
    assert client.get("/reports/usage-2025-03-09.csv").status_code == 302  # to /login
    _login(client)
    resp = client.get("/reports/usage-2025-03-09.csv")
    assert resp.status_code == 200 and resp.data.startswith(b"day,cost_nanos")
    assert "attachment" in resp.headers["Content-Disposition"]
    for bad in ("notes.txt", ".hidden.csv", "usage-2025-03-10.csv", "..", "secret.csv"):
        assert client.get(f"/reports/{bad}").status_code == 404, bad
    # Escapes: the client resolves "..", and the app's catch-all serves the Dash page, never the file.
    for bad in ("..%2Fsecret.csv", "%2E%2E/secret.csv", "../secret.csv", "..%5Csecret.csv"):
        resp = client.get(f"/reports/{bad}")
        assert b"nope" not in resp.data and resp.status_code in (200, 404), bad


def test_text_agents_sent_is_escaped_in_figures():
    """Plotly renders trace names and tick labels as pseudo-HTML: a model name with a link must show as
    text, not become a live link on the Intelligence page."""
    import pandas as pd

    from helicarrier.layouts.intelligence_charts import cost_figure, heatmap_figure

    evil = '<a href="javascript:alert(1)">click</a>'
    frame = pd.DataFrame(
        [{"bucket": pd.Timestamp("2026-11-01", tz="UTC"), "group": evil, "cost_nanos": 10**9}]
    )
    fig = cost_figure(frame)
    (trace,) = fig.data
    assert trace.name == '&lt;a href="javascript:alert(1)"&gt;click&lt;/a&gt;'
    assert evil not in trace.hovertemplate and "%{fullData.name}" in trace.hovertemplate
    cells = pd.DataFrame(
        [
            {
                "model": evil,
                "task_kind": "<b>kind</b>",
                "successes": 5,
                "total": 30,
                "wilson_low": 0.1,
                "wilson_high": 0.3,
            }
        ]
    )
    heat = heatmap_figure(cells, min_samples=20)
    assert heat.layout.yaxis.ticktext == ('&lt;a href="javascript:alert(1)"&gt;click&lt;/a&gt;',)
    assert heat.layout.xaxis.ticktext == ("&lt;b&gt;kind&lt;/b&gt;",)
