"""Eight threads record at once: every total is exact, and the label cap holds exactly."""

from __future__ import annotations

import threading
from types import ModuleType

from prometheus_client import CollectorRegistry

from .exposition import samples, value

THREADS = 8
EVENTS_PER_THREAD = 100_000
SHARED_TASKS = ("chat", "summarize", "classify", "translate")
UNIQUE_EVERY = 1_000
"""Every so many events a thread uses a task type of its own, to race on the cap of 50."""
TASK_TYPE_CAP = 50


def record(metrics: object, thread: int, start: threading.Barrier) -> None:
    call = metrics.record_llm_call  # type: ignore[attr-defined]
    start.wait()
    for index in range(EVENTS_PER_THREAD):
        if index % UNIQUE_EVERY == 0:
            task = f"t{thread}-{index}"
        else:
            task = SHARED_TASKS[index % len(SHARED_TASKS)]
        call(
            task_type=task,
            model="gpt-4o",
            provider="openai",
            input_tokens=3,
            output_tokens=index % 5,
            latency_ms=250.0,
            cost_usd=0.125,
        )


def test_eight_threads_give_exact_totals(llm_module: ModuleType) -> None:
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    start = threading.Barrier(THREADS)
    workers = [threading.Thread(target=record, args=(metrics, n, start)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    events = THREADS * EVENTS_PER_THREAD
    found = samples(registry)

    def total(name: str, **labels: str) -> float:
        return sum(
            v
            for (series, pairs), v in found.items()
            if series == name and labels.items() <= dict(pairs).items()
        )

    assert total("llm_requests_total") == events
    assert total("llm_tokens_total", token_type="input") == 3 * events
    output_per_thread = sum(index % 5 for index in range(EVENTS_PER_THREAD))
    assert total("llm_tokens_total", token_type="output") == THREADS * output_per_thread
    assert total("llm_cost_usd_total") == 0.125 * events
    assert total("llm_latency_seconds_count") == events
    assert total("llm_latency_seconds_sum") == 0.25 * events

    task_types = {
        dict(pairs)["task_type"] for (name, pairs) in found if name == "llm_requests_total"
    }
    assert len(task_types - {"other"}) == TASK_TYPE_CAP
    unique = THREADS * (EVENTS_PER_THREAD // UNIQUE_EVERY)
    admitted_unique = TASK_TYPE_CAP - len(SHARED_TASKS)
    others = total("llm_requests_total", task_type="other")
    assert others == unique - admitted_unique
    dropped = value(
        registry,
        "llm_monitoring_dropped_total",
        metric="llm_requests_total",
        reason="too_many_values",
    )
    assert dropped == others
