"""Production gunicorn settings: ``gunicorn app:server`` reads this file from the working directory (or pass
``-c gunicorn.conf.py``). Every value comes from a declared Helicarrier setting (README's table), so one
environment configures the app and its server; see docs/deploy.md.

- Workers: gthread, because an agent's command poll (``GET /api/v1/agents/<id>/commands?wait=20``) holds
  its request up to 30 s; with sync workers each waiting agent would hold a whole process. Threads are cheap
  for that wait; CPU work is spread by the processes (cores x 2 + 1 by default).
- The background jobs run in ONE worker per instance (the first one, and its replacement if it dies), not in
  every worker: each scheduler keeps a connection and tries the leader lock every few seconds, and only one
  process across all instances is the leader anyway (helicarrier.data.leader).
- Forwarded headers: believed only when HELICARRIER_TRUSTED_PROXIES says a proxy sits in front; the app's
  ProxyFix then takes exactly that many hops from the right.
"""

from __future__ import annotations

import os

from helicarrier.config import BY_ENV, env


def _setting(name: str):
    value = env(name)
    return BY_ENV[name].parse(value) if value is not None else None


_host = _setting("HELICARRIER_HOST") or "127.0.0.1"
bind = f"{_host}:{_setting('HELICARRIER_PORT') or 8050}"
workers = _setting("HELICARRIER_WORKERS") or (os.cpu_count() or 1) * 2 + 1
worker_class = "gthread"
threads = _setting("HELICARRIER_THREADS") or 8
# A worker silent this long is killed and replaced. Above the 30 s command poll, which a gthread worker
# serves on a thread while its main loop keeps beating anyway.
timeout = 60
# On a restart, let a held command poll (30 s at most) finish rather than cut it.
graceful_timeout = 35
keepalive = 5
# Each worker builds its own app (and database pools) after the fork: nothing shared across processes.
preload_app = False
forwarded_allow_ips = "*" if (_setting("HELICARRIER_TRUSTED_PROXIES") or 0) > 0 else ""
loglevel = (_setting("HELICARRIER_LOG_LEVEL") or "INFO").lower()

# Which worker runs the scheduler: decided in the master before each fork, told to the worker through the
# environment it reads its settings from (HELICARRIER_SCHEDULER).
_SCHEDULER_WANTED = _setting("HELICARRIER_SCHEDULER") is not False


def pre_fork(server, worker) -> None:
    live = server.WORKERS.values()
    worker.runs_scheduler = _SCHEDULER_WANTED and not any(getattr(w, "runs_scheduler", False) for w in live)


def post_fork(server, worker) -> None:
    os.environ["HELICARRIER_SCHEDULER"] = "on" if worker.runs_scheduler else "off"
    if worker.runs_scheduler:
        server.log.info("worker %s runs the scheduler", worker.pid)


# Tracing (docs/deploy.md#tracing-and-logs): each worker sets up its own span exporter when it builds the app,
# after the fork (its batch thread would not survive one). On its way out it sends the spans still queued.
def worker_exit(server, worker) -> None:
    from helicarrier.observability import tracing

    tracing.shutdown()


# Prometheus multiprocess mode (docs/deploy.md#metrics): with PROMETHEUS_MULTIPROC_DIR set (in the environment
# gunicorn starts with, so every worker sees it before prometheus-client is imported), each worker writes its
# counters to a file there and GET /metrics adds them all up. The directory is this master's alone.
_METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server) -> None:
    # Files of a previous run would be added to this one's counts (prometheus-client asks for a wiped dir).
    if _METRICS_DIR:
        os.makedirs(_METRICS_DIR, exist_ok=True)
        for name in os.listdir(_METRICS_DIR):
            if name.endswith(".db"):
                os.remove(os.path.join(_METRICS_DIR, name))


def child_exit(server, worker) -> None:
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
