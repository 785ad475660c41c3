"""Operator price tables and the reprice job, on both backends, through the real ingest path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import orjson
from sqlalchemy import select

from helicarrier.auth.binding import Speaker
from helicarrier.data.models import UsageEvent, UsageRepriced
from helicarrier.pricing.versions import load_price_books, reprice, version_name
from helicarrier.webapp import create_app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
ACME = version_name("acme")


def _anthropic_batch(n: int, pricing_version: str | None = None) -> bytes:
    payload = json.loads((FIXTURES / "anthropic_messages__full.json").read_text())["payload"]
    doc = {
        "version": "v2",
        "source": {"name": "pricing-test"},
        "events": [
            {
                "id": f"u{i}",
                "type": "usage",
                "ts": f"2026-03-0{1 + i % 3}T12:00:00Z",
                "agent_id": "a1",
                "session_id": "s1",
                "data": {"provider": "anthropic", "response": payload},
            }
            for i in range(n)
        ],
    }
    if pricing_version:
        doc["pricingVersion"] = pricing_version
    return orjson.dumps(doc)


def _ctx(settings):
    return create_app(settings).server.config["HELICARRIER"]


def test_reprice_stores_beside_recorded_cost_and_reports_diff(settings):
    ctx = _ctx(settings)
    repo = ctx.repo
    status, _ = ctx.ingest.ingest(Speaker.internal("t"), _anthropic_batch(6), None, "/api/v1/ingest")
    assert status == 200
    repo.create_pricing_version(ACME, "20% off Sonnet", "test")
    repo.set_price_override(ACME, "anthropic", "claude-sonnet-4-6", {"discount_pct": "20"})
    book = load_price_books(repo, None).get(ACME)

    report = reprice(repo, book)
    assert report.events == 6
    with repo.engine.connect() as conn:
        recorded = dict(conn.execute(select(UsageEvent.id, UsageEvent.cost_nanos)).all())
        repriced = dict(conn.execute(select(UsageRepriced.usage_event_id, UsageRepriced.cost_nanos)).all())
        versions = set(conn.execute(select(UsageEvent.pricing_version)).scalars())
    assert versions == {"genai-prices-0.2.3"}  # what was recorded at ingest stays
    assert set(repriced) == set(recorded)
    for event_id, old in recorded.items():
        assert repriced[event_id] == int((Decimal(old) * Decimal("0.8")).to_integral_value())
    lines = report.lines()
    assert any("2026-03-01" in line and "-20.0%" in line for line in lines)
    # A rerun replaces, never adds.
    reprice(repo, book)
    assert repo.count_repriced(ACME) == 6


def test_ingest_under_a_named_operator_version(settings):
    ctx = _ctx(settings)
    ctx.repo.create_pricing_version(ACME, None, "test")
    ctx.repo.set_price_override(
        ACME, "anthropic", "claude-sonnet-4-6", {"input_usd_per_mtok": "1", "output_usd_per_mtok": "2"}
    )
    ctx = _ctx(settings)  # price tables load at start
    status, _ = ctx.ingest.ingest(Speaker.internal("t"), _anthropic_batch(1, ACME), None, "/api/v1/ingest")
    assert status == 200
    with ctx.repo.engine.connect() as conn:
        row = conn.execute(select(UsageEvent)).one()
    assert row.pricing_version == ACME
    # 18,500 input tokens at $1/MTok and 445 output at $2/MTok (cache priced as input by default).
    assert row.cost_nanos == 18_500 * 1_000 + 445 * 2_000
    assert row.price_model == "claude-sonnet-4-6"


def test_a_batch_naming_a_table_that_is_not_loaded_is_a_422_listing_the_tables_that_are(settings):
    """The client learns which pricingVersion values it may send, and nothing is stored."""
    ctx = _ctx(settings)
    ctx.repo.create_pricing_version(ACME, None, "test")
    app = create_app(settings)  # price tables load at start
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("pricing-host", "ingest")
    gone = version_name("gone")
    resp = app.server.test_client().post(
        "/api/v1/ingest",
        data=_anthropic_batch(1, gone),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 422
    known = resp.get_json()["error"]["details"]["known"]
    assert ACME in known and len(known) == 2  # the operator's table and the bundled one
    assert resp.get_json()["error"] == {
        "code": "unknown_pricing_version",
        "message": f"pricingVersion: unknown price table {gone!r}",
        "details": {"field": "pricingVersion", "known": ctx.price_books.names()},
    }
    with ctx.repo.engine.connect() as conn:
        assert conn.execute(select(UsageEvent)).all() == []
