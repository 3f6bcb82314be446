"""prometheus_client multiprocess mode, as under gunicorn: worker processes record, another
process serves the sum, and a dead worker's live gauges disappear."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .conftest import LLM_MODULE

LOAD = textwrap.dedent(
    """
    import importlib.util, os, sys
    spec = importlib.util.spec_from_file_location("llm_metrics", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    """
)
WORKER = LOAD + textwrap.dedent(
    """
    calls, score = int(sys.argv[2]), float(sys.argv[3])
    for _ in range(calls):
        module.record_llm_call(
            task_type="chat", model="gpt-4o", provider="openai", input_tokens=10,
            output_tokens=1, latency_ms=500.0, cost_usd=0.25,
        )
    module.record_quality_score(task_type="chat", scenario="s", score=score)
    print(os.getpid())
    """
)
COLLECT = LOAD + textwrap.dedent(
    """
    from prometheus_client import generate_latest
    for pid in sys.argv[2:]:
        module.gunicorn_child_exit(None, type("Worker", (), {"pid": int(pid)})())
    assert module.multiprocess_enabled()
    sys.stdout.write(generate_latest(module.multiprocess_registry()).decode())
    """
)


def python(script: str, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script, str(LLM_MODULE), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def values(text: str) -> dict[str, float]:
    """Sample name -> value, summed over label sets."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def test_workers_are_summed_and_dead_workers_leave_the_live_gauge(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    first = python(WORKER, "3", "0.25", env=env).strip()
    second = python(WORKER, "5", "0.75", env=env).strip()
    both = values(python(COLLECT, env=env))
    assert both["llm_requests_total"] == 8
    assert both["llm_tokens_total"] == 8 * 11
    assert both["llm_cost_usd_total"] == 8 * 0.25
    assert both["llm_latency_seconds_count"] == 8
    assert both["llm_quality_score"] == 0.75, "the most recent value of the live workers"

    after_exit = values(python(COLLECT, second, env=env))
    assert after_exit["llm_requests_total"] == 8, "counters keep a dead worker's counts"
    assert after_exit["llm_quality_score"] == 0.25, "the dead worker's gauge is gone"
    assert first != second
