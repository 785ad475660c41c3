"""The baseline for bench/ingest.py: the least a receiver of the same v2 batches can do, in ~40 lines.

Parse the JSON body, insert every event into one indexed SQLite table with ``executemany``, one transaction
per request, answer the count. No validation, normalization, pricing, idempotency, binding or rollups: what
Helicarrier's ingest costs beyond this is the price of those. Served by the same gunicorn as Helicarrier:

    BARE_DB=/tmp/bare.db gunicorn bench.bare_receiver:app --workers 2
"""

from __future__ import annotations

import os
import sqlite3
import threading

import orjson
from flask import Flask, Response, request

app = Flask(__name__)
_DB = os.environ.get("BARE_DB", "bare.db")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT, "
    "ts TEXT, agent_id TEXT, session_id TEXT, data TEXT)",
    "CREATE INDEX IF NOT EXISTS events_agent_ts ON events (agent_id, ts)",
)


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(_DB, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # as Helicarrier's SQLite engine
    for statement in _SCHEMA:
        conn.execute(statement)
    return conn


_local = threading.local()  # one connection per thread (the repo's gunicorn.conf.py may run threads)


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.post("/api/v1/ingest")
def ingest():
    conn = getattr(_local, "conn", None) or _connect()
    _local.conn = conn
    events = orjson.loads(request.get_data())["events"]
    rows = [
        (e["id"], e["type"], e["ts"], e["agent_id"], e.get("session_id"), orjson.dumps(e["data"]).decode())
        for e in events
    ]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO events (event_id, type, ts, agent_id, session_id, data) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    conn.execute("COMMIT")
    return Response(orjson.dumps({"accepted": len(rows)}), mimetype="application/json")
