"""Monthly partitions at scale (issue 14): usage events over ~12 months on PostgreSQL through the app's bulk
path, then the analytics calls, the database size, and dropping a month by partition against deleting
another month's rows in batches through the old path.

In a scratch database it creates and drops (``helicarrier_bench_parts`` on the test server):
1. migrate, create the partitions of the 12 months before this one (as migration 0010 makes them for a
   database that holds them), and load usage events spread evenly over those months and this one so far,
   through ``helicarrier.data.bulk.bulk_insert`` (COPY into the partitioned parent, indexes in place, one
   transaction per 50,000 rows). The rate of a first slice decides N: as many as fit in ``--budget-s``
   (default 420 s) of loading at that rate, at most ``--max-events`` (50M, the issue's target).
2. fold the rollups, sessions and agents from the stored events in SQL (what ingest keeps as it goes), then
   ``VACUUM ANALYZE``;
3. time each main analytics call ``--runs`` times: p50 / p95 / max;
4. the oldest month deleted through ``prune_batch`` (5,000 rows a transaction, the path retention takes for
   DEFAULT and the month the cutoff falls in), then the next month dropped by partition
   (``drop_month_partition``); rows, seconds and the database size before and after each.

    nice -n 10 .venv/bin/python bench/partitions.py [--budget-s 420] [--max-events 50000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analytics import MODELS, PRICING_VERSION, _iso_pg, _pct  # noqa: E402

PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASE = "helicarrier_bench_parts"
MONTHS = 12
AGENTS = 50
PER_SESSION = 10
CHUNK = 50_000
FIRST_SLICE = 500_000
COLUMNS = (
    "source", "event_id", "agent_id", "session_id", "ts", "received_at", "provider", "model",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "total_tokens", "cost_nanos", "reported_cost_nanos", "pricing_version", "price_provider",
    "price_model", "cost_provenance", "cost_confidence", "normalizer_version",
)  # fmt: skip
SUMS = (
    "events", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_nanos", "unpriced_events", "reported_cost_nanos",
)  # fmt: skip


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _rows(lo_i: int, hi_i: int, n_total: int, offset: int, start_s: float, span_s: float, rng) -> list[tuple]:
    """Events lo_i..hi_i of n_total, evenly in time over the span: ``PER_SESSION`` consecutive events make
    a session (numbered from ``offset``), sessions go round the agents, each agent mostly on its own model."""
    import numpy as np

    i = np.arange(lo_i, hi_i)
    n = len(i)
    ts = start_s + (i + rng.random(n)) / n_total * span_s
    session = (offset + i) // PER_SESSION
    agent = session % AGENTS
    models = list(MODELS)
    model = np.where(rng.random(n) < 0.85, agent % len(models), rng.integers(0, len(models), n))
    inp = np.exp(rng.normal(np.log(6000), 0.9, n)).astype(np.int64) + 50
    out = np.exp(rng.normal(np.log(600), 0.9, n)).astype(np.int64) + 5
    cache_read = (inp * rng.random(n) * 0.5).astype(np.int64)
    price = np.array([MODELS[m][1:3] for m in models])[model]
    cost = ((inp - cache_read) * price[:, 0] * 1000 + out * price[:, 1] * 1000).astype(np.int64)
    names = np.array(models, dtype=object)[model].tolist()
    providers = np.array([MODELS[m][0] for m in models], dtype=object)[model].tolist()
    ts_text = _iso_pg(ts)
    agents = [f"agent-{a:02d}" for a in agent.tolist()]
    sessions = [f"s{s:010d}" for s in session.tolist()]
    zero = [0] * n
    cols = [
        ["bench"] * n, [None] * n, agents, sessions, ts_text, ts_text, providers, names, inp.tolist(),
        out.tolist(), cache_read.tolist(), zero, zero, (inp + out).tolist(), cost.tolist(), [None] * n,
        [PRICING_VERSION] * n, providers, names, ["computed"] * n, ["high"] * n, [1] * n,
    ]  # fmt: skip
    return list(zip(*cols, strict=True))


def load(engine, start_s: float, span_s: float, budget_s: float, max_events: int, first_slice: int) -> dict:
    """Load through the bulk path: a first slice at a provisional total, then N chosen from its rate."""
    import numpy as np

    from helicarrier.data.bulk import bulk_insert
    from helicarrier.data.models import UsageEvent

    rng = np.random.default_rng(7)
    table = UsageEvent.__table__
    insert_s = 0.0

    def put(lo: int, hi: int, total: int, offset: int = 0) -> None:
        nonlocal insert_s
        rows = _rows(lo, hi, total, offset, start_s, span_s, rng)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            bulk_insert(conn, table, COLUMNS, rows)
        insert_s += time.perf_counter() - t0

    # The first slice is laid out as the start of max_events (its events fall in the oldest days); the
    # rest is spread over the whole span, so every month gets its share.
    t_wall = time.perf_counter()
    for lo in range(0, first_slice, CHUNK):
        put(lo, min(first_slice, lo + CHUNK), max_events)
    rate = first_slice / insert_s
    wall_rate = first_slice / (time.perf_counter() - t_wall)
    n = min(max_events, max(first_slice, int(wall_rate * budget_s)))
    longer = f" (the issue's {max_events:,} would take ~{max_events / wall_rate / 60:.0f} min at it)"
    print(
        f"first slice: {first_slice:,} events, {rate:,.0f}/s in COPY ({wall_rate:,.0f}/s with generation); "
        f"{budget_s:.0f} s of loading at that rate -> N = {n:,}" + (longer if n < max_events else "")
    )
    rest = n - first_slice
    for lo in range(0, rest, CHUNK):
        put(lo, min(rest, lo + CHUNK), rest, first_slice)
        done = first_slice + min(rest, lo + CHUNK)
        print(f"  events {done:>12,} ({done / insert_s:,.0f}/s in COPY)", end="\r")
    print()
    wall = time.perf_counter() - t_wall
    return {"events": n, "insert_s": insert_s, "wall_s": wall, "rate": n / insert_s, "wall_rate": n / wall}


def fold(engine) -> float:
    """Rollups, sessions and agents from the stored events, in SQL (ingest keeps them as it goes)."""
    from sqlalchemy import text

    t0 = time.perf_counter()
    sums = ", ".join(SUMS)
    select_sums = (
        "count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
        "sum(coalesce(reasoning_tokens, 0)), sum(coalesce(cost_nanos, 0)), "
        "sum(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END), sum(coalesce(reported_cost_nanos, 0))"
    )
    quarter = "CAST(floor(extract(epoch FROM ts) / 900) AS INTEGER)"
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(
            text(
                f"INSERT INTO usage_quarter_rollups (quarter, agent_id, model, provider, {sums}) "
                f"SELECT {quarter}, agent_id, coalesce(model, ''), provider, {select_sums} "
                f"FROM usage_events GROUP BY 1, 2, 3, 4"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO usage_rollups (hour, agent_id, model, provider, {sums}) "
                f"SELECT quarter / 4, agent_id, model, provider, {', '.join(f'sum({c})' for c in SUMS)} "
                "FROM usage_quarter_rollups GROUP BY 1, 2, 3, 4"
            )
        )
        for table, keys in (
            ("usage_model_rollups", "hour, model, provider"),
            ("usage_agent_rollups", "hour, agent_id"),
        ):
            conn.execute(
                text(
                    f"INSERT INTO {table} ({keys}, {sums}) "
                    f"SELECT {keys}, {', '.join(f'sum({c})' for c in SUMS)} "
                    f"FROM usage_rollups GROUP BY {keys}"
                )
            )
        conn.execute(
            text(
                f"INSERT INTO usage_agent_day_rollups (day, agent_id, {sums}) "
                f"SELECT hour / 24, agent_id, {', '.join(f'sum({c})' for c in SUMS)} "
                "FROM usage_agent_rollups GROUP BY 1, 2"
            )
        )
        conn.execute(
            text(
                "INSERT INTO agents (id, name, status, first_seen_at, updated_at) "
                "SELECT DISTINCT agent_id, agent_id, 'idle', now(), now() FROM usage_rollups"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sessions (id, agent_id, model, provider, status, started_at, ended_at, "
                "runtime_ms, usage_events, input_tokens, output_tokens, cache_read_tokens, "
                "cache_write_tokens, "
                "reasoning_tokens, total_tokens, cost_nanos, unpriced_events, updated_at) "
                "SELECT session_id, min(agent_id), min(model), min(provider), 'succeeded', min(ts), max(ts), "
                "CAST(extract(epoch FROM max(ts) - min(ts)) * 1000 AS BIGINT), count(*), sum(input_tokens), "
                "sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), 0, sum(total_tokens), "
                "sum(coalesce(cost_nanos, 0)), 0, max(ts) FROM usage_events GROUP BY session_id"
            )
        )
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SET statement_timeout = 0"))
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - t0


def measure(url: str, now: datetime, runs: int) -> dict[str, dict[str, float]]:
    """The main analytics calls (repository and API), each ``runs`` times over varied ranges and zones."""
    from sqlalchemy import text

    from helicarrier.config import load_settings
    from helicarrier.webapp import create_app

    rng = random.Random(11)
    settings = load_settings(
        database_url=url, data_dir=Path(tempfile.mkdtemp(prefix="hc-bench-parts-")), secret_key="bench",
        log_level="WARNING", scheduler=False,
    )  # fmt: skip
    app = create_app(settings)
    repo = app.server.config["HELICARRIER"].repo
    client = app.server.test_client()
    token, _ = repo.create_token("bench-parts", "read")
    headers = {"Authorization": f"Bearer {token}"}
    with repo.engine.connect() as conn:
        ids = list(conn.execute(text("SELECT id FROM sessions TABLESAMPLE SYSTEM (1) LIMIT 200")).scalars())
    zones = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Paris"]

    def a_range():
        days = rng.choice([1, 7, 30, 90, 365])
        end = now - timedelta(days=rng.choice([0, 1, 3, 10, 40]), hours=rng.randrange(24), minutes=7)
        return end - timedelta(days=days), end

    def api_usage():
        start, end = a_range()
        g, tz = rng.choice(["day", "model", "agent"]), rng.choice(zones)
        r = client.get(
            f"/api/v1/usage?from={start.date()}&to={end.date()}&group_by={g}&tz={tz}", headers=headers
        )
        assert r.status_code == 200, r.get_data()[:300]

    calls = {
        "usage_totals": lambda: repo.usage_totals(*a_range()),
        "usage_series day": lambda: repo.usage_series(
            *a_range(), group_by=rng.choice([None, "model", "agent"]), tz=rng.choice(zones)
        ),
        "usage_series hour (<=3 d)": lambda: repo.usage_series(
            now - timedelta(days=rng.choice([1, 3])),
            now,
            group_by=rng.choice([None, "model"]),
            tz=rng.choice(zones),
            granularity="hour",
        ),  # fmt: skip
        "month_to_date": lambda: repo.month_to_date(
            now - timedelta(days=rng.randrange(300)), tz=rng.choice(zones)
        ),
        "session_detail (usage timeline)": lambda: repo.session_detail(rng.choice(ids)),
        "GET /api/v1/usage": api_usage,
    }
    out = {}
    for name, fn in calls.items():
        fn()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
        out[name] = {"p50": statistics.median(samples), "p95": _pct(samples, 0.95), "max": max(samples)}
    repo.dispose()
    return out


def _size(engine) -> tuple[int, str]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return tuple(
            conn.execute(text("SELECT pg_database_size(current_database()), "
                              "pg_size_pretty(pg_database_size(current_database()))")).one()
        )  # fmt: skip


def _count(engine, table: str) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = 0"))
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def delete_vs_drop(repo, oldest: date) -> dict:
    """The oldest month deleted in batches (the old path), the next one dropped by partition."""
    from helicarrier.data.partition_names import add_months, month_start, partition_name
    from helicarrier.retention.service import BATCH_ROWS

    out = {}
    batched = partition_name("usage_events", oldest)
    rows = _count(repo.engine, batched)
    size0 = _size(repo.engine)
    t0 = time.perf_counter()
    deleted = batches = 0
    while n := repo.prune_batch("usage", month_start(add_months(oldest, 1)), BATCH_ROWS):
        deleted += n
        batches += 1
    took = time.perf_counter() - t0
    out["batches"] = {"month": oldest, "rows": rows, "deleted": deleted, "batches": batches, "seconds": took,
                      "size_before": size0, "size_after": _size(repo.engine)}  # fmt: skip
    dropped_month = add_months(oldest, 1)
    rows = _count(repo.engine, partition_name("usage_events", dropped_month))
    size0 = _size(repo.engine)
    t0 = time.perf_counter()
    dropped = repo.drop_month_partition("usage_events", dropped_month)
    took = time.perf_counter() - t0
    out["drop"] = {"month": dropped_month, "rows": rows, "deleted": dropped, "seconds": took,
                   "size_before": size0, "size_after": _size(repo.engine)}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget-s", type=float, default=420, help="seconds of loading to size N by")
    ap.add_argument("--max-events", type=int, default=50_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--first-slice", type=int, default=FIRST_SLICE, help="events whose rate sizes N")
    args = ap.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from helicarrier.data.engine import make_engine
    from helicarrier.data.partition_names import add_months, month_start
    from helicarrier.data.pool import PoolSettings
    from helicarrier.data.repository import Repository
    from helicarrier.data.schema import ensure_schema

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"load before: {_uptime()}")
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        print(conn.execute(text("SELECT version()")).scalar().split(" on ")[0])
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    url = _url(DATABASE)
    engine = make_engine(url, pool=PoolSettings(statement_timeout_ms=0))
    try:
        ensure_schema(engine)
        repo = Repository(engine)
        now = datetime.now(UTC)
        this = date(now.year, now.month, 1)
        first = add_months(this, -MONTHS)
        for k in range(MONTHS + 4):  # the 12 months before this one, this one and three ahead
            repo.create_month_partition("usage_events", add_months(first, k))
        start_s = month_start(first).timestamp()
        span_s = now.timestamp() - start_s
        loaded = load(engine, start_s, span_s, args.budget_s, args.max_events, args.first_slice)
        print(
            f"ingest: {loaded['events']:,} usage events in {loaded['insert_s']:.0f} s of COPY = "
            f"{loaded['rate']:,.0f} events/s ({loaded['wall_rate']:,.0f}/s with generation, "
            f"{loaded['wall_s']:.0f} s wall); load now: {_uptime()}"
        )
        print(f"rollups, sessions, VACUUM ANALYZE: {fold(engine):.0f} s")
        stored = _count(engine, "usage_events")
        months = {
            m: _count(engine, f"usage_events_y{m.year}m{m.month:02d}")
            for m in repo.partition_months("usage_events")
        }
        print(f"stored: {stored:,} usage events; in DEFAULT: {repo.default_partition_rows('usage_events'):,}")
        print("per month: " + ", ".join(f"{m:%Y-%m} {c:,}" for m, c in months.items()))
        print(f"database size: {_size(engine)[1]}")
        print(f"\nanalytics ({args.runs} runs each), ms:")
        print(f"  {'call':34} {'p50':>8} {'p95':>8} {'max':>8}")
        for name, r in measure(url, now, args.runs).items():
            print(f"  {name:34} {r['p50']:8.1f} {r['p95']:8.1f} {r['max']:8.1f}")
        print(f"\nretention, oldest months (load now: {_uptime()}):")
        result = delete_vs_drop(repo, first)
        b, d = result["batches"], result["drop"]
        print(
            f"  batched delete of {b['month']:%Y-%m} (old path, 5,000 a transaction): {b['deleted']:,} of "
            f"{b['rows']:,} rows in {b['batches']} batches, {b['seconds']:.1f} s "
            f"({b['deleted'] / b['seconds']:,.0f} rows/s); "
            f"database {b['size_before'][1]} -> {b['size_after'][1]}"
        )
        print(
            f"  drop of partition {d['month']:%Y-%m}: {d['deleted']:,} of {d['rows']:,} rows in "
            f"{d['seconds'] * 1000:.0f} ms; database {d['size_before'][1]} -> {d['size_after'][1]}"
        )
        print(f"  drop / batched: {b['seconds'] / d['seconds']:,.0f}x faster")
        after = _count(engine, "usage_events")
        print(f"stored after: {after:,} usage events (before {stored:,}, -{stored - after:,})")
        print(f"load after: {_uptime()}")
        repo.dispose()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
