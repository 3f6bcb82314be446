"""The generated `record_llm_call` against the design document's hand-written collector.

The design document's `MetricsCollector.record_llm_call` (Step 2) makes four
`.labels(...).inc/observe` calls per LLM call. The generated module updates more series
(requests, four token types, baseline, cost, latency), checks every value, and caches
label children. Both run here side by side on the same inputs, each on a fresh
CollectorRegistry; each repeat times every variant once (in rotating order) and the
median per call is reported with its ratio to the hand-written collector. The target
is a ratio of at most 0.5.

    python benchmarks/hot_path.py                # full run (a few seconds)
    python benchmarks/hot_path.py --quick        # tiny run, for tests (timings meaningless)
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import statistics
import sys
import timeit
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODULE = ROOT / "generated" / "llm" / "python" / "llm_metrics.py"
TARGET_RATIO = 0.5
TASK_TYPES = ("chat", "summarize", "classify", "translate")
MODELS = (("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-sonnet", "anthropic"))

Call = dict[str, Any]


class MetricsCollector:
    """The design document's Step 2 collector, on a registry of its own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.token_usage = Counter(
            "llm_tokens_total", "Total tokens used", ["task_type", "token_type"], registry=registry
        )
        self.llm_cost = Counter(
            "llm_cost_usd_total", "Total LLM cost in USD", ["task_type", "model"], registry=registry
        )
        self.llm_latency = Histogram(
            "llm_latency_seconds", "LLM call latency", ["task_type", "model"], registry=registry
        )
        self.llm_quality = Gauge(
            "llm_quality_score",
            "LLM response quality score",
            ["task_type", "scenario"],
            registry=registry,
        )

    def record_llm_call(self, data: Mapping[str, Any]) -> None:
        self.token_usage.labels(task_type=data["task_type"], token_type="input").inc(
            data["input_tokens"]
        )
        self.token_usage.labels(task_type=data["task_type"], token_type="output").inc(
            data["output_tokens"]
        )
        self.llm_cost.labels(task_type=data["task_type"], model=data["model"]).inc(data["cost_usd"])
        self.llm_latency.labels(task_type=data["task_type"], model=data["model"]).observe(
            data["latency_ms"] / 1000
        )


def make_calls(count: int) -> list[Call]:
    """Deterministic inputs over every task type and model."""
    combos = itertools.cycle(itertools.product(TASK_TYPES, MODELS))
    calls = []
    for index in range(count):
        task_type, (model, provider) = next(combos)
        calls.append(
            {
                "task_type": task_type,
                "model": model,
                "provider": provider,
                "input_tokens": 500 + index % 1500,
                "output_tokens": 50 + index % 400,
                "latency_ms": 200.0 + index % 5000,
                "cost_usd": 0.001 * (1 + index % 7),
            }
        )
    return calls


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("llm_metrics_bench", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Variant:
    label: str
    run: Callable[[], None]
    registry: CollectorRegistry | None
    times: list[float]


def variants(module: ModuleType, calls: list[Call]) -> list[Variant]:
    hand_registry, generated_registry, priced_registry = (CollectorRegistry() for _ in range(3))
    hand = MetricsCollector(hand_registry).record_llm_call
    generated = module.LlmMetrics(registry=generated_registry).record_llm_call
    priced = module.LlmMetrics(registry=priced_registry).record_llm_call
    unpriced_calls = [{k: v for k, v in call.items() if k != "cost_usd"} for call in calls]
    module_level = module.record_llm_call

    def run_hand() -> None:
        for call in calls:
            hand(call)

    def run_generated() -> None:
        for call in calls:
            generated(**call)

    def run_priced() -> None:
        for call in unpriced_calls:
            priced(**call)

    def run_module_level() -> None:
        for call in calls:
            module_level(**call)

    return [
        Variant("design document MetricsCollector.record_llm_call", run_hand, hand_registry, []),
        Variant("generated LlmMetrics.record_llm_call", run_generated, generated_registry, []),
        Variant("generated, cost_usd computed from PRICES", run_priced, priced_registry, []),
        Variant("generated module-level record_llm_call", run_module_level, None, []),
    ]


def measure(all_variants: list[Variant], calls: int, repeat: int) -> None:
    for variant in all_variants:
        variant.run()  # warm-up: label children exist on both sides before timing
    for round_ in range(repeat):
        shift = round_ % len(all_variants)
        for variant in all_variants[shift:] + all_variants[:shift]:
            seconds = timeit.Timer(variant.run).timeit(number=1)
            variant.times.append(seconds / calls * 1e6)


def tokens(registry: CollectorRegistry, token_type: str) -> float:
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "llm_tokens_total" and sample.labels.get("token_type") == token_type
    )


def check_same_work(hand: Variant, generated: Variant) -> None:
    """Both sides ran the same calls: their token totals agree."""
    assert hand.registry is not None and generated.registry is not None
    for token_type in ("input", "output"):
        mine, theirs = tokens(generated.registry, token_type), tokens(hand.registry, token_type)
        if mine != theirs:
            raise SystemExit(f"{token_type} tokens differ: generated {mine}, hand-written {theirs}")


def report(all_variants: list[Variant], calls: int, repeat: int) -> float:
    baseline = statistics.median(all_variants[0].times)
    print(
        f"record_llm_call hot path: {calls} calls over {len(TASK_TYPES) * len(MODELS)} label "
        f"sets, median of {repeat} repeats"
    )
    width = max(len(v.label) for v in all_variants)
    for variant in all_variants:
        median = statistics.median(variant.times)
        versus = f"   ratio {median / baseline:.2f}" if variant is not all_variants[0] else ""
        print(f"  {variant.label:<{width}}  {median:7.2f} us/call{versus}")
    ratio = statistics.median(all_variants[1].times) / baseline
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio generated / hand-written: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timed run")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per variant")
    parser.add_argument("--quick", action="store_true", help="tiny run (for tests)")
    parser.add_argument("--module", type=Path, default=DEFAULT_MODULE, help="generated module")
    args = parser.parse_args(argv)
    calls, repeat = (120, 2) if args.quick else (args.calls, args.repeat)
    all_variants = variants(load_module(args.module), make_calls(calls))
    measure(all_variants, calls, repeat)
    check_same_work(all_variants[0], all_variants[1])
    report(all_variants, calls, repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
