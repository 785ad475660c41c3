"""Reading a Prometheus scrape in tests: the text parsed by prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def names(text: str) -> set[str]:
    """Every metric name the scrape declares (families, even without samples yet) and every sample name."""
    found: set[str] = set()
    for family in text_string_to_metric_families(text):
        found.add(family.name)
        found |= {s.name for s in family.samples}
        if family.type == "counter":
            found.add(f"{family.name}_total")
        if family.type == "histogram":
            found |= {f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 when the scrape does not have it (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)
