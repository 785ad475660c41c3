"""The rollup tables always equal a full recount of the raw tables, whatever the order events arrive in.

The recount here is written independently of helicarrier/data/rollups.py (only the runtime bin edges, a
table of numbers, are shared), straight from the raw rows.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from helicarrier.actors import Actor
from helicarrier.auth.binding import Speaker
from helicarrier.control.validation import AckAnswer
from helicarrier.data.engine import make_engine
from helicarrier.data.models import Base, Session, SessionLabel, UsageEvent
from helicarrier.data.rollups import RUNTIME_EDGES_MS
from helicarrier.data.schema import downgrade, ensure_schema
from tests.ingesting import Sender, provider_fixtures

FIXTURES = provider_fixtures()
BASE = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)  # spans the US DST change and several UTC days
ROLLUP_TABLES = (
    "usage_quarter_rollups",
    "usage_rollups",
    "usage_model_rollups",
    "usage_agent_rollups",
    "usage_agent_day_rollups",
    "session_rollups",
    "session_runtime_rollups",
    "session_labels",
)


def _truncate(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def recount(engine) -> dict[str, dict[tuple, tuple]]:
    """Every rollup table, recomputed in Python from usage_events and sessions."""
    quarters: dict[tuple, list[int]] = defaultdict(lambda: [0] * 9)
    usage: dict[tuple, list[int]] = defaultdict(lambda: [0] * 9)
    by_model: dict[tuple, list[int]] = defaultdict(lambda: [0] * 9)
    by_agent: dict[tuple, list[int]] = defaultdict(lambda: [0] * 9)
    by_agent_day: dict[tuple, list[int]] = defaultdict(lambda: [0] * 9)
    sessions: dict[tuple, list[int]] = defaultdict(lambda: [0] * 4)
    runtimes: dict[tuple, list[int]] = defaultdict(lambda: [0] * 16)
    labels: set[tuple] = set()
    with engine.connect() as conn:
        for u in conn.execute(select(UsageEvent)):
            seconds = int((u.ts - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
            hour = seconds // 3600
            vals = [
                1,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens or 0,
                u.cost_nanos or 0,
                int(u.cost_nanos is None),
                u.reported_cost_nanos or 0,
            ]
            for acc in (
                quarters[(seconds // 900, u.agent_id, u.model or "", u.provider)],
                usage[(hour, u.agent_id, u.model or "", u.provider)],
                by_model[(hour, u.model or "", u.provider)],
                by_agent[(hour, u.agent_id)],
                by_agent_day[(seconds // 86400, u.agent_id)],
            ):
                for i, v in enumerate(vals):
                    acc[i] += v
        for s in conn.execute(select(Session)):
            labels |= {(s.id, k, v, s.started_at) for k, v in (s.labels or {}).items()}
            assert s.total_tokens == s.input_tokens + s.output_tokens
            if s.ended_at is None:
                assert s.runtime_ms is None
                continue
            ms = max(0, (s.ended_at - s.started_at) // timedelta(milliseconds=1))
            assert s.runtime_ms == ms
            day = int((s.ended_at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) // 86400
            if s.status == "succeeded":
                reason = ""
            else:
                head = (s.error or "").partition(":")[0][:80].strip(" ")
                reason = head or s.status
            acc = sessions[(day, s.model or "", s.task_kind or "", s.status, reason)]
            acc[0] += 1
            acc[1] += ms
            acc[2] += s.cost_nanos
            acc[3] += s.unpriced_events
            b = bisect.bisect_right(RUNTIME_EDGES_MS, ms)
            runtimes[(day, s.model or "", s.task_kind or "", b // 16)][b % 16] += 1
    return {
        "usage_quarter_rollups": {k: tuple(v) for k, v in quarters.items()},
        "usage_rollups": {k: tuple(v) for k, v in usage.items()},
        "usage_model_rollups": {k: tuple(v) for k, v in by_model.items()},
        "usage_agent_rollups": {k: tuple(v) for k, v in by_agent.items()},
        "usage_agent_day_rollups": {k: tuple(v) for k, v in by_agent_day.items()},
        "session_rollups": {k: tuple(v) for k, v in sessions.items()},
        "session_runtime_rollups": {k: tuple(v) for k, v in runtimes.items()},
        "session_labels": {k: () for k in labels},
    }


def stored(engine) -> dict[str, dict[tuple, tuple]]:
    keys = {
        "usage_quarter_rollups": 4,
        "usage_rollups": 4,
        "usage_model_rollups": 3,
        "usage_agent_rollups": 2,
        "usage_agent_day_rollups": 2,
        "session_rollups": 5,
        "session_runtime_rollups": 4,
        "session_labels": 4,
    }
    out = {}
    with engine.connect() as conn:
        for table, nkey in keys.items():
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            if table == "session_labels":
                cols = (
                    SessionLabel.session_id,
                    SessionLabel.key,
                    SessionLabel.value,
                    SessionLabel.started_at,
                )
                rows = conn.execute(select(*cols)).all()
            out[table] = {tuple(r[:nkey]): tuple(int(v) for v in r[nkey:]) for r in rows}
    return out


def assert_rollups_match(engine) -> None:
    want, got = recount(engine), stored(engine)
    for table in ROLLUP_TABLES:
        assert got[table] == want[table], table


# -- random ingest -------------------------------------------------------------------------------------

MODELS = ("gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4-6", "no-such-model-x", None)
KINDS = ("coding", "triage", None)
STATUSES = ("succeeded", "failed", "timeout", "killed")
ERRORS = (None, "", "RateLimitError: 429 slow down", "no colon here at all", "x" * 120, ": leading colon")

minutes = st.integers(0, 3 * 24 * 60)
session_ids = st.sampled_from([f"s{i}" for i in range(6)])
usage_op = st.tuples(
    st.just("usage"),
    st.one_of(st.none(), session_ids),
    minutes,
    st.sampled_from(sorted(FIXTURES)),
    st.sampled_from(MODELS),
)
start_op = st.tuples(
    st.just("start"),
    session_ids,
    minutes,
    st.sampled_from(MODELS),
    st.sampled_from(KINDS),
    st.dictionaries(st.sampled_from(["team", "env"]), st.sampled_from(["a", "b"]), max_size=2),
)
end_op = st.tuples(st.just("end"), session_ids, minutes, st.sampled_from(STATUSES), st.sampled_from(ERRORS))
log_op = st.tuples(st.just("log"), session_ids, minutes)
ops = st.lists(st.one_of(usage_op, start_op, end_op, log_op), min_size=1, max_size=40)


def build_events(sender: Sender, operations) -> list[dict]:
    events = []
    for op in operations:
        kind = op[0]
        if kind == "usage":
            _, session, m, fixture, model = op
            data = dict(FIXTURES[fixture]["data"])
            if model is not None and fixture.startswith(("openai_", "anthropic_", "mistral_")):
                data["response"] = {**data["response"], "model": model}
            agent = f"a{int(session[1:]) % 3}" if session else "a-loose"
            events.append(sender.event("usage", BASE + timedelta(minutes=m), agent, session, data))
        elif kind == "start":
            _, session, m, model, task_kind, labels = op
            data = {
                "model": model,
                "task": f"task of {session}",
                "task_kind": task_kind,
                "labels": labels or None,
            }
            agent = f"a{int(session[1:]) % 3}"
            events.append(sender.event("session.start", BASE + timedelta(minutes=m), agent, session, data))
        elif kind == "end":
            _, session, m, status, error = op
            agent = f"a{int(session[1:]) % 3}"
            data = {"status": status, "error": error}
            events.append(sender.event("session.end", BASE + timedelta(minutes=m), agent, session, data))
        else:
            _, session, m = op
            agent = f"a{int(session[1:]) % 3}"
            data = {"message": "step"}
            events.append(sender.event("log", BASE + timedelta(minutes=m), agent, session, data))
    return events


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=ops, seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 15))
def test_rollups_equal_a_recount_after_random_ingest(ctx, operations, seed, batch):
    _truncate(ctx.repo.engine)
    sender = Sender(ctx)
    rng = random.Random(seed)
    events = build_events(sender, operations)
    sender.send(events, batch=batch, shuffle=rng)
    # Some events again (a client retrying): duplicates change nothing.
    sender.send(rng.sample(events, k=len(events) // 3), batch=batch)
    assert_rollups_match(ctx.repo.engine)
    facets = set()
    for e in events:
        if e["type"] == "session.start":
            d = e["data"]
            facets |= {(f, d[f]) for f in ("model", "task_kind") if d.get(f)}
            facets |= {("label", f"{k}={v}") for k, v in (d.get("labels") or {}).items()}
    with ctx.repo.engine.connect() as conn:
        got = set(conn.execute(text("SELECT facet, value FROM facet_values")).all())
    assert got == facets


def test_rebuild_reproduces_what_ingest_maintained(ctx, sender):
    rng = random.Random(5)
    ops_list = [
        ("start", "s1", 10, "gpt-4.1", "coding", {"team": "a"}),
        ("usage", "s1", 20, "openai_chat__full", None),
        ("end", "s1", 30, "failed", "ToolError: boom"),
        ("usage", "s1", 40, "anthropic_messages__full", None),  # late usage
        ("start", "s2", 5000, "claude-sonnet-4-6", None, {}),
        ("end", "s2", 4000, "succeeded", None),  # ended before its (late) start
    ]
    sender.send(build_events(sender, ops_list), batch=2, shuffle=rng)
    before = stored(ctx.repo.engine)
    counts = ctx.repo.rebuild_rollups()
    assert stored(ctx.repo.engine) == before
    assert counts["session_rollups"] == len(before["session_rollups"])
    assert_rollups_match(ctx.repo.engine)


def test_migration_0017_backfills_the_daily_agent_rollup(ctx, sender):
    """A database that held usage before 0017 gets day rows equal to a recount of its events."""
    ops_list = [
        ("usage", f"s{i % 4}", m, "openai_chat__full", None) for i, m in enumerate(range(0, 4000, 170))
    ]
    sender.send(build_events(sender, ops_list), batch=5)
    engine = make_engine(ctx.repo.engine.url.render_as_string(hide_password=False))
    downgrade(engine, "0016")
    ensure_schema(engine)
    engine.dispose()
    assert len(stored(ctx.repo.engine)["usage_agent_day_rollups"]) > 3  # several UTC days and agents
    assert_rollups_match(ctx.repo.engine)


def test_kill_confirmation_counts_the_session_as_killed(ctx, sender):
    now = datetime.now(UTC)
    sender.send(
        [
            sender.event("agent.heartbeat", now, "k1", None, {"status": "running"}),
            sender.event("session.start", now, "k1", "ks1", {"model": "gpt-4.1", "task_kind": "coding"}),
            sender.event("usage", now, "k1", "ks1", FIXTURES["openai_chat__full"]["data"]),
        ]
    )
    operator = Actor("op", "user", "operator")
    cmd, _ = ctx.control.issue(operator, "k1", {"kind": "kill", "reason": "runaway"}, None)
    ctx.control.deliver("k1")
    ctx.control.ack(Speaker.internal("tests"), cmd["id"], "k1", AckAnswer("completed", "stopped", "ks1"))
    with ctx.repo.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, reason, sessions FROM session_rollups")).all()
    assert [tuple(r) for r in rows] == [("killed", "killed by op", 1)]
    assert_rollups_match(ctx.repo.engine)
    # A session.end arriving after the kill moves it, not doubles it.
    sender.send([sender.event("session.end", now, "k1", "ks1", {"status": "failed", "error": "late"})])
    assert_rollups_match(ctx.repo.engine)
    with ctx.repo.engine.connect() as conn:
        assert conn.execute(text("SELECT sum(sessions) FROM session_rollups")).scalar() == 1
