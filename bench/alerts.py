"""Alert evaluation under load: 1,000 rules over 500 agents on a large dataset, and a mass outage.

For each backend (a SQLite file under var/bench/; a schema ``bench_alerts`` on the test PostgreSQL):
1. build the dataset once through the driver's bulk path (sqlite3 ``executemany`` / PostgreSQL ``COPY``):
   500 agents, ``--events`` usage events over 7 days with their hourly rollups (folded by the same rules as
   the ingest path), 100,000 ended sessions, running sessions, kill commands, per-minute ingest stats.
   ``--reuse`` keeps a dataset built before with the same size (the evaluation time is the dataset's end);
2. create 1,000 rules: spend, tokens, budget share, failure rate, session runtime, agents offline, kills,
   ingest rejection rate; over fleet, agent, model, provider and agent-label groups; windows 15 min-24 h;
3. time evaluation cycles (the first one creates the alerts; then steady cycles);
4. mass outage: all 500 agents stop heartbeating; time the cycle that fires 500 per-agent alerts, then
   dispatch through real webhook receivers on 127.0.0.1 and count the notifications.

``--storm`` instead (issue 15): an alert storm on an empty database: 10 per-agent rules over 500 agents that
all go offline, 5,000 alerts firing in one cycle, then 500 more a little later, dispatched every 5 s for
``--storm-s`` simulated seconds to one receiver (a loopback HTTP server counting posts) grouped by agent.
Prints the cycle time and the messages sent, and checks at most one message per group per group interval.

    .venv/bin/python bench/alerts.py [--events 3000000] [--reuse] [--backends sqlite,postgresql]
    .venv/bin/python bench/alerts.py --storm [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HELICARRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_alerts"
AGENTS = 500
DAYS = 7
CHUNK = 100_000
MODELS = [
    ("openai", "gpt-4o", 2.5, 10.0),
    ("openai", "gpt-4.1-mini", 0.4, 1.6),
    ("anthropic", "claude-sonnet-4", 3.0, 15.0),
    ("google", "gemini-2.5-flash", 0.3, 2.5),
]
TEAMS = ["core", "ml", "billing", "search", "infra"]
WINDOWS = [900, 3600, 6 * 3600, 24 * 3600]
GROUPS = ["fleet", "agent", "model", "provider", "label:team"]


# -- the dataset --------------------------------------------------------------------------------------


def _agent(i: int) -> dict:
    provider, model, *_ = MODELS[i % len(MODELS)]
    return {"id": f"bench-agent-{i:03d}", "provider": provider, "model": model, "team": TEAMS[i % len(TEAMS)]}


def build(repo, n_events: int, end: datetime) -> None:
    from helicarrier.data.bulk import bulk_insert
    from helicarrier.data.models import (
        Agent,
        Command,
        IngestStat,
        Session,
        UsageEvent,
        UsageModelRollup,
        UsageRollup,
    )

    rng = random.Random(7)
    agents = [_agent(i) for i in range(AGENTS)]
    start = end - timedelta(days=DAYS)
    span = (end - start).total_seconds()
    t0 = time.perf_counter()
    with repo.engine.begin() as conn:
        bulk_insert(
            conn,
            Agent.__table__,
            (
                "id",
                "name",
                "status",
                "model",
                "provider",
                "labels",
                "first_seen_at",
                "last_heartbeat_at",
                "updated_at",
            ),
            [
                (a["id"], a["id"], "running", a["model"], a["provider"], {"team": a["team"]}, start, end, end)
                for a in agents
            ],
        )
    cols = (
        "source",
        "agent_id",
        "session_id",
        "ts",
        "received_at",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "total_tokens",
        "cost_nanos",
        "cost_provenance",
        "cost_confidence",
        "normalizer_version",
    )
    hourly: dict[tuple, list[int]] = {}
    by_model: dict[tuple, list[int]] = {}
    done = 0
    while done < n_events:
        n = min(CHUNK, n_events - done)
        rows = []
        for k in range(n):
            a = agents[rng.randrange(AGENTS)]
            provider, model, pin, pout = next(m for m in MODELS if m[1] == a["model"])
            # time-ordered, as real traffic arrives
            ts = start + timedelta(seconds=span * (done + k) / n_events + rng.random())
            tin, tout = rng.randint(200, 8000), rng.randint(20, 1500)
            cost = int(tin * pin * 1000 + tout * pout * 1000)  # nanos: $/MTok * tokens * 1e3
            rows.append(
                (
                    "bench",
                    a["id"],
                    None,
                    ts,
                    ts,
                    provider,
                    model,
                    tin,
                    tout,
                    0,
                    0,
                    tin + tout,
                    cost,
                    "computed",
                    "high",
                    1,
                )
            )
            hour = int(ts.timestamp() // 3600)
            for key, fold in (
                ((hour, a["id"], model, provider), hourly),
                ((hour, model, provider), by_model),
            ):
                acc = fold.setdefault(key, [0, 0, 0, 0])
                acc[0] += 1
                acc[1] += tin
                acc[2] += tout
                acc[3] += cost
        with repo.engine.begin() as conn:
            bulk_insert(conn, UsageEvent.__table__, cols, rows)
        done += n
        print(f"    {done:,} usage events ({done / (time.perf_counter() - t0):,.0f}/s)", end="\r", flush=True)
    print()
    sums = ("events", "input_tokens", "output_tokens", "cost_nanos")
    with repo.engine.begin() as conn:
        bulk_insert(
            conn,
            UsageRollup.__table__,
            ("hour", "agent_id", "model", "provider", *sums),
            [(*k, *v) for k, v in hourly.items()],
        )
        bulk_insert(
            conn,
            UsageModelRollup.__table__,
            ("hour", "model", "provider", *sums),
            [(*k, *v) for k, v in by_model.items()],
        )
    scols = (
        "id",
        "agent_id",
        "model",
        "provider",
        "status",
        "started_at",
        "ended_at",
        "runtime_ms",
        "labels",
        "usage_events",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "total_tokens",
        "cost_nanos",
        "unpriced_events",
        "updated_at",
    )
    sessions = []
    for i in range(100_000):
        a = agents[rng.randrange(AGENTS)]
        ended = start + timedelta(seconds=span * i / 100_000)
        runtime = rng.randint(30, 1800)
        status = rng.choices(["succeeded", "failed", "timeout", "killed"], [85, 9, 4, 2])[0]
        sessions.append(
            (
                f"bench-s-{i}",
                a["id"],
                a["model"],
                a["provider"],
                status,
                ended - timedelta(seconds=runtime),
                ended,
                runtime * 1000,
                {"team": a["team"]},
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                ended,
            )
        )
    for i, a in enumerate(agents[:200]):
        started = end - timedelta(seconds=rng.randint(60, 7200))
        sessions.append(
            (
                f"bench-run-{i}",
                a["id"],
                a["model"],
                a["provider"],
                "running",
                started,
                None,
                None,
                {"team": a["team"]},
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                end,
            )
        )
    with repo.engine.begin() as conn:
        bulk_insert(conn, Session.__table__, scols, sessions)
        kcols = (
            "id",
            "agent_id",
            "kind",
            "state",
            "issued_by",
            "created_at",
            "expires_at",
            "updated_at",
            "verification",
        )
        kills = [
            (
                str(uuid.uuid4()),
                agents[i]["id"],
                "kill",
                rng.choice(["delivered", "completed", "expired"]),
                "bench",
                end - timedelta(minutes=20 + i),
                end - timedelta(minutes=15 + i),
                end,
                rng.choice([None, "verified", "ineffective"]),
            )
            for i in range(40)
        ]
        bulk_insert(conn, Command.__table__, kcols, kills)
        last = int(end.timestamp() // 60)
        stats = [
            (m, 0, rng.randint(500, 5000), rng.randint(0, 50), rng.randint(0, 100))
            for m in range(last - 1440, last + 1)
        ]
        bulk_insert(
            conn, IngestStat.__table__, ("minute", "shard", "accepted", "duplicates", "rejected"), stats
        )
    if repo.backend == "postgresql":
        with repo.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
    print(f"    built in {time.perf_counter() - t0:.0f} s")


# -- the rules ----------------------------------------------------------------------------------------


def rules(repo, now: datetime, n: int = 1000) -> list[dict]:
    """``n`` rules as a large deployment might have them: a few fixed ones (offline agents, kills, ingest),
    the rest spend, tokens, budget and failure-rate rules over every group-by and window, with thresholds
    set above the peak the data shows now (so most are quiet), and about 5% below it (so they fire)."""
    from helicarrier.data.queries.alert_metrics import MetricCache

    rng = random.Random(11)
    out = [
        {
            "name": "agent offline",
            "metric": "agents_offline",
            "group_by": "agent",
            "threshold": "0",
            "params": {"offline_after_s": 60},
            "severity": "critical",
        },
        {
            "name": "fleet offline",
            "metric": "agents_offline",
            "threshold": "50",
            "params": {"offline_after_s": 120},
        },
        {
            "name": "team offline",
            "metric": "agents_offline",
            "group_by": "label:team",
            "threshold": "5",
            "params": {"offline_after_s": 120},
            "for_s": 60,
        },
        {"name": "kill unconfirmed", "metric": "kills_unconfirmed", "group_by": "agent", "threshold": "0"},
        {"name": "kill ineffective", "metric": "kills_ineffective", "threshold": "0"},
    ]
    out += [
        {
            "name": f"ingest rejections {w}",
            "metric": "ingest_rejection_rate",
            "threshold": "0.1",
            "window_s": w,
        }
        for w in (300, 900, 3600)
    ]
    out += [
        {"name": f"long session {g} {i}", "metric": "session_runtime_s", "group_by": g, "threshold": str(t)}
        for i, (g, t) in enumerate(
            (g, t)
            for g in ("agent", "model", "session", "label:team")
            for t in (1800, 3600, 5400, 7200, 10800)
        )
    ]
    metrics = ["spend_usd"] * 4 + ["tokens"] * 2 + ["budget_share"] * 2 + ["failure_rate"] * 2
    cache = MetricCache()
    i = 0
    while len(out) < n:
        metric = metrics[i % len(metrics)]
        body: dict = {
            "name": f"bench {metric} {i}",
            "metric": metric,
            "group_by": rng.choice(GROUPS),
            "window_s": rng.choice(WINDOWS),
            "severity": rng.choice(["warning", "critical"]),
        }
        if metric == "budget_share":
            body["params"] = {"budget_usd": str(rng.choice([100, 1000, 10000]))}
        if metric == "failure_rate":
            body["params"] = {"min_samples": 20}
        peak = max(
            (
                s.value
                for s in repo.alert_metric(
                    metric, body["group_by"], body["window_s"], body.get("params"), now, cache
                )
            ),
            default=Decimal(1),
        )
        factor = Decimal("0.9") if rng.random() < 0.05 else Decimal(str(round(rng.uniform(1.2, 3.0), 2)))
        body["threshold"] = str((peak * factor).quantize(Decimal("0.0001")))
        out.append(body)
        i += 1
    return out[:n]


# -- the run ------------------------------------------------------------------------------------------


class Hook:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hook.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _url(backend: str, reuse: bool) -> str:
    if backend == "sqlite":
        path = ROOT / "var" / "bench" / "alerts.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not reuse:
            for suffix in ("", "-wal", "-shm", ".json"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not reuse:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    admin.dispose()
    return make_url(PG_URL).update_query_dict({"options": f"-csearch_path={SCHEMA}"}).render_as_string(False)


def run(backend: str, args) -> None:
    from sqlalchemy import delete, update

    from helicarrier.actors import Actor
    from helicarrier.alerts import engine
    from helicarrier.alerts.rules import validate_rule
    from helicarrier.alerts.validation import validate_receiver
    from helicarrier.config import load_settings
    from helicarrier.context import build_context
    from helicarrier.data.models import (
        Agent,
        Alert,
        AlertDelivery,
        AlertEvalCycle,
        AlertEvent,
        AlertReceiver,
        AlertRule,
    )

    url = _url(backend, args.reuse)
    ctx = build_context(
        load_settings(
            database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="x", log_level="WARNING"
        )
    )
    repo = ctx.repo
    meta = ROOT / "var" / "bench" / f"alerts-{backend}.json"
    saved = json.loads(meta.read_text()) if args.reuse and meta.exists() else {}
    if saved.get("events") == args.events and repo.count_agents() == AGENTS:
        end = datetime.fromisoformat(saved["end"])
        print(f"  reusing the dataset of {args.events:,} events ending {end:%Y-%m-%d %H:%M} UTC")
    else:
        end = datetime.now(UTC).replace(microsecond=0)
        print(f"  building {args.events:,} usage events over {DAYS} days for {AGENTS} agents...")
        build(repo, args.events, end)
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"events": args.events, "end": end.isoformat()}))
    with repo.engine.begin() as conn:  # a clean slate of alert state, fleet online at ``end``
        for model in (AlertDelivery, AlertReceiver, AlertEvent, Alert, AlertRule, AlertEvalCycle):
            conn.execute(delete(model))
        conn.execute(update(Agent).values(last_heartbeat_at=end))
    admin = Actor("bench", "system")
    for body in rules(repo, end, args.rules):
        repo.create_alert_rule(validate_rule(body), admin)
    hook_all, hook_offline = Hook(), Hook()
    repo.create_receiver(validate_receiver({"name": "all", "url": hook_all.url}, allow_local=True), admin)
    repo.create_receiver(
        validate_receiver(
            {"name": "offline", "url": hook_offline.url, "matchers": ['alertname="agent offline"']},
            allow_local=True,
        ),
        admin,
    )

    first = engine.run_cycle(repo, end)
    print(
        f"  first cycle  : {first.duration_ms:6d} ms  {first.rules} rules, {first.queries} queries, "
        f"{first.changed} alerts created/changed, {first.failed} failed"
    )
    steady = []
    for i in range(1, args.cycles + 1):
        at = end + timedelta(seconds=15 * i)
        with repo.engine.begin() as conn:  # the fleet keeps heartbeating
            conn.execute(update(Agent).values(last_heartbeat_at=at))
        steady.append(engine.run_cycle(repo, at))
    ms = [c.duration_ms for c in steady]
    print(f"  steady cycle : median {statistics.median(ms):6.0f} ms, max {max(ms)} ms over {len(ms)} cycles")
    t = end + timedelta(seconds=15 * args.cycles)
    for s in (0, 30):
        engine.dispatch(repo, t + timedelta(seconds=s), allow_local=True)
    before_all = len(hook_all.posts)
    firing = len(repo.list_alerts(states=["firing"], limit=100_000))
    print(f"  before outage: {firing} alerts firing, {before_all} notifications to 'all' (grouped by rule)")

    # the mass outage: every agent stops heartbeating
    outage = t + timedelta(minutes=5)
    with repo.engine.begin() as conn:
        conn.execute(update(Agent).values(last_heartbeat_at=t))
    hit = engine.run_cycle(repo, outage)
    print(f"  outage cycle : {hit.duration_ms:6d} ms, {hit.changed} alerts changed state")
    for s in (0, 15, 30, 45):
        engine.run_cycle(repo, outage + timedelta(seconds=s)) if s else None
        engine.dispatch(repo, outage + timedelta(seconds=s), allow_local=True)
    offline_alerts = sum(len(p["alerts"]) for p in hook_offline.posts)
    new_all = hook_all.posts[before_all:]
    in_outage = [p for p in new_all if p["group_labels"].get("alertname") == "agent offline"]
    print(
        f"  notifications: {len(hook_offline.posts)} to 'offline' carrying {offline_alerts} alerts; "
        f"'all' got {len(new_all)} new ({len(in_outage)} for 'agent offline', "
        f"{sum(len(p['alerts']) for p in in_outage)} alerts)"
    )
    hook_all.server.shutdown()
    hook_offline.server.shutdown()
    repo.dispose()


# -- the storm (issue 15) ---------------------------------------------------------------------------

STORM_RULES = 10  # per-agent rules: 10 x 500 agents = 5,000 alerts in one cycle
STORM_GROUP_INTERVAL_S = 300


def _storm_context(backend: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from helicarrier.config import load_settings
    from helicarrier.context import build_context

    if backend == "sqlite":
        path = ROOT / "var" / "bench" / "alerts-storm.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        schema = f"{SCHEMA}_storm"
        admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        url = url.render_as_string(False)
    settings = load_settings(
        database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="x", log_level="WARNING"
    )
    return build_context(settings)


def _storm_fleet(repo, seen: datetime) -> None:
    from sqlalchemy import insert

    from helicarrier.data.models import Agent

    rows = [
        {"id": a["id"], "name": a["id"], "status": "running", "model": a["model"], "provider": a["provider"]}
        | {"first_seen_at": seen, "last_heartbeat_at": seen, "updated_at": seen}
        for a in (_agent(i) for i in range(AGENTS))
    ]
    with repo.engine.begin() as conn:
        conn.execute(insert(Agent), rows)


def _storm_rule(i: int) -> dict:
    return {
        "name": f"storm offline {i}",
        "metric": "agents_offline",
        "group_by": "agent",
        "threshold": "0",
        "params": {"offline_after_s": 60 + i},
    }


def storm_violations(sends: list[tuple[datetime, str]], interval_s: int) -> list[str]:
    """Groups that got two messages less than a group interval apart."""
    last: dict[str, datetime] = {}
    bad = []
    for at, key in sorted(sends):
        if key in last and (at - last[key]).total_seconds() < interval_s:
            bad.append(key)
        last[key] = at
    return bad


def storm(backend: str, args) -> None:
    from helicarrier.actors import Actor
    from helicarrier.alerts import engine
    from helicarrier.alerts.rules import validate_rule
    from helicarrier.alerts.validation import validate_receiver

    ctx = _storm_context(backend)
    repo, admin = ctx.repo, Actor("bench", "system")
    t0 = datetime.now(UTC).replace(microsecond=0)
    _storm_fleet(repo, t0 - timedelta(minutes=10))  # every agent silent for 10 minutes: all offline
    for i in range(STORM_RULES):
        repo.create_alert_rule(validate_rule(_storm_rule(i)), admin)
    hook = Hook()
    body = {"name": "storm", "url": hook.url, "group_by": ["agent"], "group_wait_s": 30}
    repo.create_receiver(
        validate_receiver({**body, "group_interval_s": STORM_GROUP_INTERVAL_S}, allow_local=True), admin
    )
    cycle = engine.run_cycle(repo, t0)
    firing = len(repo.list_alerts(states=["firing"], limit=100_000))
    print(f"  storm cycle  : {cycle.duration_ms:6d} ms, {cycle.rules} rules, {firing} alerts firing")
    sends: list[tuple[datetime, str]] = []
    dispatch_ms: list[float] = []
    for s in range(0, args.storm_s + 1, 5):
        at = t0 + timedelta(seconds=s)
        if s == 60:  # a second wave into the same groups: waits for their group interval
            repo.create_alert_rule(validate_rule(_storm_rule(STORM_RULES)), admin)
            engine.run_cycle(repo, at)
        seen = len(hook.posts)
        d0 = time.perf_counter()
        engine.dispatch(repo, at, allow_local=True)
        dispatch_ms.append((time.perf_counter() - d0) * 1000)
        sends += [(at, p["group_key"]) for p in hook.posts[seen:]]
    alerts_sent = sum(p["firing"] for p in hook.posts)
    groups = len({key for _, key in sends})
    bad = storm_violations(sends, STORM_GROUP_INTERVAL_S)
    print(
        f"  messages     : {len(hook.posts)} to 1 receiver for {groups} groups, carrying {alerts_sent} "
        f"firing alerts, over {args.storm_s} s (group wait 30 s, interval {STORM_GROUP_INTERVAL_S} s)"
    )
    print(
        f"  dispatch     : median {statistics.median(dispatch_ms):6.0f} ms, max {max(dispatch_ms):.0f} ms "
        f"over {len(dispatch_ms)} rounds"
    )
    print(
        f"  check        : {'OK' if not bad else 'FAILED'}: {len(bad)} groups messaged twice in an interval"
    )
    hook.server.shutdown()
    repo.dispose()
    if bad:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=3_000_000)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="keep a dataset built before with the same size")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--storm", action="store_true", help="the alert storm case instead (issue 15)")
    ap.add_argument("--storm-s", type=int, default=600, help="simulated seconds of dispatching in the storm")
    args = ap.parse_args()
    print(
        f"alerts bench: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}"
    )
    for backend in args.backends.split(","):
        print(f"[{backend}]")
        storm(backend, args) if args.storm else run(backend, args)


if __name__ == "__main__":
    main()
