"""The trace log: daily UTC files in the TraceService format, safe from threads and processes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from monitorgen.report import build_report

from .conftest import LLM_MODULE
from .exposition import value

CALL: dict[str, Any] = {
    "task_type": "chat",
    "model": "gpt-4o",
    "provider": "openai",
    "input_tokens": 1000,
    "output_tokens": 200,
    "latency_ms": 812.5,
}
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def traced(llm_module: ModuleType, registry: CollectorRegistry, tmp_path: Path) -> Any:
    metrics = llm_module.LlmMetrics(registry=registry, trace_directory=tmp_path / "logs")
    metrics.trace.clock = lambda: NOON
    return metrics


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_no_trace_is_written_unless_the_application_asks(
    llm_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    metrics = llm_module.LlmMetrics(registry=CollectorRegistry())
    metrics.record_llm_call(**CALL)
    assert metrics.trace is None
    assert list(tmp_path.iterdir()) == []


def test_an_entry_has_the_trace_service_format(traced: Any, tmp_path: Path) -> None:
    traced.record_llm_call(**CALL, config={"max_reply_tokens": 256}, prompt="hi", response="yo")
    (entry,) = entries(tmp_path / "logs" / "trace_2026-11-26.jsonl")
    assert entry == {
        "type": "llm_call",
        "timestamp": "2026-11-26T12:00:00.000000+00:00",
        "task_type": "chat",
        "model": "gpt-4o",
        "provider": "openai",
        "input_tokens": 1000,
        "output_tokens": 200,
        "total_tokens": 1200,
        "latency_ms": 812.5,
        "status": "ok",
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": pytest.approx((1000 * 2.5 + 200 * 10) / 1e6),
        "baseline_tokens": None,
        "config": {"max_reply_tokens": 256},
        "prompt": None,
        "response": None,
    }


def test_content_is_kept_only_with_log_content(llm_module: ModuleType, tmp_path: Path) -> None:
    metrics = llm_module.LlmMetrics(
        registry=CollectorRegistry(), trace_directory=tmp_path, log_content=True
    )
    metrics.record_llm_call(**CALL, prompt="Summarise 这个", response="Done")
    (path,) = tmp_path.glob("trace_*.jsonl")
    (entry,) = entries(path)
    assert (entry["prompt"], entry["response"]) == ("Summarise 这个", "Done")


def test_days_roll_over_at_utc_midnight(traced: Any, tmp_path: Path) -> None:
    midnight = datetime(2026, 11, 27, tzinfo=UTC).timestamp()
    for moment in (midnight - 0.5, midnight + 0.5):
        traced.trace.clock = lambda moment=moment: moment
        traced.record_llm_call(**CALL)
    logs = tmp_path / "logs"
    assert sorted(p.name for p in logs.iterdir()) == [
        "trace_2026-11-26.jsonl",
        "trace_2026-11-27.jsonl",
    ]
    (late,) = entries(logs / "trace_2026-11-26.jsonl")
    assert late["timestamp"] == "2026-11-26T23:59:59.500000+00:00"


def test_events_without_trace_are_not_logged(traced: Any, tmp_path: Path) -> None:
    traced.record_quality_score(task_type="chat", scenario="s", score=0.5)
    traced.record_quality_check(task_type="chat", check="c", result="pass")
    assert not (tmp_path / "logs").exists()


def test_a_failing_trace_is_counted_and_metrics_still_recorded(
    llm_module: ModuleType, registry: CollectorRegistry, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    metrics = llm_module.LlmMetrics(registry=registry, trace_directory=blocker)
    metrics.record_llm_call(**CALL)
    metrics.record_llm_call(**{**CALL, "latency_ms": float("nan")})
    assert value(registry, "llm_monitoring_errors_total", event="llm_call", stage="trace") == 2
    labels = {"task_type": "chat", "model": "gpt-4o", "provider": "openai", "status": "ok"}
    assert value(registry, "llm_requests_total", **labels) == 2


def test_configure_trace_turns_it_on_and_off(traced: Any, tmp_path: Path) -> None:
    traced.configure_trace(None)
    traced.record_llm_call(**CALL)
    traced.configure_trace(tmp_path / "elsewhere")
    traced.record_llm_call(**CALL)
    assert not (tmp_path / "logs").exists()
    assert len(list((tmp_path / "elsewhere").glob("trace_*.jsonl"))) == 1


def test_the_report_reads_what_the_module_wrote(traced: Any, tmp_path: Path) -> None:
    traced.record_llm_call(**CALL)
    traced.record_llm_call(**{**CALL, "task_type": "summarize", "status": "error"})
    traced.record_llm_call(**{**CALL, "model": "mystery", "input_tokens": 10, "output_tokens": 5})
    report = build_report([tmp_path / "logs" / "trace_2026-11-26.jsonl"], day=date(2026, 11, 26))
    totals = report.totals
    assert (totals.requests, totals.ok, totals.errors) == (3, 2, 1)
    assert totals.input_tokens == 2010 and totals.output_tokens == 405
    assert totals.cost_usd == pytest.approx(2 * (1000 * 2.5 + 200 * 10) / 1e6)
    assert totals.unpriced_requests == 1
    assert report.data_quality.malformed_lines == 0
    assert [g.name for g in report.by_task_type] == ["chat", "summarize"]


WRITER = textwrap.dedent(
    """
    import importlib.util, sys, threading
    from prometheus_client import CollectorRegistry
    spec = importlib.util.spec_from_file_location("llm_metrics", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    metrics = module.LlmMetrics(
        registry=CollectorRegistry(), trace_directory=sys.argv[2], log_content=True
    )
    writer, lines, threads = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    def run(thread):
        for n in range(lines):
            metrics.record_llm_call(
                task_type="chat", model="gpt-4o", provider="openai", input_tokens=n,
                output_tokens=1, latency_ms=1.0, prompt=f"{writer}/{thread}/{n}:" + "x" * 8000,
            )
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers: w.start()
    for w in workers: w.join()
    """
)


def test_lines_from_threads_and_processes_never_interleave(tmp_path: Path) -> None:
    processes, threads, lines = 4, 3, 150
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(LLM_MODULE),
                str(tmp_path),
                f"w{p}",
                str(lines),
                str(threads),
            ]
        )
        for p in range(processes)
    ]
    assert [child.wait(timeout=120) for child in children] == [0] * processes
    (path,) = tmp_path.glob("trace_*.jsonl")
    written = entries(path)
    seen = set()
    for entry in written:
        tag, padding = entry["prompt"].split(":")
        assert padding == "x" * 8000
        seen.add(tag)
    expected = {
        f"w{p}/{t}/{n}" for p in range(processes) for t in range(threads) for n in range(lines)
    }
    assert seen == expected
    assert len(written) == len(expected)


@pytest.mark.parametrize(
    "bad", [{"output_tokens": float("nan")}, {"latency_ms": float("inf")}, {"cost_usd": -math.inf}]
)
def test_a_value_json_cannot_hold_is_traced_as_null_not_dropped(
    traced: Any, tmp_path: Path, bad: dict[str, float]
) -> None:
    """The metrics counted the call; the daily report must see it too, with the bad
    field null as it reads any other invalid one."""
    traced.record_llm_call(**{**CALL, **bad}, config={"temperature": float("nan")})
    (entry,) = entries(tmp_path / "logs" / "trace_2026-11-26.jsonl")
    (field,) = bad
    assert entry[field] is None
    assert entry["config"] == {"temperature": None}
    assert entry["model"] == "gpt-4o"
