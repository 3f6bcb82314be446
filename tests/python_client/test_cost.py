"""cost_usd from the spec's price table: the same figure the daily report computes."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitorgen.model import Spec
from monitorgen.report import ModelPrice

from .exposition import value


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(llm_module: ModuleType, registry: CollectorRegistry) -> Any:
    return llm_module.LlmMetrics(registry=registry)


def report_price(spec: Spec, model: str) -> ModelPrice:
    assert spec.pricing is not None
    price = dict(spec.pricing.models)[model]
    return ModelPrice(price.input, price.output, price.cached_input, price.reasoning)


def test_the_module_carries_the_spec_prices(llm_module: ModuleType, llm_spec: Spec) -> None:
    assert llm_spec.pricing is not None
    assert set(llm_module.PRICES) == {name for name, _ in llm_spec.pricing.models}
    for name, price in llm_spec.pricing.models:
        carried = llm_module.PRICES[name]
        assert (carried.input, carried.output) == (price.input, price.output)
        cached = price.input if price.cached_input is None else price.cached_input
        reasoning = price.output if price.reasoning is None else price.reasoning
        assert (carried.cached_input, carried.reasoning) == (cached, reasoning)


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-sonnet"]),
    input_tokens=st.integers(0, 2_000_000),
    output_tokens=st.integers(0, 200_000),
    cached_share=st.floats(0, 1),
    reasoning_tokens=st.integers(0, 50_000),
)
def test_computed_cost_matches_the_report(
    llm_module: ModuleType,
    llm_spec: Spec,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_share: float,
    reasoning_tokens: int,
) -> None:
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    cached = int(input_tokens * cached_share)
    metrics.record_llm_call(
        task_type="chat",
        model=model,
        provider="p",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning_tokens,
        latency_ms=1.0,
    )
    expected = report_price(llm_spec, model).cost(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning_tokens,
    )
    recorded = value(registry, "llm_cost_usd_total", task_type="chat", model=model)
    assert recorded == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_given_cost_wins_over_the_price_table(metrics: Any, registry: CollectorRegistry) -> None:
    metrics.record_llm_call(
        task_type="chat",
        model="gpt-4o",
        provider="p",
        input_tokens=10**6,
        output_tokens=0,
        latency_ms=1.0,
        cost_usd=0.0625,
    )
    assert value(registry, "llm_cost_usd_total", task_type="chat", model="gpt-4o") == 0.0625


def test_an_unpriced_model_is_counted_not_guessed(
    metrics: Any, registry: CollectorRegistry
) -> None:
    for _ in range(3):
        metrics.record_llm_call(
            task_type="chat",
            model="llama-local",
            provider="self",
            input_tokens=100,
            output_tokens=10,
            latency_ms=1.0,
        )
    assert value(registry, "llm_cost_usd_total", task_type="chat", model="llama-local") == 0
    reason = {"metric": "llm_cost_usd_total", "reason": "unpriced_model"}
    assert value(registry, "llm_monitoring_dropped_total", **reason) == 3
    assert (
        value(
            registry, "llm_tokens_total", task_type="chat", model="llama-local", token_type="input"
        )
        == 300
    )


def test_more_cached_than_input_tokens_gives_no_cost(
    metrics: Any, registry: CollectorRegistry
) -> None:
    metrics.record_llm_call(
        task_type="chat",
        model="gpt-4o",
        provider="p",
        input_tokens=10,
        output_tokens=1,
        cached_input_tokens=20,
        latency_ms=1.0,
    )
    assert value(registry, "llm_cost_usd_total", task_type="chat", model="gpt-4o") == 0
    reason = {"metric": "llm_cost_usd_total", "reason": "invalid_tokens"}
    assert value(registry, "llm_monitoring_dropped_total", **reason) == 1
