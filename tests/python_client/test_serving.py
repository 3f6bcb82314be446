"""Serving /metrics: the module's own server helper, and the module-level functions in a
process of their own (the live-server harness's MetricsApp)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import LOOPBACK, MetricsApp, assert_listens_only_on_loopback, free_port
from tests.harness.net import http_request

from .conftest import LLM_MODULE


def sample_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_start_metrics_server_serves_the_registry_on_loopback(llm_module: ModuleType) -> None:
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    metrics.record_quality_score(task_type="chat", scenario="greeting", score=0.75)
    assert llm_module.DEFAULT_ADDR == LOOPBACK
    port = free_port()
    server, thread = llm_module.start_metrics_server(port, registry=registry)
    try:
        status, body = http_request(f"http://{LOOPBACK}:{port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert status == 200
    scores = sample_values(body.decode(), "llm_quality_score")
    assert scores == {(("scenario", "greeting"), ("task_type", "chat")): 0.75}


def test_the_default_port_is_the_spec_scrape_target(llm_module: ModuleType) -> None:
    assert llm_module.DEFAULT_PORT == 8000  # specs/llm.yaml: targets: ["localhost:8000"]


@pytest.mark.e2e
def test_module_level_functions_in_their_own_process(tmp_path: Path) -> None:
    with MetricsApp(LLM_MODULE, workdir=tmp_path) as app:
        assert_listens_only_on_loopback(app.pid)
        app.call("configure_trace", directory=str(tmp_path / "logs"))
        call = {
            "task_type": "chat",
            "model": "gpt-4o",
            "provider": "openai",
            "input_tokens": 40,
            "output_tokens": 2,
            "latency_ms": 120.0,
        }
        app.call("record_llm_call", **call)
        app.call("record_llm_call", **{**call, "status": "melted", "input_tokens": -1})
        text = app.metrics_text()
    requests = sample_values(text, "llm_requests_total")
    labels = (("model", "gpt-4o"), ("provider", "openai"))
    assert requests == {
        (*labels, ("status", "ok"), ("task_type", "chat")): 1,
        (*labels, ("status", "other"), ("task_type", "chat")): 1,
    }
    dropped = sample_values(text, "llm_monitoring_dropped_total")
    assert dropped == {
        (("metric", "llm_requests_total"), ("reason", "unknown_value")): 1,
        (("metric", "llm_tokens_total"), ("reason", "negative")): 1,
        (("metric", "llm_cost_usd_total"), ("reason", "invalid_tokens")): 1,
    }
    (log,) = (tmp_path / "logs").glob("trace_*.jsonl")
    assert len(log.read_text().splitlines()) == 2
