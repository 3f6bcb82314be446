"""Reading a registry's exposition back as samples, the way Prometheus would scrape it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]


def key(name: str, **labels: str) -> Key:
    return name, tuple(sorted(labels.items()))


def families(registry: CollectorRegistry) -> dict[str, Metric]:
    """The metric families, without the `<name>_created` timestamps of counters etc."""
    text = generate_latest(registry).decode()
    found = {family.name: family for family in text_string_to_metric_families(text)}
    created = {n for n in found if n.endswith("_created") and n.removesuffix("_created") in found}
    return {name: family for name, family in found.items() if name not in created}


def samples(registry: CollectorRegistry) -> dict[Key, float]:
    """Every sample of the exposition except the `_created` timestamps."""
    found: dict[Key, float] = {}
    for family in families(registry).values():
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist."""
    return registry.get_sample_value(name, labels) or 0.0


def histogram(
    name: str, bounds: tuple[float, ...], observations: list[float], **labels: str
) -> dict[Key, float]:
    """The samples a histogram with `bounds` shows after `observations`."""
    expected: dict[Key, float] = {}
    for bound in (*bounds, float("inf")):
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        count = sum(1 for x in observations if x <= bound)
        expected[key(f"{name}_bucket", le=le, **labels)] = count
    expected[key(f"{name}_count", **labels)] = len(observations)
    expected[key(f"{name}_sum", **labels)] = sum(observations)
    return expected
