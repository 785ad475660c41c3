"""The Operations page shows what the OTLP receiver could not map, per signal and reason."""

from __future__ import annotations

import re

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from helicarrier.layouts.operations import ID
from helicarrier.webapp import create_app
from tests.otlp.conftest import Otlp

PASSWORD = "correct-horse-battery"


def _plain_spans(tracer):
    for name in ("GET /health", "SELECT 1"):
        with tracer.start_as_current_span(name):
            pass


def test_unmapped_items_are_counted_on_the_operations_page(settings):
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("otel-host", "ingest")
    ctx.repo.create_user("vera", PASSWORD, "viewer")
    body = encode_spans(Otlp("", ctx, token, "").spans(_plain_spans)).SerializeToString()
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    assert client.post("/api/v1/otlp/v1/traces", data=body, headers=headers).status_code == 200

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "vera", "password": PASSWORD, "csrf": csrf})
    resp = client.post(
        "/_dash-update-component",
        json={
            "output": f"{ID.OTLP}.children",
            "outputs": {"id": ID.OTLP, "property": "children"},
            "inputs": [{"id": ID.INTERVAL, "property": "n_intervals", "value": 1}],
            "changedPropIds": [f"{ID.INTERVAL}.n_intervals"],
        },
    )
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert '"children":"span without GenAI usage"' in text and '"children":"2"' in text
    ctx.repo.dispose()
