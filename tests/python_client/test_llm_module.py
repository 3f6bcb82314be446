"""The committed llm metrics module: its metrics are the spec's, its events update them."""

from __future__ import annotations

from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry

from monitorgen.model import MetricType, Spec

from .exposition import families, histogram, key, samples

SELF_METRICS = {"llm_monitoring_dropped", "llm_monitoring_errors"}
PROMETHEUS_TYPE = {
    MetricType.COUNTER: "counter",
    MetricType.GAUGE: "gauge",
    MetricType.HISTOGRAM: "histogram",
    MetricType.SUMMARY: "summary",
}


SAMPLE_VALUE = {"str": "x", "int": 1, "float": 1.0, "bool": True}


def record_every_event(metrics: object, spec: Spec) -> None:
    """Call every event's method once, with a value of the right type for each field."""
    for event in spec.events:
        arguments = {f.name: SAMPLE_VALUE[f.type] for f in event.fields}
        getattr(metrics, f"record_{event.name}")(**arguments)


def family_name(name: str, kind: MetricType) -> str:
    """The family name the exposition parser reports (counters lose `_total`)."""
    return name.removesuffix("_total") if kind is MetricType.COUNTER else name


def test_every_spec_metric_is_exposed_as_declared(llm_module: ModuleType, llm_spec: Spec) -> None:
    registry = CollectorRegistry()
    record_every_event(llm_module.LlmMetrics(registry=registry), llm_spec)
    found = families(registry)
    expected_names = {family_name(m.name, m.type) for m in llm_spec.metrics}
    assert set(found) == expected_names | SELF_METRICS
    updated = {u.metric for e in llm_spec.events for u in e.updates}
    for metric in llm_spec.metrics:
        family = found[family_name(metric.name, metric.type)]
        assert family.type == PROMETHEUS_TYPE[metric.type]
        assert family.documentation == metric.help
        series = [s for s in family.samples if not s.name.endswith("_created")]
        assert series or metric.name not in updated, f"{metric.name} has no samples"
        assert {s.name for s in series} <= set(metric.series_names())
        for sample in series:
            assert set(sample.labels) - {"le", "quantile"} == set(metric.label_names)
        if metric.type is MetricType.HISTOGRAM:
            bounds = {float(s.labels["le"]) for s in series if s.name.endswith("_bucket")}
            assert bounds == {*metric.buckets, float("inf")}


def test_llm_calls_give_exactly_the_expected_exposition(llm_module: ModuleType) -> None:
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    metrics.record_llm_call(
        task_type="chat",
        model="gpt-4o",
        provider="openai",
        input_tokens=1000,
        output_tokens=200,
        latency_ms=1500.0,
        cached_input_tokens=400,
        reasoning_tokens=50,
        baseline_tokens=3000,
    )
    metrics.record_llm_call(
        task_type="chat",
        model="gpt-4o",
        provider="openai",
        input_tokens=500,
        output_tokens=100,
        latency_ms=250.0,
        status="error",
        cost_usd=0.5,
    )
    metrics.record_llm_call(
        task_type="summarize",
        model="gpt-4o-mini",
        provider="openai",
        input_tokens=2000,
        output_tokens=300,
        latency_ms=40000.0,
    )
    # gpt-4o: 2.5 input, 10 output, 1.25 cached input per 1M tokens; reasoning at the output price.
    first_cost = (600 * 2.5 + 400 * 1.25 + 200 * 10 + 50 * 10) / 1e6
    # gpt-4o-mini: 0.15 input, 0.6 output.
    third_cost = (2000 * 0.15 + 300 * 0.6) / 1e6
    chat = {"task_type": "chat", "model": "gpt-4o"}
    mini = {"task_type": "summarize", "model": "gpt-4o-mini"}
    bounds = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
    expected = {
        key("llm_requests_total", **chat, provider="openai", status="ok"): 1,
        key("llm_requests_total", **chat, provider="openai", status="error"): 1,
        key("llm_requests_total", **mini, provider="openai", status="ok"): 1,
        key("llm_tokens_total", **chat, token_type="input"): 1500,
        key("llm_tokens_total", **chat, token_type="output"): 300,
        key("llm_tokens_total", **chat, token_type="cached_input"): 400,
        key("llm_tokens_total", **chat, token_type="reasoning"): 50,
        key("llm_tokens_total", **mini, token_type="input"): 2000,
        key("llm_tokens_total", **mini, token_type="output"): 300,
        key("llm_tokens_total", **mini, token_type="cached_input"): 0,
        key("llm_tokens_total", **mini, token_type="reasoning"): 0,
        key("llm_baseline_tokens_total", **chat): 3000,
        key("llm_baseline_tokens_total", **mini): 0,
        key("llm_cost_usd_total", **chat): first_cost + 0.5,
        key("llm_cost_usd_total", **mini): third_cost,
        **histogram("llm_latency_seconds", bounds, [1.5, 0.25], **chat),
        **histogram("llm_latency_seconds", bounds, [40.0], **mini),
    }
    assert samples(registry) == pytest.approx(expected, rel=1e-12)


def test_quality_events_set_the_gauge_and_count_checks(llm_module: ModuleType) -> None:
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    metrics.record_quality_score(task_type="chat", scenario="greeting", score=0.9)
    metrics.record_quality_score(task_type="chat", scenario="greeting", score=0.7)
    metrics.record_quality_score(task_type="chat", scenario="farewell", score=1)
    for result in ("pass", "pass", "fail"):
        metrics.record_quality_check(task_type="chat", check="intimacy", result=result)
    assert samples(registry) == {
        key("llm_quality_score", task_type="chat", scenario="greeting"): 0.7,
        key("llm_quality_score", task_type="chat", scenario="farewell"): 1.0,
        key("llm_quality_checks_total", task_type="chat", check="intimacy", result="pass"): 2,
        key("llm_quality_checks_total", task_type="chat", check="intimacy", result="fail"): 1,
    }


def test_registry_none_registers_nothing(llm_module: ModuleType) -> None:
    metrics = llm_module.LlmMetrics(registry=None)
    metrics.record_llm_call(
        task_type="chat",
        model="gpt-4o",
        provider="openai",
        input_tokens=1,
        output_tokens=1,
        latency_ms=1.0,
    )
    assert metrics.llm_requests_total.labels("chat", "gpt-4o", "openai", "ok")._value.get() == 1


def test_two_instances_in_one_registry_clash_loudly(llm_module: ModuleType) -> None:
    """Construction is setup, not the hot path: a duplicate registration is reported."""
    registry = CollectorRegistry()
    llm_module.LlmMetrics(registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        llm_module.LlmMetrics(registry=registry)
