"""Monitoring never breaks the application: bad values are mapped or refused and counted."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from .exposition import value

CALL = {
    "task_type": "chat",
    "model": "gpt-4o",
    "provider": "openai",
    "input_tokens": 100,
    "output_tokens": 10,
    "latency_ms": 50.0,
}
METRICS_WITH_TASK_TYPE = (
    "llm_requests_total",
    "llm_tokens_total",
    "llm_baseline_tokens_total",
    "llm_cost_usd_total",
    "llm_latency_seconds",
)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(llm_module: ModuleType, registry: CollectorRegistry) -> Any:
    return llm_module.LlmMetrics(registry=registry)


def dropped(registry: CollectorRegistry, metric: str, reason: str) -> float:
    return value(registry, "llm_monitoring_dropped_total", metric=metric, reason=reason)


def test_a_value_outside_the_declared_ones_is_recorded_as_other(
    metrics: Any, registry: CollectorRegistry
) -> None:
    metrics.record_llm_call(**{**CALL, "status": "exploded"})
    metrics.record_llm_call(**{**CALL, "status": "exploded"})
    labels = {"task_type": "chat", "model": "gpt-4o", "provider": "openai"}
    assert value(registry, "llm_requests_total", **labels, status="other") == 2
    assert value(registry, "llm_requests_total", **labels, status="exploded") == 0
    assert dropped(registry, "llm_requests_total", "unknown_value") == 2
    # The metrics without a status label are not affected.
    tokens = value(
        registry, "llm_tokens_total", task_type="chat", model="gpt-4o", token_type="input"
    )
    assert tokens == 200


def test_labels_without_declared_values_are_capped(
    metrics: Any, registry: CollectorRegistry
) -> None:
    """task_type allows 50 distinct values; the rest become other, and admitted ones stay."""
    for index in range(53):
        metrics.record_llm_call(**{**CALL, "task_type": f"task-{index}"})
    metrics.record_llm_call(**{**CALL, "task_type": "task-0"})
    common = {"model": "gpt-4o", "provider": "openai", "status": "ok"}
    assert value(registry, "llm_requests_total", task_type="task-0", **common) == 2
    assert value(registry, "llm_requests_total", task_type="task-49", **common) == 1
    assert value(registry, "llm_requests_total", task_type="task-50", **common) == 0
    assert value(registry, "llm_requests_total", task_type="other", **common) == 3
    for metric in METRICS_WITH_TASK_TYPE:
        assert dropped(registry, metric, "too_many_values") == 3, metric


def test_negative_amounts_are_refused_and_the_rest_recorded(
    metrics: Any, registry: CollectorRegistry
) -> None:
    metrics.record_llm_call(**{**CALL, "output_tokens": -10, "cost_usd": -1.0})
    labels = {"task_type": "chat", "model": "gpt-4o"}
    assert value(registry, "llm_tokens_total", **labels, token_type="output") == 0
    assert value(registry, "llm_tokens_total", **labels, token_type="input") == 100
    assert value(registry, "llm_cost_usd_total", **labels) == 0
    assert value(registry, "llm_latency_seconds_count", **labels) == 1
    assert dropped(registry, "llm_tokens_total", "negative") == 1
    assert dropped(registry, "llm_cost_usd_total", "negative") == 1


@pytest.mark.parametrize(
    ("field", "bad", "metric", "reason"),
    [
        ("input_tokens", "100", "llm_tokens_total", "wrong_type"),
        ("input_tokens", None, "llm_tokens_total", "wrong_type"),
        ("input_tokens", True, "llm_tokens_total", "wrong_type"),
        ("latency_ms", math.nan, "llm_latency_seconds", "not_finite"),
        ("latency_ms", math.inf, "llm_latency_seconds", "not_finite"),
        ("latency_ms", -3.0, "llm_latency_seconds", "negative"),
        ("cost_usd", [1.0], "llm_cost_usd_total", "wrong_type"),
        ("baseline_tokens", "many", "llm_baseline_tokens_total", "wrong_type"),
    ],
)
def test_bad_amounts_are_counted_not_raised(
    metrics: Any, registry: CollectorRegistry, field: str, bad: object, metric: str, reason: str
) -> None:
    metrics.record_llm_call(**{**CALL, "cost_usd": 0.25, field: bad})
    assert dropped(registry, metric, reason) == 1
    assert value(registry, "llm_requests_total", **_request_labels()) == 1


def _request_labels() -> dict[str, str]:
    return {"task_type": "chat", "model": "gpt-4o", "provider": "openai", "status": "ok"}


def test_a_label_value_of_the_wrong_type_becomes_other(
    metrics: Any, registry: CollectorRegistry
) -> None:
    metrics.record_llm_call(**{**CALL, "task_type": 42})
    labels = {"model": "gpt-4o", "provider": "openai", "status": "ok"}
    assert value(registry, "llm_requests_total", task_type="other", **labels) == 1
    assert dropped(registry, "llm_requests_total", "wrong_type") == 1


def test_other_number_types_are_recorded(metrics: Any, registry: CollectorRegistry) -> None:
    """Decimal, Fraction (and numpy scalars) convert to float on the slow path."""
    metrics.record_llm_call(
        **{**CALL, "cost_usd": Decimal("0.25"), "latency_ms": Fraction(1, 2), "input_tokens": 7.0}
    )
    labels = {"task_type": "chat", "model": "gpt-4o"}
    assert value(registry, "llm_cost_usd_total", **labels) == 0.25
    assert value(registry, "llm_latency_seconds_sum", **labels) == pytest.approx(0.0005)
    assert value(registry, "llm_tokens_total", **labels, token_type="input") == 7
    assert registry.get_sample_value("llm_monitoring_dropped_total", {}) is None


def test_an_unhashable_label_value_is_an_error_counted_not_raised(
    metrics: Any, registry: CollectorRegistry
) -> None:
    metrics.record_llm_call(**{**CALL, "model": ["gpt-4o"]})
    assert value(registry, "llm_monitoring_errors_total", event="llm_call", stage="metrics") == 1


def test_a_refused_combination_is_not_cached(metrics: Any, registry: CollectorRegistry) -> None:
    """Every event with a bad value is counted, and bad input cannot grow the cache."""
    for index in range(100):
        metrics.record_llm_call(**{**CALL, "status": f"bad-{index}"})
    assert dropped(registry, "llm_requests_total", "unknown_value") == 100
    assert len(metrics._bound_llm_call) == 0
    metrics.record_llm_call(**CALL)
    assert len(metrics._bound_llm_call) == 1


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.decimals(allow_nan=True, allow_infinity=True),
)


def _calls_seen(registry: CollectorRegistry) -> float:
    """llm_call events counted as a request or as an error."""
    return sum(
        s.value
        for family in registry.collect()
        if family.name in ("llm_requests", "llm_monitoring_errors")
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("event", "llm_call") == "llm_call"
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.fixed_dictionaries({name: _ANY for name in (*CALL, "status", "cost_usd")}))
def test_any_values_never_raise(
    metrics: Any, registry: CollectorRegistry, values: dict[str, object]
) -> None:
    before = _calls_seen(registry)
    metrics.record_llm_call(**values)
    metrics.record_quality_score(
        task_type=values["task_type"], scenario="s", score=values["cost_usd"]
    )
    metrics.record_quality_check(task_type="t", check=values["model"], result=values["status"])
    assert _calls_seen(registry) == before + 1, "each call counts as a request or as an error"
