"""docs/grafana/helicarrier.json reads metrics that exist: every query names a metric of a real scrape, and
every label it groups by is one those metrics carry."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from helicarrier.alerts import engine
from tests.observability.scraping import names

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "helicarrier.json"
_METRIC = re.compile(r"\bhelicarrier_[a-z_]+\b")
_BY = re.compile(r"\bby \(([^)]*)\)")


def _queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def _labels(text: str) -> dict[str, set[str]]:
    """Sample name -> the label names its samples carry."""
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def test_every_dashboard_query_names_a_metric_of_a_real_scrape(api, make_token):
    reader = make_token("prometheus", "read")
    now = datetime.now(UTC).isoformat()
    event = {"id": "g-1", "type": "agent.heartbeat", "ts": now, "agent_id": "atlas-01", "data": {}}
    assert api.post({"version": "v2", "source": {"name": "g"}, "events": [event]}).status_code == 200
    engine.run_cycle(api.repo)
    text = api.client.get("/metrics", headers=api.headers(reader)).get_data(as_text=True)
    known, labels = names(text), _labels(text)

    queries = _queries()
    assert len(queries) >= 15
    for query in queries:
        metrics = set(_METRIC.findall(query))
        assert metrics, f"names no Helicarrier metric: {query}"
        assert metrics <= known, f"{sorted(metrics - known)} not in a scrape: {query}"
        carried = {"le"} | set().union(*(labels.get(m, set()) for m in metrics))
        for grouped in _BY.findall(query):
            wanted = {g.strip() for g in grouped.split(",")}
            with_samples = [m for m in metrics if m in labels]
            if with_samples:  # a family without samples yet shows no label names to check against
                assert wanted <= carried, f"{sorted(wanted - carried)} not labels of {sorted(metrics)}"
