"""`promtool check metrics` accepts the modules' exposition, self-metrics included.

promtool also lints (counter suffixes, units, help texts); no finding is accepted.
"""

from __future__ import annotations

import subprocess
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tests.harness import require_binary


def check_metrics(exposition: bytes) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("promtool")
    return subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition.decode(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.tools
def test_promtool_accepts_the_llm_exposition(llm_module: ModuleType) -> None:
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    call = {"task_type": "chat", "model": "gpt-4o", "provider": "openai", "latency_ms": 80.0}
    metrics.record_llm_call(**call, input_tokens=100, output_tokens=20, baseline_tokens=300)
    metrics.record_llm_call(**call, input_tokens=-1, output_tokens=20, status="weird")
    metrics.record_llm_call(**{**call, "model": {}}, input_tokens=1, output_tokens=1)
    metrics.record_quality_score(task_type="chat", scenario="greeting", score=0.9)
    metrics.record_quality_check(task_type="chat", check="intimacy", result="pass")
    exposition = generate_latest(registry)
    assert b"llm_monitoring_dropped_total{" in exposition
    assert b"llm_monitoring_errors_total{" in exposition
    result = check_metrics(exposition)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.tools
def test_promtool_accepts_the_shop_exposition(shop_module: ModuleType) -> None:
    registry = CollectorRegistry()
    shop = shop_module.ShopMetrics(registry=registry)
    shop.record_order(region="eu", duration_ms=12.0, amount_eur=5.0, payload=300)
    shop.record_queue(depth=2)
    result = check_metrics(generate_latest(registry))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.tools
def test_promtool_reports_a_broken_exposition() -> None:
    """The check itself can fail: a counter without the _total suffix is a lint finding."""
    result = check_metrics(b"# HELP jobs Jobs.\n# TYPE jobs counter\njobs 1\n")
    assert result.returncode != 0
    assert "_total" in result.stdout + result.stderr
