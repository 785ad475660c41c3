"""The Ledger's repository calls: every sort pages through every session exactly once (cursor and offset),
filters match a Python filter over the same sessions, free text is literal and case-insensitive."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from helicarrier.analytics.filters import SessionFilters
from helicarrier.data.queries.sessions import SORTS, CursorError
from tests.ingesting import provider_fixtures

FIXTURES = provider_fixtures()
T0 = datetime(2026, 5, 1, tzinfo=UTC)
TASKS = ["Fix 100% of_tests", "fix 100x oftests", "Summarize ticket #42", "Write the REPORT", None]


@pytest.fixture
def ledger(ctx, sender):
    """60 sessions: ties on start time and cost, running ones, ones without a model, labels, odd tasks."""
    rng = random.Random(7)
    sessions = []
    events = []
    for k in range(60):
        sid = f"s-{k:03d}"
        agent = f"agent-{k % 4}"
        start = T0 + timedelta(minutes=(k // 3) * 10)  # three sessions share each start time
        model = [None, "gpt-4.1", "claude-sonnet-4-6", "gemini-2.5-pro"][k % 4]
        provider = {None: None, "gpt-4.1": "openai", "claude-sonnet-4-6": "anthropic"}.get(
            model, "gcp.gemini"
        )
        labels = {"team": ["a", "b", "c"][k % 3], "env": ["prod", "dev"][k % 2]}
        task = TASKS[k % len(TASKS)]
        data = {"model": model, "provider": provider, "task": task, "task_kind": "coding", "labels": labels}
        events.append(sender.event("session.start", start, agent, sid, data))
        fixture = ["openai_chat__full", "anthropic_messages__full"][k % 2]  # ties on cost
        events.append(
            sender.event("usage", start + timedelta(seconds=5), agent, sid, FIXTURES[fixture]["data"])
        )
        status, error, end = "running", None, None
        if k % 5:
            end = start + timedelta(seconds=rng.choice([30, 60, 90, 600]))
            status = ["succeeded", "failed", "timeout", "killed", "succeeded"][k % 5]
            error = None if status == "succeeded" else f"{status.title()}Error: case {k}"
            events.append(sender.event("session.end", end, agent, sid, {"status": status, "error": error}))
        events.append(
            sender.event("log", start + timedelta(seconds=1), agent, sid, {"message": f"log of {sid}"})
        )
        sessions.append(
            {
                "id": sid,
                "agent_id": agent,
                "model": model,
                "provider": provider,
                "labels": labels,
                "task": task,
                "status": status,
                "error": error,
                "started_at": start,
                "ended_at": end,
            }
        )
    sender.send(events, batch=25, shuffle=rng)
    return sessions


def _all_rows(repo) -> dict[str, dict]:
    rows = repo.sessions_rows(SessionFilters(), sort="started_at", offset=0, limit=1000)
    return {r["id"]: r for r in rows}


def _expected_order(rows: list[dict], sort: str, descending: bool) -> list[str]:
    col = {"runtime_s": "runtime_s"}.get(sort, sort)
    tail = ("started_at", "id") if sort in ("agent_id", "model", "status") else ("id",)
    if sort == "started_at":
        tail = ("id",)
    finished = [r for r in rows if r[col] is not None] if sort in ("runtime_s", "model") else rows
    nulls = [r for r in rows if r[col] is None] if sort in ("runtime_s", "model") else []
    if sort == "runtime_s":  # a running session's runtime_s is "so far"; it sorts with the NULLs
        finished = [r for r in rows if r["ended_at"] is not None]
        nulls = [r for r in rows if r["ended_at"] is None]
    key = (
        (lambda r: (r[col], *(r[t] for t in tail)))
        if sort != "started_at"
        else (lambda r: (r["started_at"], r["id"]))
    )
    tail_key = lambda r: tuple(r[t] for t in tail)  # noqa: E731
    return [r["id"] for r in sorted(finished, key=key, reverse=descending)] + [
        r["id"] for r in sorted(nulls, key=tail_key, reverse=descending)
    ]


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("descending", [True, False])
def test_cursor_and_offset_paging_visit_every_session_once_in_order(ledger, ctx, sort, descending):
    repo = ctx.repo
    rows = list(_all_rows(repo).values())
    assert len(rows) == 60
    want = _expected_order(rows, sort, descending)
    seen, cursor, pages = [], None, 0
    while True:
        page = repo.sessions_page(SessionFilters(), sort=sort, descending=descending, cursor=cursor, limit=7)
        seen += [r["id"] for r in page.rows]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        assert pages < 20
    assert seen == want
    by_offset = []
    for offset in range(0, 70, 9):
        by_offset += [r["id"] for r in repo.sessions_rows(SessionFilters(), sort=sort, descending=descending,
                                                           offset=offset, limit=9)]  # fmt: skip
    assert by_offset == want


# Filters that select few sessions: a page is sorted from what they select (through the filter's index,
# which carries the sort columns), not by walking the sort's index.
NARROW = [
    (SessionFilters(agent_ids=("agent-1", "agent-2")), lambda r: r["agent_id"] in ("agent-1", "agent-2")),
    (
        SessionFilters(models=("gpt-4.1", "gemini-2.5-pro")),
        lambda r: r["model"] in ("gpt-4.1", "gemini-2.5-pro"),
    ),
    (SessionFilters(text="ticket"), lambda r: "ticket" in (r["task"] or "").lower()),
]


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("case", range(len(NARROW)))
def test_a_few_agents_or_models_page_in_order_under_every_sort(ledger, ctx, sort, descending, case):
    filters, match = NARROW[case]
    rows = [r for r in _all_rows(ctx.repo).values() if match(r)]
    want = _expected_order(rows, sort, descending)
    assert 8 <= len(want) < 60
    seen, cursor = [], None
    while True:
        page = ctx.repo.sessions_page(filters, sort=sort, descending=descending, cursor=cursor, limit=4)
        seen += [r["id"] for r in page.rows]
        if not (cursor := page.next_cursor):
            break
    assert seen == want
    by_offset = []
    for offset in range(0, len(want) + 5, 5):
        by_offset += [r["id"] for r in ctx.repo.sessions_rows(filters, sort=sort, descending=descending,
                                                               offset=offset, limit=5)]  # fmt: skip
    assert by_offset == want


def test_a_page_that_ends_where_the_nulls_begin(ledger, ctx):
    n_finished = sum(1 for s in ledger if s["ended_at"] is not None)
    first = ctx.repo.sessions_page(SessionFilters(), sort="runtime_s", limit=n_finished)
    assert len(first.rows) == n_finished and first.next_cursor
    rest = ctx.repo.sessions_page(SessionFilters(), sort="runtime_s", cursor=first.next_cursor, limit=100)
    assert len(rest.rows) == 60 - n_finished and rest.next_cursor is None
    assert all(r["ended_at"] is None for r in rest.rows)


FILTERS = [
    (SessionFilters(agent_ids=("agent-1", "agent-2")), lambda s: s["agent_id"] in ("agent-1", "agent-2")),
    (SessionFilters(models=("gpt-4.1",)), lambda s: s["model"] == "gpt-4.1"),
    (SessionFilters(providers=("anthropic", "openai")), lambda s: s["provider"] in ("anthropic", "openai")),
    (SessionFilters(statuses=("running", "killed")), lambda s: s["status"] in ("running", "killed")),
    (SessionFilters(labels=("team=a", "team=b")), lambda s: s["labels"]["team"] in ("a", "b")),
    (SessionFilters(labels=("team=a", "env=prod")), lambda s: s["labels"] == {"team": "a", "env": "prod"}),
    (
        SessionFilters(start=T0 + timedelta(minutes=50), end=T0 + timedelta(minutes=120)),
        lambda s: T0 + timedelta(minutes=50) <= s["started_at"] < T0 + timedelta(minutes=120),
    ),
    (SessionFilters(text="100%"), lambda s: (s["task"] or "").startswith("Fix 100%")),
    (SessionFilters(text="of_"), lambda s: s["task"] == "Fix 100% of_tests"),
    (SessionFilters(text="FIX 100"), lambda s: (s["task"] or "").lower().startswith("fix 100")),
    (SessionFilters(text="timeouterror"), lambda s: s["status"] == "timeout"),
    (SessionFilters(text="  report "), lambda s: s["task"] == "Write the REPORT"),
    (
        SessionFilters(
            models=("claude-sonnet-4-6",), statuses=("succeeded",), labels=("env=dev",), text="ticket"
        ),
        lambda s: (
            s["model"] == "claude-sonnet-4-6"
            and s["status"] == "succeeded"
            and s["labels"]["env"] == "dev"
            and "ticket" in (s["task"] or "").lower()
        ),
    ),
]


@pytest.mark.parametrize("case", range(len(FILTERS)))
def test_filters(ledger, ctx, case):
    filters, match = FILTERS[case]
    want = sorted(s["id"] for s in ledger if match(s))
    got = sorted(r["id"] for r in ctx.repo.sessions_rows(filters, offset=0, limit=1000))
    assert got == want
    assert ctx.repo.session_count(filters) == len(want)
    paged, cursor = [], None
    while True:
        page = ctx.repo.sessions_page(filters, sort="cost_nanos", cursor=cursor, limit=4)
        paged += [r["id"] for r in page.rows]
        if not (cursor := page.next_cursor):
            break
    assert sorted(paged) == want and len(paged) == len(set(paged))


def test_row_shape(ledger, ctx):
    rows = _all_rows(ctx.repo)
    r = rows["s-001"]
    assert set(r) == set(
        [
            "id",
            "started_at",
            "ended_at",
            "agent_id",
            "model",
            "provider",
            "task",
            "task_kind",
            "status",
            "error",
            "runtime_s",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "total_tokens",
            "cost_nanos",
            "unpriced_events",
            "pricing_version",
            "labels",
        ]
    )
    assert r["total_tokens"] == r["input_tokens"] + r["output_tokens"] > 0
    assert r["cost_nanos"] > 0 and r["pricing_version"]
    assert isinstance(r["runtime_s"], float) and r["runtime_s"] > 0
    running = rows["s-000"]
    assert running["status"] == "running" and running["ended_at"] is None and running["runtime_s"] > 0


def test_session_detail(ledger, ctx):
    d = ctx.repo.session_detail("s-001")
    assert d["session"]["id"] == "s-001"
    assert len(d["usage"]) == 1 and len(d["logs"]) == 1 and d["commands"] == []
    u = d["usage"][0]
    assert u["cost_provenance"] == "computed" and u["cost_confidence"] and u["pricing_version"]
    b = d["breakdown"]
    assert b["cache_read_tokens"] == d["session"]["cache_read_tokens"] > 0
    assert b["cost_by_provenance"] == {
        "computed": d["session"]["cost_nanos"],
        "reported": 0,
        "estimated": 0,
        "unpriced_events": 0,
    }
    assert ctx.repo.session_detail("no-such-session") is None


def test_filter_options(ledger, ctx):
    opts = ctx.repo.filter_options()
    assert opts["agents"] == ["agent-0", "agent-1", "agent-2", "agent-3"]
    assert opts["models"] == ["claude-sonnet-4-6", "gemini-2.5-pro", "gpt-4.1"]
    assert opts["providers"] == ["anthropic", "gcp.gemini", "openai"]
    assert opts["labels"] == ["env=dev", "env=prod", "team=a", "team=b", "team=c"]
    assert opts["task_kinds"] == ["coding"]
    assert set(opts["statuses"]) == {"running", "succeeded", "failed", "timeout", "killed"}


def test_bad_sort_and_cursor(ledger, ctx):
    page = ctx.repo.sessions_page(SessionFilters(), sort="cost_nanos", limit=5)
    with pytest.raises(CursorError):
        ctx.repo.sessions_page(SessionFilters(), sort="started_at", cursor=page.next_cursor)
    with pytest.raises(CursorError):
        ctx.repo.sessions_page(SessionFilters(), cursor="not-a-cursor")
    with pytest.raises(ValueError):
        ctx.repo.sessions_page(SessionFilters(), sort="password")


def test_filters_validate():
    with pytest.raises(ValueError):
        SessionFilters(labels=("nolabel",))
    with pytest.raises(ValueError):
        SessionFilters(start=datetime(2026, 1, 1))
