"""Analytics: usage and session rollups, facet values, sortable session columns and Ledger indexes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 03:10:00.000000

Existing data is folded into the new tables here, by the rules of helicarrier/data/rollups.py as they
stand at this revision (copied below: a migration must not import application code that may change).
"""

import bisect
from collections.abc import Sequence
from datetime import UTC, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USAGE_SUMS = (
    "events",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "unpriced_events",
    "reported_cost_nanos",
)
RUNTIME_EDGES_MS = tuple(round(1000 * 2 ** ((k - 1) / 4)) for k in range(1, 97))
BAND = 16
RUNTIME_COLUMNS = tuple(f"n{i:02d}" for i in range(BAND))

SORT_COVERING = ("ix_sessions_agent_started", "ix_sessions_model_started")  # INCLUDE on PostgreSQL
SESSION_INDEXES = {
    "ix_sessions_started_id": ["started_at", "id"],
    "ix_sessions_agent_started": ["agent_id", "started_at", "id"],
    "ix_sessions_model_started": ["model", "started_at", "id"],
    "ix_sessions_status_started": ["status", "started_at", "id"],
    "ix_sessions_cost_id": ["cost_nanos", "id", "started_at", "status"],
    "ix_sessions_tokens_id": ["total_tokens", "id", "started_at", "status"],
    "ix_sessions_runtime_id": ["runtime_ms", "id", "started_at", "status"],
    "ix_sessions_ended_at": ["ended_at"],
}


def _sums() -> list[sa.Column]:
    return [sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in USAGE_SUMS]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    op.add_column("sessions", sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("sessions", sa.Column("runtime_ms", sa.BigInteger(), nullable=True))
    op.execute("UPDATE sessions SET total_tokens = input_tokens + output_tokens")
    if sqlite:
        op.execute(
            "UPDATE sessions SET runtime_ms = max(0, CAST(round((julianday(ended_at) - julianday(started_at))"
            " * 86400000) AS INTEGER)) WHERE ended_at IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE sessions SET runtime_ms = greatest(0, CAST(round(extract(epoch FROM ended_at - started_at)"
            " * 1000) AS BIGINT)) WHERE ended_at IS NOT NULL"
        )
    for name in (
        "ix_sessions_started_at",
        "ix_sessions_status",
        "ix_sessions_agent_started",
        "ix_sessions_model_started",
    ):
        op.drop_index(name, table_name="sessions")
    for name, cols in SESSION_INDEXES.items():
        include = ["cost_nanos", "total_tokens", "runtime_ms"] if name in SORT_COVERING else None
        op.create_index(name, "sessions", cols, unique=False, postgresql_include=include)

    op.create_table(
        "usage_rollups",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("hour", "agent_id", "model", "provider", name=op.f("pk_usage_rollups")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_model_rollups",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("hour", "model", "provider", name=op.f("pk_usage_model_rollups")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_agent_rollups",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("hour", "agent_id", name=op.f("pk_usage_agent_rollups")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "session_rollups",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("task_kind", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("sessions", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("runtime_ms", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_events", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "task_kind", "status", "reason", "day", name=op.f("pk_session_rollups")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "session_runtime_rollups",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("task_kind", sa.String(length=200), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in RUNTIME_COLUMNS),
        sa.PrimaryKeyConstraint("model", "task_kind", "band", "day", name=op.f("pk_session_runtime_rollups")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "session_labels",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "key", name=op.f("pk_session_labels")),
    )
    op.create_index(
        "ix_session_labels_kv_started",
        "session_labels",
        ["key", "value", "started_at", "session_id"],
        unique=False,
    )
    op.create_table(
        "facet_values",
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=330), nullable=False),
        sa.PrimaryKeyConstraint("facet", "value", name=op.f("pk_facet_values")),
    )
    _backfill(bind, sqlite)


def _backfill(bind, sqlite: bool) -> None:
    hour = (
        "CAST(strftime('%s', ts) AS INTEGER) / 3600"
        if sqlite
        else "CAST(floor(extract(epoch FROM ts) / 3600) AS INTEGER)"
    )
    bind.execute(
        sa.text(
            f"INSERT INTO usage_rollups (hour, agent_id, model, provider, {', '.join(USAGE_SUMS)}) "
            f"SELECT {hour}, agent_id, coalesce(model, ''), provider, count(*), sum(input_tokens), "
            "sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
            "sum(coalesce(reasoning_tokens, 0)), sum(coalesce(cost_nanos, 0)), "
            "sum(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END), sum(coalesce(reported_cost_nanos, 0)) "
            f"FROM usage_events GROUP BY {hour}, agent_id, coalesce(model, ''), provider"
        )
    )
    for table, keys in (
        ("usage_model_rollups", "hour, model, provider"),
        ("usage_agent_rollups", "hour, agent_id"),
    ):
        bind.execute(
            sa.text(
                f"INSERT INTO {table} ({keys}, {', '.join(USAGE_SUMS)}) "
                f"SELECT {keys}, {', '.join(f'sum({c})' for c in USAGE_SUMS)} FROM usage_rollups GROUP BY {keys}"
            )
        )
    sessions = sa.table(
        "sessions",
        sa.column("id", sa.String),
        sa.column("model", sa.String),
        sa.column("provider", sa.String),
        sa.column("task_kind", sa.String),
        sa.column("labels", sa.JSON),
        sa.column("status", sa.String),
        sa.column("error", sa.Text),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("ended_at", sa.DateTime(timezone=True)),
        sa.column("cost_nanos", sa.BigInteger),
        sa.column("unpriced_events", sa.Integer),
    )
    rollups: dict[tuple, list[int]] = {}
    runtimes: dict[tuple, list[int]] = {}
    facets: set[tuple[str, str]] = set()
    labels: list[dict] = []
    result = bind.execute(sa.select(sessions).execution_options(yield_per=5000))
    for s in result:
        for facet, value in (("model", s.model), ("provider", s.provider), ("task_kind", s.task_kind)):
            if value:
                facets.add((facet, value))
        for k, v in sorted(s.labels.items()) if isinstance(s.labels, dict) else ():
            facets.add(("label", f"{k}={v}"[:330]))
            labels.append({"s": s.id, "k": k, "v": str(v), "t": _utc(s.started_at)})
        if s.ended_at is None:
            continue
        started, ended = _utc(s.started_at), _utc(s.ended_at)
        ms = max(0, (ended - started) // timedelta(milliseconds=1))
        day = int(ended.timestamp() // 86400)
        model, kind = s.model or "", s.task_kind or ""
        reason = (
            "" if s.status == "succeeded" else ((s.error or "").split(":", 1)[0][:80].strip(" ") or s.status)
        )
        acc = rollups.setdefault((day, model, kind, s.status, reason), [0, 0, 0, 0])
        acc[0] += 1
        acc[1] += ms
        acc[2] += s.cost_nanos or 0
        acc[3] += s.unpriced_events or 0
        b = bisect.bisect_right(RUNTIME_EDGES_MS, ms)
        runtimes.setdefault((day, model, kind, b // BAND), [0] * BAND)[b % BAND] += 1
    if rollups:
        bind.execute(
            sa.text(
                "INSERT INTO session_rollups (day, model, task_kind, status, reason, sessions, runtime_ms, "
                "cost_nanos, unpriced_events) VALUES (:d, :m, :k, :s, :r, :n, :ms, :c, :u)"
            ),
            [
                {
                    "d": k[0],
                    "m": k[1],
                    "k": k[2],
                    "s": k[3],
                    "r": k[4],
                    "n": v[0],
                    "ms": v[1],
                    "c": v[2],
                    "u": v[3],
                }
                for k, v in sorted(rollups.items())
            ],
        )
    if runtimes:
        bind.execute(
            sa.text(
                f"INSERT INTO session_runtime_rollups (day, model, task_kind, band, {', '.join(RUNTIME_COLUMNS)}) "
                f"VALUES (:d, :m, :k, :b, {', '.join(':' + c for c in RUNTIME_COLUMNS)})"
            ),
            [
                {"d": k[0], "m": k[1], "k": k[2], "b": k[3], **dict(zip(RUNTIME_COLUMNS, n, strict=True))}
                for k, n in sorted(runtimes.items())
            ],
        )
    if labels:
        stmt = sa.text(
            "INSERT INTO session_labels (session_id, key, value, started_at) VALUES (:s, :k, :v, :t)"
        ).bindparams(sa.bindparam("t", type_=sa.DateTime(timezone=True)))
        for i in range(0, len(labels), 10000):
            bind.execute(stmt, labels[i : i + 10000])
    if facets:
        bind.execute(
            sa.text("INSERT INTO facet_values (facet, value) VALUES (:f, :v)"),
            [{"f": f, "v": v} for f, v in sorted(facets)],
        )


def _utc(value):
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def downgrade() -> None:
    op.drop_index("ix_session_labels_kv_started", table_name="session_labels")
    for table in (
        "session_labels",
        "facet_values",
        "session_runtime_rollups",
        "session_rollups",
        "usage_model_rollups",
        "usage_agent_rollups",
        "usage_rollups",
    ):
        op.drop_table(table)
    for name in SESSION_INDEXES:
        op.drop_index(name, table_name="sessions")
    op.create_index("ix_sessions_agent_started", "sessions", ["agent_id", "started_at"], unique=False)
    op.create_index("ix_sessions_model_started", "sessions", ["model", "started_at"], unique=False)
    op.create_index("ix_sessions_started_at", "sessions", ["started_at"], unique=False)
    op.create_index("ix_sessions_status", "sessions", ["status"], unique=False)
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("runtime_ms")
        batch_op.drop_column("total_tokens")
