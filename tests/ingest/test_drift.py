"""Provider drift: a usage payload with fields the normalizer does not know is stored whole and priced, and
each unknown field is counted per provider with when it was first seen and an example, on both backends;
the Operations page lists them. Every provider fixture's usage is known (so a fixture with a new field fails
here until the normalizer learns it)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helicarrier.data.models import UsageDrift, UsageEvent
from helicarrier.ingest.drift import unknown_fields
from helicarrier.layouts.operations import ID

PROVIDERS = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
CANONICAL = {
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "cohere": "cohere",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "openai": "openai",
}


def usage_event(eid: str, usage: dict) -> dict:
    return {
        "id": eid,
        "type": "usage",
        "ts": datetime.now(UTC).isoformat(),
        "agent_id": "a-1",
        "data": {"provider": "openai", "model": "gpt-4o", "usage": usage},
    }


NEW_FIELDS = {
    "prompt_tokens": 100,
    "completion_tokens": 20,
    "total_tokens": 120,
    "prompt_tokens_details": {"cached_tokens": 0, "image_tokens": 64},
    "surcharge_units": {"grounding": 2, "tier": "x"},
}


def post(api, *events):
    resp = api.post({"version": "v2", "source": {"name": "h"}, "events": list(events)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_unknown_usage_fields_are_stored_and_counted_with_first_seen_and_an_example(api):
    before = datetime.now(UTC)
    post(api, usage_event("u1", NEW_FIELDS), usage_event("u2", {**NEW_FIELDS, "surcharge_units": {}}))
    post(api, usage_event("u1", NEW_FIELDS))  # a re-sent event is not counted again
    rows = {(r.provider, r.field): r for r in api.rows(UsageDrift)}
    assert set(rows) == {("openai", "prompt_tokens_details.image_tokens"), ("openai", "surcharge_units")}
    image = rows[("openai", "prompt_tokens_details.image_tokens")]
    assert image.seen_count == 2 and image.example == "64" and image.first_seen_at >= before
    assert rows[("openai", "surcharge_units")].example == '{"grounding":2,"tier":"x"}'
    stored = api.rows(UsageEvent)
    assert len(stored) == 2 and stored[0].raw["usage"]["surcharge_units"] == {"grounding": 2, "tier": "x"}
    assert stored[0].input_tokens == 100 and stored[0].cost_nanos > 0

    post(api, usage_event("u3", {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}))
    assert len(api.rows(UsageDrift)) == 2  # known fields only: nothing new


@pytest.mark.parametrize(
    "fixture", sorted(p.name for p in PROVIDERS.glob("*.json") if p.name.split("_")[0] in CANONICAL)
)
def test_every_provider_fixture_is_understood(fixture):
    """Unknown only what the fixture says is unknown: ``expected_drift`` lists the fields an
    ``*__unknown_fields`` fixture adds on purpose; every other fixture has none."""
    doc = json.loads((PROVIDERS / fixture).read_text())
    payload = doc["payload"]
    response = payload.get("response", payload)
    found = [
        field
        for _provider, field, _example in unknown_fields(
            CANONICAL[fixture.split("_")[0]], {"response": response}
        )
    ]
    assert found == doc.get("expected_drift", [])


def test_unknown_fields_of_a_payload_are_bounded():
    usage = {
        "prompt_tokens": 1,
        **{f"k{i}": i for i in range(500)},
        "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}},
    }
    found = unknown_fields("openai", {"usage": usage})
    assert len(found) == 20 and all(len(f) <= 200 and len(e) <= 300 for _p, f, e in found)


def test_the_operations_page_lists_them(api, settings):
    post(api, usage_event("u1", NEW_FIELDS))
    api.repo.create_user("vera", "correct-horse-battery", "viewer")
    client = api.new_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "vera", "password": "correct-horse-battery", "csrf": csrf})
    outputs = [ID.SYSTEM, ID.PRICING, ID.TOKENS, ID.USERS_LIST, ID.DRIFT]
    body = {
        "output": ".." + "...".join(f"{o}.children" for o in outputs) + "..",
        "outputs": [{"id": o, "property": "children"} for o in outputs],
        "inputs": [
            {"id": ID.INTERVAL, "property": "n_intervals", "value": 1},
            {"id": ID.USER_RESULT, "property": "children", "value": None},
        ],
        "changedPropIds": [f"{ID.INTERVAL}.n_intervals"],
    }
    resp = client.post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    drift = json.dumps(resp.get_json()["response"][ID.DRIFT])
    assert "prompt_tokens_details.image_tokens" in drift and "surcharge_units" in drift and "openai" in drift


def _drift_fixtures() -> list[str]:
    return sorted(p.name for p in PROVIDERS.glob("*.json") if "expected_drift" in json.loads(p.read_text()))


def test_every_provider_has_an_unknown_fields_fixture():
    assert {name.split("_")[0] for name in _drift_fixtures()} >= set(CANONICAL) - {"mistral"}


@pytest.mark.parametrize("fixture", _drift_fixtures())
def test_an_unknown_fields_fixture_is_stored_and_shows_as_drift(api, fixture):
    """Sent as an agent would, the payload is stored whole, priced on the fields known, and each unknown field
    is counted for its provider."""
    doc = json.loads((PROVIDERS / fixture).read_text())
    payload, expected = doc["payload"], doc["expected"]
    data = {"provider": expected["provider"], "response": payload.get("response", payload)}
    if "modelId" in payload:
        data["model"] = payload["modelId"]
    post(api, {**usage_event("u1", {}), "data": data})
    row = api.one(UsageEvent)
    assert row.raw == data and (row.input_tokens, row.output_tokens) == (
        expected["input_tokens"],
        expected["output_tokens"],
    )
    drift = {(r.provider, r.field) for r in api.rows(UsageDrift)}
    assert drift == {(expected["provider"], f) for f in doc["expected_drift"]}
