"""The module-level functions and the default registry, each case in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .conftest import LLM_MODULE

LOAD = textwrap.dedent(
    """
    import importlib.util, sys
    from prometheus_client import REGISTRY, Counter
    spec = importlib.util.spec_from_file_location("llm_metrics", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    CALL = dict(task_type="chat", model="gpt-4o", provider="openai", input_tokens=1,
                output_tokens=1, latency_ms=1.0)
    """
)


def python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LOAD + textwrap.dedent(script), str(LLM_MODULE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_registers_nothing() -> None:
    result = python(
        """
        assert REGISTRY.get_sample_value("llm_requests_total", {}) is None
        assert "llm_requests" not in REGISTRY._names_to_collectors
        """
    )
    assert result.returncode == 0, result.stderr


def test_the_applications_instance_becomes_the_default() -> None:
    result = python(
        """
        mine = module.LlmMetrics()
        module.record_llm_call(**CALL)
        assert module.default_metrics() is mine
        labels = dict(task_type="chat", model="gpt-4o", provider="openai", status="ok")
        assert REGISTRY.get_sample_value("llm_requests_total", labels) == 1
        """
    )
    assert result.returncode == 0, result.stderr


def test_a_default_that_cannot_be_made_is_logged_once_not_raised() -> None:
    result = python(
        """
        Counter("llm_requests_total", "taken by someone else")
        module.record_llm_call(**CALL)
        module.record_llm_call(**CALL)
        print("still running")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "still running\n"
    assert result.stderr.count("cannot create the default LlmMetrics") == 1
