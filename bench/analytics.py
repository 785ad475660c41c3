"""Analytics at scale: every Ledger / Intelligence repository call and API route on 1M sessions and 10M
usage events, on SQLite and PostgreSQL.

1. Build (in a child process, so the measured process's memory is the server's, not the generator's): a
   fresh migrated database, then sessions and usage events generated with numpy and written through the
   drivers' bulk paths (sqlite3 ``executemany``; PostgreSQL ``COPY``), secondary indexes dropped during the
   load and recreated after, rollups folded from the same arrays with the app's own rules
   (helicarrier.data.rollups), then ``ANALYZE``. ~50 agents, 12 models, 6 providers, 90 days; each agent
   mostly sticks to one model. Raw provider payloads are left out (``raw`` NULL) to keep the files small.
2. Check: totals of a day from the rollups equal a direct SUM over usage_events.
3. Measure (a fresh process): each repository call and each API route (Flask test client on
   ``create_app``) ``--runs`` times with varied ranges, zones, filters and sorts: p50 / p95 / max, and the
   process's peak RSS.

    .venv/bin/python bench/analytics.py [--sessions 1000000] [--events 10000000] [--runs 20]
                                        [--backends sqlite,postgresql] [--reuse] [--busy-core]

``--busy-core`` measures beside a second process that keeps one core busy (a child spinning in a loop,
started a minute before the measurement so the load average shows it, stopped after); the load average
(1, 5, 15 min) is printed before and after. Every call prints its wall-clock p95 and its CPU p95: the
measuring process's CPU time plus, on PostgreSQL, the CPU time of the app's own server backends (read
from /proc for the pids its connections report; the server runs on this machine), and is flagged when
either is over the issue 17 target (p95 < 300 ms wall, < 150 ms CPU).

``--reuse`` keeps the built database (``/tmp/hc-bench-analytics-<sessions>-<events>.db``; PostgreSQL schema
``hc_bench_analytics_<sessions>_<events>``) and reuses it on the next run with the same sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # the dataset ends here; "today" for the measurements
DAYS = 90
AGENTS = 50
# model -> (provider, $/MTok input, output, cache read, cache write, reasons?)
MODELS = {
    "gpt-4.1": ("openai", 2.0, 8.0, 0.5, 0.0, False),
    "gpt-4.1-mini": ("openai", 0.4, 1.6, 0.1, 0.0, False),
    "o3": ("openai", 2.0, 8.0, 0.5, 0.0, True),
    "o4-mini": ("openai", 1.1, 4.4, 0.275, 0.0, True),
    "claude-sonnet-4-6": ("anthropic", 3.0, 15.0, 0.3, 3.75, False),
    "claude-haiku-4-5": ("anthropic", 1.0, 5.0, 0.1, 1.25, False),
    "claude-opus-4-1": ("anthropic", 15.0, 75.0, 1.5, 18.75, True),
    "gemini-2.5-pro": ("gcp.gemini", 1.25, 10.0, 0.31, 0.0, True),
    "gemini-2.5-flash": ("gcp.gemini", 0.3, 2.5, 0.075, 0.0, False),
    "mistral-large-latest": ("mistral_ai", 2.0, 6.0, 0.0, 0.0, False),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": ("aws.bedrock", 3.0, 15.0, 0.3, 3.75, False),
    "grok-4": ("x_ai", 3.0, 15.0, 0.75, 0.0, True),
}
TASK_KINDS = ["coding", "research", "triage", "summarize", "data-analysis", "review", "migration", "support"]
TEAMS = ["billing", "platform", "data", "support", "research", "growth"]
VERBS = ["Fix", "Refactor", "Summarize", "Triage", "Investigate", "Migrate", "Review", "Document", "Analyse"]
OBJECTS = [
    "failing test in billing/invoice.py",
    "flaky integration suite",
    "support ticket",
    "quarterly revenue report",
    "database migration for orders",
    "pull request",
    "customer churn dataset",
    "incident postmortem",
    "API rate limiter",
    "onboarding docs",
    "payment webhook retries",
    "search relevance regression",
]
ERRORS = {
    "failed": [
        "RateLimitError: 429 Too Many Requests",
        "ToolError: run_tests exited 1",
        "ContextWindowExceeded: prompt is too long",
        "OutputValidationError: schema mismatch in step",
        "APIError: 500 Internal Server Error",
        "OverloadedError: 529 overloaded",
    ],
    "timeout": ["TimeoutError: step exceeded 900 s", None],
    "killed": ["killed by operator: runaway loop", "killed by budget guard: daily cap reached"],
}
PRICING_VERSION = "genai-prices-0.2.3"
WALL_TARGET_MS, CPU_TARGET_MS = 300, 150  # issue 17: p95 of every call


# == build ===============================================================================================


def _session_arrays(n: int, rng):
    import numpy as np

    models = list(MODELS)
    agent = rng.integers(0, AGENTS, n)
    primary = rng.permutation(np.arange(AGENTS) % len(models))  # every model is someone's main model
    model = np.where(rng.random(n) < 0.85, primary[agent], rng.integers(0, len(models), n))
    end_s = NOW.timestamp()
    start = end_s - rng.random(n) * DAYS * 86400
    runtime = np.exp(rng.normal(np.log(150), 1.0, n))  # median 2.5 min
    runtime = np.minimum(runtime, 6 * 3600)
    status = rng.choice(4, n, p=[0.86, 0.08, 0.03, 0.03])  # succeeded, failed, timeout, killed
    ended = start + runtime
    running = ended > end_s - 60  # the last minute: still running
    ended = np.minimum(ended, end_s)
    order = np.argsort(start)  # stored in the order they start, as a live fleet writes them
    cols = {
        "agent": agent,
        "model": model,
        "kind": rng.integers(0, len(TASK_KINDS), n),
        "team": rng.integers(0, len(TEAMS), n),
        "env": rng.integers(0, 2, n),
        "start": start,
        "end": ended,
        "running": running,
        "status": status,
        "verb": rng.integers(0, len(VERBS), n),
        "object": rng.integers(0, len(OBJECTS), n),
        "ticket": rng.integers(1000, 999_999, n),
        "err": rng.integers(0, 6, n),
    }
    return {k: v[order] for k, v in cols.items()}


def _events_for(s: dict, lo: int, hi: int, per_session, rng):
    """Usage events of sessions lo..hi: columns as numpy arrays."""
    import numpy as np

    idx = np.repeat(np.arange(lo, hi), per_session[lo:hi])
    n = len(idx)
    start, end = s["start"][idx], s["end"][idx]
    ts = start + rng.random(n) * (end - start)
    model = s["model"][idx]
    inp = (np.exp(rng.normal(np.log(6000), 0.9, n))).astype(np.int64) + 50
    out = (np.exp(rng.normal(np.log(600), 0.9, n))).astype(np.int64) + 5
    cache_read = (inp * rng.random(n) * 0.7).astype(np.int64)
    cache_write = np.where(rng.random(n) < 0.2, (inp * 0.1).astype(np.int64), 0)
    reasons = np.array([MODELS[m][5] for m in MODELS])[model]
    reasoning = np.where(reasons, (out * rng.random(n) * 0.6).astype(np.int64), 0)
    price = np.array([MODELS[m][1:5] for m in MODELS])[model]  # $/MTok = 1000 nanos per token
    cost = (
        (inp - cache_read - cache_write) * price[:, 0] * 1000
        + out * price[:, 1] * 1000
        + cache_read * price[:, 2] * 1000
        + cache_write * price[:, 3] * 1000
    ).astype(np.int64)
    unpriced = rng.random(n) < 0.01
    return {
        "session": idx,
        "ts": ts,
        "model": model,
        "input": inp,
        "output": out,
        "cache_read": cache_read,
        "cache_write": cache_write,
        "reasoning": reasoning,
        "cost": cost,
        "unpriced": unpriced,
    }


def _iso_sqlite(seconds):
    import numpy as np

    us = (seconds * 1e6).astype("int64").astype("datetime64[us]")
    return np.char.replace(np.datetime_as_string(us, unit="us"), "T", " ").tolist()


def _iso_pg(seconds):
    import numpy as np

    us = (seconds * 1e6).astype("int64").astype("datetime64[us]")
    return np.char.add(np.datetime_as_string(us, unit="us"), "+00").tolist()


def build(url: str, n_sessions: int, n_events: int, seed: int = 7) -> dict:
    """Build the dataset into the (empty) database at ``url``. Returns timings and counts."""
    import numpy as np
    import orjson
    import pandas as pd

    from helicarrier.data.engine import make_engine
    from helicarrier.data.models import Session, SessionLabel, UsageEvent
    from helicarrier.data.rollups import BAND, RUNTIME_COLUMNS, RUNTIME_EDGES_MS, failure_reason
    from helicarrier.data.schema import ensure_schema

    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    ensure_schema(engine)
    pg = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    cur = dbapi.cursor()
    if not pg:
        for pragma in ("PRAGMA synchronous=OFF", "PRAGMA cache_size=-1000000", "PRAGMA temp_store=MEMORY"):
            cur.execute(pragma)
    # Secondary indexes off during the load, rebuilt after: the bulk path of a restore or an import.
    indexes = [ix for t in (Session.__table__, UsageEvent.__table__) for ix in t.indexes]
    for ix in [*indexes, *SessionLabel.__table__.indexes]:
        cur.execute(f"DROP INDEX IF EXISTS {ix.name}")
    if pg:
        dbapi.commit()

    s = _session_arrays(n_sessions, rng)
    models = list(MODELS)
    per_session = rng.poisson(n_events / n_sessions - 1, n_sessions) + 1
    per_session = np.where(s["running"], np.maximum(per_session // 2, 1), per_session)
    scale = n_events / per_session.sum()
    per_session = np.maximum(1, np.round(per_session * scale)).astype(np.int64)
    diff = int(n_events - per_session.sum())
    if diff:
        pick = rng.choice(n_sessions, abs(diff), replace=abs(diff) > n_sessions)
        np.add.at(per_session, pick, 1 if diff > 0 else -1)
        per_session = np.maximum(per_session, 1)
    agent_names = [f"agent-{i:02d}" for i in range(AGENTS)]
    session_ids = [f"{i:08x}-{h:08x}" for i, h in enumerate(rng.integers(0, 2**32, n_sessions).tolist())]

    # Session totals from their events (kept consistent: the ledger shows the sums of the timeline).
    sums = {k: np.zeros(n_sessions, dtype=np.int64) for k in ("input", "output", "cache_read", "cache_write",
                                                               "reasoning", "cost", "unpriced")}  # fmt: skip
    usage_parts = []
    t_events = time.perf_counter()
    chunk = 50_000
    n_written = 0
    ucols = (
        "source, event_id, agent_id, session_id, ts, received_at, provider, model, input_tokens, "
        "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, total_tokens, cost_nanos, "
        "reported_cost_nanos, pricing_version, price_provider, price_model, cost_provenance, "
        "cost_confidence, "
        "normalizer_version"
    )
    for lo in range(0, n_sessions, chunk):
        hi = min(n_sessions, lo + chunk)
        e = _events_for(s, lo, hi, per_session, rng)
        n = len(e["session"])
        cost = np.where(e["unpriced"], 0, e["cost"])
        for k, arr in (("input", e["input"]), ("output", e["output"]), ("cache_read", e["cache_read"]),
                       ("cache_write", e["cache_write"]), ("reasoning", e["reasoning"]), ("cost", cost),
                       ("unpriced", e["unpriced"].astype(np.int64))):  # fmt: skip
            sums[k] += np.bincount(e["session"], weights=arr, minlength=n_sessions).astype(np.int64)
        agent = s["agent"][e["session"]]
        frame = pd.DataFrame(
            {
                "quarter": (e["ts"] // 900).astype(np.int64),
                "agent": agent,
                "model": e["model"],
                "events": 1,
                "input_tokens": e["input"],
                "output_tokens": e["output"],
                "cache_read_tokens": e["cache_read"],
                "cache_write_tokens": e["cache_write"],
                "reasoning_tokens": e["reasoning"],
                "cost_nanos": cost,
                "unpriced_events": e["unpriced"].astype(np.int64),
            }
        )
        usage_parts.append(frame.groupby(["quarter", "agent", "model"], sort=False).sum())
        model_names = np.array(models, dtype=object)[e["model"]]
        providers = np.array([MODELS[m][0] for m in models], dtype=object)[e["model"]]
        sid = np.array(session_ids, dtype=object)[e["session"]]
        agents = np.array(agent_names, dtype=object)[agent]
        ts_text = _iso_pg(e["ts"]) if pg else _iso_sqlite(e["ts"])
        total = e["input"] + e["output"]
        cost_col = np.where(e["unpriced"], None, e["cost"].astype(object))
        prov = np.where(e["unpriced"], "unpriced", "computed")
        conf = np.where(e["unpriced"], "none", "high")
        cols = [
            ["bench"] * n,
            [None] * n,
            agents.tolist(),
            sid.tolist(),
            ts_text,
            ts_text,
            providers.tolist(),
            model_names.tolist(),
            e["input"].tolist(),
            e["output"].tolist(),
            e["cache_read"].tolist(),
            e["cache_write"].tolist(),
            e["reasoning"].tolist(),
            total.tolist(),
            cost_col.tolist(),
            [None] * n,
            [PRICING_VERSION] * n,
            providers.tolist(),
            model_names.tolist(),
            prov.tolist(),
            conf.tolist(),
            [1] * n,
        ]
        rows = list(zip(*cols, strict=True))
        if pg:
            with cur.copy(f"COPY usage_events ({ucols}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
        else:
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO usage_events ({ucols}) VALUES ({', '.join('?' * 22)})", rows)
            cur.execute("COMMIT")
        if pg:
            dbapi.commit()
        n_written += n
        print(f"  events {n_written:>11,} ({n_written / (time.perf_counter() - t_events):,.0f}/s)", end="\r")
    print()

    # Sessions.
    t_sessions = time.perf_counter()
    status_names = np.array(["succeeded", "failed", "timeout", "killed"], dtype=object)
    status = np.where(s["running"], "running", status_names[s["status"]])
    err_choice = []
    for st, k in zip(status.tolist(), s["err"].tolist(), strict=True):
        options = ERRORS.get(st)
        err_choice.append(None if not options else options[k % len(options)])
    tasks = [
        f"{VERBS[v]} {OBJECTS[o]} #{t}"
        for v, o, t in zip(s["verb"].tolist(), s["object"].tolist(), s["ticket"].tolist(), strict=True)
    ]
    runtime_ms = ((s["end"] - s["start"]) * 1000).astype(np.int64)
    start_text = _iso_pg(s["start"]) if pg else _iso_sqlite(s["start"])
    end_text = _iso_pg(s["end"]) if pg else _iso_sqlite(s["end"])
    scols = (
        "id, agent_id, model, provider, task, task_kind, labels, status, error, started_at, ended_at, "
        "runtime_ms, usage_events, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
        "reasoning_tokens, total_tokens, cost_nanos, unpriced_events, updated_at"
    )
    srows = []
    running = s["running"].tolist()
    for i in range(n_sessions):
        m = models[s["model"][i]]
        kind = TASK_KINDS[s["kind"][i]]
        labels = orjson.dumps({"team": TEAMS[s["team"][i]], "env": ("prod", "staging")[s["env"][i]],
                               "task_kind": kind}).decode()  # fmt: skip
        srows.append(
            (
                session_ids[i],
                agent_names[s["agent"][i]],
                m,
                MODELS[m][0],
                tasks[i],
                kind,
                labels,
                status[i],
                err_choice[i],
                start_text[i],
                None if running[i] else end_text[i],
                None if running[i] else int(runtime_ms[i]),
                int(per_session[i]),
                int(sums["input"][i]),
                int(sums["output"][i]),
                int(sums["cache_read"][i]),
                int(sums["cache_write"][i]),
                int(sums["reasoning"][i]),
                int(sums["input"][i] + sums["output"][i]),
                int(sums["cost"][i]),
                int(sums["unpriced"][i]),
                start_text[i],
            )
        )
    if not pg:
        cur.execute("BEGIN")
    marks = ", ".join(["%s" if pg else "?"] * 5)
    cur.executemany(
        f"INSERT INTO agents (id, name, status, first_seen_at, updated_at) VALUES ({marks})",
        [(a, a, "idle", start_text[0], start_text[0]) for a in agent_names],
    )
    if pg:
        with cur.copy(f"COPY sessions ({scols}) FROM STDIN") as cp:
            for r in srows:
                cp.write_row(r)
        dbapi.commit()
    else:
        cur.executemany(f"INSERT INTO sessions ({scols}) VALUES ({', '.join('?' * 22)})", srows)
        cur.execute("COMMIT")
    t_indexes = time.perf_counter()
    print(f"  sessions {n_sessions:,} in {t_indexes - t_sessions:.0f} s; rebuilding indexes")
    from sqlalchemy.schema import CreateIndex

    for ix in indexes:
        cur.execute(str(CreateIndex(ix).compile(dialect=engine.dialect)))
        if pg:
            dbapi.commit()

    # Rollups, from the same arrays, by the app's rules.
    t_rollups = time.perf_counter()
    quarters = pd.concat(usage_parts).groupby(level=[0, 1, 2]).sum().reset_index()
    quarters["agent_id"] = np.array(agent_names, dtype=object)[quarters["agent"].to_numpy()]
    quarters["model_name"] = np.array(models, dtype=object)[quarters["model"].to_numpy()]
    quarters["provider"] = quarters["model_name"].map(lambda m: MODELS[m][0])
    quarters["reported_cost_nanos"] = 0
    sum_cols = ["events", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "reasoning_tokens", "cost_nanos", "unpriced_events", "reported_cost_nanos"]  # fmt: skip
    quarters["hour"] = quarters["quarter"] // 4
    usage = quarters.groupby(["hour", "agent_id", "model_name", "provider"])[sum_cols].sum().reset_index()
    by_model = usage.groupby(["hour", "model_name", "provider"])[sum_cols].sum().reset_index()
    by_agent = usage.groupby(["hour", "agent_id"])[sum_cols].sum().reset_index()
    by_agent_day = by_agent.assign(day=by_agent["hour"] // 24).groupby(["day", "agent_id"])[sum_cols].sum()
    by_agent_day = by_agent_day.reset_index()
    ended = ~s["running"]
    sess = pd.DataFrame(
        {
            "day": (s["end"][ended] // 86400).astype(np.int64),
            "model": np.array(models, dtype=object)[s["model"][ended]],
            "task_kind": np.array(TASK_KINDS, dtype=object)[s["kind"][ended]],
            "status": status[ended],
            "reason": [
                failure_reason(st, er)
                for st, er, e in zip(status.tolist(), err_choice, ended.tolist(), strict=True)
                if e
            ],
            "runtime_ms": runtime_ms[ended],
            "cost_nanos": sums["cost"][ended],
            "unpriced_events": sums["unpriced"][ended],
        }
    )
    sess["sessions"] = 1
    bins = np.searchsorted(np.array(RUNTIME_EDGES_MS), sess["runtime_ms"].to_numpy(), side="right")
    sess["band"] = bins // BAND
    for i, col in enumerate(RUNTIME_COLUMNS):
        sess[col] = (bins % BAND == i).astype(np.int64)
    srollup = (
        sess.groupby(["day", "model", "task_kind", "status", "reason"])[
            ["sessions", "runtime_ms", "cost_nanos", "unpriced_events"]
        ]
        .sum()
        .reset_index()
    )
    hist = sess.groupby(["day", "model", "task_kind", "band"])[list(RUNTIME_COLUMNS)].sum().reset_index()
    facets = (
        [("model", m) for m in models]
        + [("provider", p) for p in sorted({v[0] for v in MODELS.values()})]
        + [("task_kind", k) for k in TASK_KINDS]
        + [("label", f"team={t}") for t in TEAMS]
        + [("label", f"env={e}") for e in ("prod", "staging")]
        + [("label", f"task_kind={k}") for k in TASK_KINDS]
    )

    def put(table: str, cols: list[str], frame_rows) -> None:
        rows = [tuple(int(v) if isinstance(v, np.integer) else v for v in r) for r in frame_rows]
        if pg:
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            dbapi.commit()
        else:
            cur.execute("BEGIN")
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows
            )
            cur.execute("COMMIT")

    put(
        "usage_quarter_rollups",
        ["quarter", "agent_id", "model", "provider", *sum_cols],
        quarters[["quarter", "agent_id", "model_name", "provider", *sum_cols]].itertuples(index=False),
    )
    ucols_r = ["hour", "agent_id", "model", "provider", *sum_cols]
    put(
        "usage_rollups",
        ucols_r,
        usage[["hour", "agent_id", "model_name", "provider", *sum_cols]].itertuples(index=False),
    )
    put("usage_model_rollups", ["hour", "model", "provider", *sum_cols], by_model.itertuples(index=False))
    put("usage_agent_rollups", ["hour", "agent_id", *sum_cols], by_agent.itertuples(index=False))
    put("usage_agent_day_rollups", ["day", "agent_id", *sum_cols], by_agent_day.itertuples(index=False))
    put(
        "session_rollups",
        [
            "day",
            "model",
            "task_kind",
            "status",
            "reason",
            "sessions",
            "runtime_ms",
            "cost_nanos",
            "unpriced_events",
        ],
        srollup.itertuples(index=False),
    )
    put(
        "session_runtime_rollups",
        ["day", "model", "task_kind", "band", *RUNTIME_COLUMNS],
        hist.itertuples(index=False),
    )
    label_rows = (
        (session_ids[i], k, v, start_text[i])
        for i in range(n_sessions)
        for k, v in (("env", ("prod", "staging")[s["env"][i]]), ("task_kind", TASK_KINDS[s["kind"][i]]),
                     ("team", TEAMS[s["team"][i]]))
    )  # fmt: skip
    put("session_labels", ["session_id", "key", "value", "started_at"], label_rows)
    for ix in SessionLabel.__table__.indexes:
        cur.execute(str(CreateIndex(ix).compile(dialect=engine.dialect)))
        if pg:
            dbapi.commit()
    put("facet_values", ["facet", "value"], facets)
    t_analyze = time.perf_counter()
    if pg:
        dbapi.autocommit = True
        cur.execute("VACUUM ANALYZE")
    else:
        cur.execute("ANALYZE")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cur.close()
    raw.close()
    engine.dispose()
    return {
        "sessions": n_sessions,
        "events": int(per_session.sum()),
        "usage_rollup_rows": len(usage),
        "model_rollup_rows": len(by_model),
        "session_rollup_rows": len(srollup),
        "runtime_rollup_rows": len(hist),
        "seconds": {
            "events": round(t_sessions - t_events, 1),
            "sessions": round(t_indexes - t_sessions, 1),
            "indexes": round(t_rollups - t_indexes, 1),
            "rollups": round(t_analyze - t_rollups, 1),
            "analyze": round(time.perf_counter() - t_analyze, 1),
            "total": round(time.perf_counter() - t_start, 1),
        },
    }


# == measure =============================================================================================


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(q * (len(s) - 1))))
    return s[k]


def measure(url: str, runs: int, seed: int = 11, no_settle: bool = False) -> dict:
    import psutil

    from helicarrier.analytics.filters import SessionFilters
    from helicarrier.analytics.matrix import model_matrix
    from helicarrier.config import load_settings
    from helicarrier.data.models import UsageEvent
    from helicarrier.data.repository import Repository

    rng = random.Random(seed)
    backend_pids = _track_backend_pids()
    data_dir = Path(tempfile.mkdtemp(prefix="hc-bench-analytics-"))
    settings = load_settings(database_url=url, data_dir=data_dir, secret_key="bench", log_level="WARNING")
    from helicarrier.webapp import create_app

    app = create_app(settings)
    if not no_settle:
        from helicarrier.webapp import settle_heap  # as the production entry (app.py) does

        settle_heap()
    ctx = app.server.config["HELICARRIER"]
    repo: Repository = ctx.repo
    client = app.server.test_client()
    token, _ = repo.create_token(f"bench-{os.getpid()}-{rng.random()}", "read")
    headers = {"Authorization": f"Bearer {token}"}

    with repo.engine.connect() as conn:
        from sqlalchemy import func, select, text

        ids = [r[0] for r in conn.execute(text("SELECT id FROM sessions ORDER BY random() LIMIT 200"))]
        # Check: one day's totals from the rollups (+ ragged ends) equal a SUM over the raw events.
        a, b = NOW - timedelta(days=10, hours=3, minutes=7), NOW - timedelta(days=9, hours=1, minutes=13)
        sums = (
            func.count(),
            func.coalesce(func.sum(UsageEvent.cost_nanos), 0),
            func.sum(UsageEvent.input_tokens),
        )
        raw = conn.execute(select(*sums).where(UsageEvent.ts >= a, UsageEvent.ts < b)).one()
    t = repo.usage_totals(a, b)
    assert (t["events"], t["cost_nanos"], t["input_tokens"]) == tuple(int(v) for v in raw), (t, raw)

    zones = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Paris", "Asia/Tokyo"]
    spans = [1, 7, 30, 90]
    opts = repo.filter_options()

    def a_range(max_days: int | None = None):
        days = rng.choice([d for d in spans if max_days is None or d <= max_days])
        end = NOW - timedelta(days=rng.choice([0, 0, 1, 3, 10]), hours=rng.randrange(24))
        return end - timedelta(days=days), end

    def a_filter() -> SessionFilters:
        start, end = a_range(30)
        kind = rng.choice(["none", "range", "agent", "model", "status", "label", "text", "combo"])
        if kind == "none":
            return SessionFilters()
        if kind == "range":
            return SessionFilters(start=start, end=end)
        if kind == "agent":
            return SessionFilters(agent_ids=tuple(rng.sample(opts["agents"], 2)))
        if kind == "model":
            return SessionFilters(models=(rng.choice(opts["models"]),), start=start, end=end)
        if kind == "status":
            return SessionFilters(statuses=(rng.choice(["failed", "timeout", "killed"]),))
        if kind == "label":
            return SessionFilters(labels=(rng.choice(opts["labels"]),), start=start, end=end)
        if kind == "text":  # free text is meant with a date range: a week
            word = rng.choice(["invoice", "churn", "RateLimit", "postmortem", "#4242", "webhook"])
            return SessionFilters(text=word, start=NOW - timedelta(days=7), end=NOW)
        return SessionFilters(
            agent_ids=(rng.choice(opts["agents"]),),
            statuses=("succeeded",),
            labels=("env=prod",),
            start=start,
            end=end,
        )

    sorts = ["started_at", "cost_nanos", "runtime_s", "total_tokens", "agent_id", "model", "status"]

    def sessions_page():
        f = a_filter()
        sort = rng.choice(sorts)
        desc = rng.random() < 0.8
        page = repo.sessions_page(f, sort=sort, descending=desc, limit=100)
        if page.next_cursor:  # and the next page, as scrolling does
            repo.sessions_page(f, sort=sort, descending=desc, cursor=page.next_cursor, limit=100)

    def api_sessions():
        start, end = a_range(30)
        q = rng.choice(
            [
                "",
                f"&from={start.date()}&to={end.date()}",
                f"&agent={rng.choice(opts['agents'])}",
                "&status=failed&sort=cost_nanos",
                f"&q=invoice&from={(NOW - timedelta(days=7)).date()}",
                f"&model={rng.choice(opts['models'])}&sort=runtime_s&order=asc",
            ]
        )
        r = client.get(f"/api/v1/sessions?limit=100{q}", headers=headers)
        assert r.status_code == 200, r.get_data()[:300]

    def api_usage():
        start, end = a_range()
        g = rng.choice(["day", "model", "provider", "agent"])
        tz = rng.choice(zones)
        r = client.get(
            f"/api/v1/usage?from={start.date()}&to={end.date()}&group_by={g}&tz={tz}", headers=headers
        )
        assert r.status_code == 200, r.get_data()[:300]

    def api_matrix():
        start, end = a_range()
        r = client.get(f"/api/v1/models/matrix?from={start.date()}&to={end.date()}", headers=headers)
        assert r.status_code == 200, r.get_data()[:300]

    def api_detail():
        r = client.get(f"/api/v1/sessions/{rng.choice(ids)}", headers=headers)
        assert r.status_code == 200

    calls = {
        "usage_totals": lambda: repo.usage_totals(*a_range()),
        "usage_series day": lambda: repo.usage_series(
            *a_range(), group_by=rng.choice([None, "model", "provider", "agent"]), tz=rng.choice(zones)
        ),
        "usage_series hour (<=3 d)": lambda: repo.usage_series(
            NOW - timedelta(days=rng.choice([1, 3])),
            NOW,
            group_by=rng.choice([None, "model", "agent"]),
            tz=rng.choice(zones),
            granularity="hour",
        ),  # fmt: skip
        "month_to_date": lambda: repo.month_to_date(
            NOW - timedelta(days=rng.randrange(60)), tz=rng.choice(zones)
        ),
        "model_matrix": lambda: model_matrix(repo, *a_range()),
        "sessions_page (+ next page)": sessions_page,
        "sessions_rows (grid block)": lambda: repo.sessions_rows(
            a_filter(), sort=rng.choice(sorts), descending=True, offset=rng.choice([0, 100, 1000]), limit=100
        ),
        "session_count": lambda: repo.session_count(a_filter()),
        "session_detail": lambda: repo.session_detail(rng.choice(ids)),
        "filter_options": repo.filter_options,
        "GET /api/v1/sessions": api_sessions,
        "GET /api/v1/sessions/<id>": api_detail,
        "GET /api/v1/usage": api_usage,
        "GET /api/v1/models/matrix": api_matrix,
    }
    results = {}
    load_before = os.getloadavg()[0]
    for name, fn in calls.items():
        fn()  # warm: first use of the statement, caches
        samples, cpu, server = [], [], []
        for _ in range(runs):
            t0, c0, s0 = time.perf_counter(), time.process_time(), _backend_cpu(backend_pids)
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
            server_ms = (_backend_cpu(backend_pids) - s0) * 1000
            server.append(server_ms)
            cpu.append((time.process_time() - c0) * 1000 + server_ms)
        results[name] = {
            "p50": statistics.median(samples),
            "p95": _pct(samples, 0.95),
            "max": max(samples),
            # This process's CPU (all of the work on SQLite) plus, on PostgreSQL, its server backends' CPU.
            "cpu_p95": _pct(cpu, 0.95),
            "server_cpu_p95": _pct(server, 0.95),
        }
    rss = psutil.Process().memory_info().rss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    repo.dispose()
    return {
        "calls": results,
        "rss_bytes": rss,
        "peak_rss_bytes": peak,
        "backend": repo.backend,
        "load": [load_before, os.getloadavg()[0]],
    }


def _track_backend_pids() -> set[int]:
    """The pids of the PostgreSQL server backends of every connection this process opens."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    pids: set[int] = set()

    @event.listens_for(Engine, "connect")
    def _remember(dbapi_connection, _record) -> None:
        if type(dbapi_connection).__module__.startswith("psycopg"):
            with dbapi_connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                pids.add(int(cur.fetchone()[0]))
            dbapi_connection.rollback()

    return pids


_TICK = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pids: set[int]) -> float:
    """Seconds of CPU (user + system) the processes ``pids`` used so far (those that still run)."""
    total = 0
    for pid in list(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _busy_core() -> subprocess.Popen:
    """A child that keeps one core busy until it is terminated."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


# == driver ==============================================================================================


def _pg_schema_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return (
        make_url(PG_URL)
        .update_query_dict({"options": f"-csearch_path={name}"})
        .render_as_string(hide_password=False)
    )


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(proc.stderr[-3000:] if proc.returncode else "")
    for line in proc.stdout.splitlines():
        if not line.startswith("RESULT "):
            print(line)
    if proc.returncode:
        raise SystemExit(f"child {' '.join(args[:2])} failed ({proc.returncode})")
    return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--reuse", action="store_true", help="keep the built database and reuse it next time")
    ap.add_argument(
        "--busy-core",
        action="store_true",
        help="measure beside a child process that keeps one core busy (started 60 s before measuring)",
    )
    ap.add_argument("--busy-warmup", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument(
        "--no-settle", action="store_true", help="do not freeze the startup heap (app.py's settle_heap)"
    )
    ap.add_argument("--build-only", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--measure-only", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        print("RESULT " + json.dumps(build(args.build_only, args.sessions, args.events)), flush=True)
        return
    if args.measure_only:
        print(
            "RESULT " + json.dumps(measure(args.measure_only, args.runs, no_settle=args.no_settle)),
            flush=True,
        )
        return

    import psutil

    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    print(f"dataset: {args.sessions:,} sessions, {args.events:,} usage events, {AGENTS} agents, {DAYS} days")
    tag = f"{args.sessions}_{args.events}"
    summary = {}
    for backend in args.backends.split(","):
        print(f"\n[{backend}]")
        admin = schema = path = None
        if backend == "sqlite":
            path = Path(tempfile.gettempdir()) / f"hc-bench-analytics-{tag}.db"
            url = f"sqlite:///{path}"
            fresh = not (args.reuse and path.exists())
            if fresh:
                for suffix in ("", "-wal", "-shm", "-writelock"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
            schema = f"hc_bench_analytics_{tag}"
            with admin.connect() as c:
                exists = c.execute(
                    text(
                        "SELECT 1 FROM information_schema.tables "
                        "WHERE table_schema = :s AND table_name = 'facet_values'"
                    ),
                    {"s": schema},
                ).first()
                fresh = not (args.reuse and exists)
                if fresh:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                    c.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = _pg_schema_url(schema)
        try:
            if fresh:
                built = _child(
                    ["--sessions", str(args.sessions), "--events", str(args.events), "--build-only", url]
                )
                print(f"  built in {built['seconds']['total']:.0f} s: {built['seconds']}")
                print(
                    f"  rollup rows: usage {built['usage_rollup_rows']:,}, "
                    f"by model {built['model_rollup_rows']:,}, sessions {built['session_rollup_rows']:,}, "
                    f"runtimes {built['runtime_rollup_rows']:,}"
                )
            else:
                print("  reusing the database built earlier")
            if path is not None:
                print(f"  database file: {path.stat().st_size / 2**30:.2f} GiB")
            busy = None
            if args.busy_core:
                busy = _busy_core()
                print(f"  busy core: pid {busy.pid} spinning; load average (1/5/15 min) now {_load()}")
                time.sleep(args.busy_warmup)  # a bench, not a test: let the load average show the spinner
            print(f"  load average (1/5/15 min) before measuring: {_load()}  [{datetime.now(UTC):%H:%M} UTC]")
            try:
                m = _child(
                    [
                        "--runs",
                        str(args.runs),
                        *(["--no-settle"] if args.no_settle else []),
                        "--measure-only",
                        url,
                    ]
                )
            finally:
                now = datetime.now(UTC)
                print(f"  load average (1/5/15 min) after measuring:  {_load()}  [{now:%H:%M} UTC]")
                if busy is not None:
                    busy.terminate()
                    busy.wait()
            summary[backend] = m
            beside = " (beside one busy core)" if args.busy_core else ""
            print(f"  target: p95 < {WALL_TARGET_MS} ms wall, < {CPU_TARGET_MS} ms CPU{beside}")
            print(f"  {'call':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU p95':>8} {'srv CPU':>8}")
            for name, r in m["calls"].items():
                over = [f"wall {r['p95']:.0f}"] if r["p95"] >= WALL_TARGET_MS else []
                over += [f"CPU {r['cpu_p95']:.0f}"] if r["cpu_p95"] >= CPU_TARGET_MS else []
                flag = f"  <-- over target: {', '.join(over)}" if over else ""
                keys = ("p50", "p95", "max", "cpu_p95", "server_cpu_p95")
                figures = " ".join(f"{r[k]:>8.1f}" for k in keys)
                print(f"  {name:<30} {figures}{flag}")
            print(f"  machine load average (1 min) before / after: {m['load'][0]:.1f} / {m['load'][1]:.1f}")
            rss, peak = m["rss_bytes"] / 2**20, m["peak_rss_bytes"] / 2**20
            print(f"  RSS at the end {rss:.0f} MiB, peak {peak:.0f} MiB")
        finally:
            if not args.reuse:
                if path is not None:
                    for suffix in ("", "-wal", "-shm", "-writelock"):
                        Path(f"{path}{suffix}").unlink(missing_ok=True)
                if admin is not None:
                    with admin.connect() as c:
                        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            if admin is not None:
                admin.dispose()


if __name__ == "__main__":
    main()
