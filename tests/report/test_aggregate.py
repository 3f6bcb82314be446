"""Aggregation over hand-made trace logs; expected numbers are worked out here."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from monitorgen.report import (
    MAX_LINE_REFS,
    Baseline,
    LineRef,
    ModelPrice,
    NamedCount,
    Pricing,
    Report,
    build_report,
)

FIXTURES = Path(__file__).parent / "fixtures"
DAY_FILE = FIXTURES / "trace_2026-11-26.jsonl"
PREVIOUS_FILE = FIXTURES / "trace_2026-11-25.jsonl"
EMPTY_FILE = FIXTURES / "trace_empty.jsonl"
DAY = date(2026, 11, 26)
MILLION = 1_000_000

PRICING = Pricing(
    {
        "gpt-small": ModelPrice(input=1.0, output=2.0, cached_input=0.5),
        # gpt-big entries carry cost_usd, which must win over these prices.
        "gpt-big": ModelPrice(input=1000.0, output=1000.0),
    }
)

# The five llm_call entries of 2026-11-26 (UTC) in DAY_FILE, by line:
# 1 summarize/gpt-big    1000+200=1200  $0.05    100ms ok
# 2 summarize/gpt-small  2000+500 (no total, 1000 cached, 100 reasoning) priced  300ms ok
# 3 classify/gpt-small    300+20=320    $0.001   200ms error
# 4 classify/local-llm    400+100=500   unpriced 500ms timeout
# 5 classify/gpt-big      100+50=150    $0.01    400ms ok (01:00+02:00 is 23:00 UTC)
LINE2_COST = (1000 * 1.0 + 1000 * 0.5 + 500 * 2.0 + 100 * 2.0) / MILLION
DAY_COST = 0.05 + LINE2_COST + 0.001 + 0.01


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def latency(value: float) -> object:
    """Percentiles come from a sketch with 1% relative accuracy."""
    return pytest.approx(value, rel=0.01)


def day_report(
    pricing: Pricing | None = None,
    baseline: Baseline | None = None,
    previous_paths: Sequence[Path] = (),
) -> Report:
    return build_report(
        [DAY_FILE], day=DAY, pricing=pricing, baseline=baseline, previous_paths=previous_paths
    )


def test_totals_for_one_day() -> None:
    totals = day_report(pricing=PRICING).totals
    assert totals.requests == 5
    assert (totals.ok, totals.errors, totals.timeouts) == (3, 1, 1)
    assert totals.input_tokens == 1000 + 2000 + 300 + 400 + 100
    assert totals.output_tokens == 200 + 500 + 20 + 100 + 50
    assert totals.total_tokens == 1200 + (2000 + 500) + 320 + 500 + 150
    assert totals.cached_input_tokens == 1000
    assert totals.reasoning_tokens == 100
    assert totals.cost_usd == approx(DAY_COST)
    assert totals.priced_requests == 4
    assert totals.computed_cost_requests == 1
    assert totals.unpriced_requests == 1
    assert totals.avg_latency_ms == approx((100 + 300 + 200 + 500 + 400) / 5)
    # Sorted: 100, 200, 300, 400, 500. Nearest rank: p50 -> 3rd, p95 and p99 -> 5th.
    assert totals.p50_latency_ms == latency(300)
    assert totals.p95_latency_ms == latency(500)
    assert totals.p99_latency_ms == latency(500)
    assert totals.success_rate == approx(3 / 5)
    assert totals.error_rate == approx(1 / 5)
    assert totals.timeout_rate == approx(1 / 5)


def test_tables_by_task_type_sorted_by_cost() -> None:
    rows = day_report(pricing=PRICING).by_task_type
    assert [row.name for row in rows] == ["summarize", "classify"]
    summarize, classify = rows
    assert summarize.requests == 2
    assert summarize.total_tokens == 1200 + 2500
    assert summarize.cost_usd == approx(0.05 + LINE2_COST)
    assert summarize.avg_latency_ms == approx(200)
    assert summarize.p95_latency_ms == latency(300)
    assert summarize.error_rate == 0
    assert classify.requests == 3
    assert (classify.input_tokens, classify.output_tokens) == (800, 170)
    assert classify.total_tokens == 320 + 500 + 150
    assert classify.cost_usd == approx(0.011)
    assert classify.unpriced_requests == 1
    assert classify.avg_latency_ms == approx((200 + 500 + 400) / 3)
    assert classify.p95_latency_ms == latency(500)
    assert classify.error_rate == approx(1 / 3)
    assert classify.timeout_rate == approx(1 / 3)


def test_tables_by_model_sorted_by_cost() -> None:
    rows = day_report(pricing=PRICING).by_model
    assert [row.name for row in rows] == ["gpt-big", "gpt-small", "local-llm"]
    big, small, local = rows
    assert (big.requests, big.total_tokens, big.cost_usd) == (2, 1350, approx(0.06))
    assert big.avg_latency_ms == approx(250)
    assert big.p95_latency_ms == latency(400)
    assert big.error_rate == 0
    assert (small.requests, small.total_tokens) == (2, 2500 + 320)
    assert small.cost_usd == approx(LINE2_COST + 0.001)
    assert small.error_rate == approx(1 / 2)
    assert small.p95_latency_ms == latency(300)
    assert (local.requests, local.total_tokens, local.cost_usd) == (1, 500, 0)
    assert local.unpriced_requests == 1
    assert local.timeout_rate == 1
    assert local.avg_latency_ms == approx(500)


def test_without_pricing_null_costs_stay_unpriced() -> None:
    report = day_report()
    assert report.totals.cost_usd == approx(0.05 + 0.001 + 0.01)
    assert report.totals.unpriced_requests == 2
    assert report.totals.computed_cost_requests == 0
    assert report.data_quality.unpriced_models == (
        NamedCount("gpt-small", 1),
        NamedCount("local-llm", 1),
    )


def test_data_quality() -> None:
    quality = day_report(pricing=PRICING).data_quality
    name = str(DAY_FILE)
    assert quality.lines == 15  # 16 lines, one blank
    assert quality.malformed_lines == 3
    assert quality.malformed_refs == (LineRef(name, 8), LineRef(name, 9), LineRef(name, 10))
    assert quality.entries_missing_fields == 2
    assert quality.missing_fields == (
        NamedCount("input_tokens", 1),
        NamedCount("latency_ms", 1),
        NamedCount("model", 1),
    )
    assert quality.missing_field_refs == (LineRef(name, 13), LineRef(name, 14))
    assert quality.unpriced_models == (NamedCount("local-llm", 1),)
    assert quality.other_events == 2
    assert quality.other_event_types == (NamedCount("feedback", 1), NamedCount("span", 1))
    # Lines 6 (23:30-02:00 is the 27th UTC), 7 and 16 (the 25th).
    assert quality.outside_day == 3


def test_day_filter_uses_utc_dates() -> None:
    report = day_report()
    assert (report.day, report.first_day, report.last_day) == (DAY, DAY, DAY)
    other_day = build_report([DAY_FILE], day=date(2026, 11, 27))
    assert other_day.totals.requests == 1  # line 6 only
    assert other_day.totals.total_tokens == 600
    assert other_day.by_model[0].name == "local-llm"


def test_without_day_filter_every_entry_counts() -> None:
    report = build_report([DAY_FILE])
    assert report.day is None
    assert report.totals.requests == 7
    assert report.totals.total_tokens == 4670 + 600 + 20
    assert (report.first_day, report.last_day) == (date(2026, 11, 25), date(2026, 11, 27))
    assert report.data_quality.other_events == 3
    assert report.data_quality.outside_day == 0
    assert report.changes is None and report.previous_day is None


def test_empty_day_gives_a_valid_report() -> None:
    report = build_report([DAY_FILE], day=date(2026, 12, 1), baseline=Baseline(1000, 0.02))
    totals = report.totals
    assert totals.requests == 0
    assert totals.cost_usd == 0
    assert totals.avg_latency_ms is None
    assert totals.p50_latency_ms is None and totals.p99_latency_ms is None
    assert totals.success_rate is None and totals.error_rate is None
    assert report.by_task_type == () and report.by_model == ()
    assert report.first_day is None
    assert report.optimisation is not None
    assert report.optimisation.covered_requests == 0
    assert report.optimisation.token_reduction_pct is None
    assert report.optimisation.cost_savings_pct is None
    assert report.data_quality.malformed_lines == 3
    assert report.data_quality.outside_day == 12


def test_empty_file() -> None:
    report = build_report([EMPTY_FILE], day=DAY)
    assert report.totals.requests == 0
    assert report.data_quality.lines == 0
    assert report.optimisation is None


def test_change_against_previous_day() -> None:
    report = day_report(pricing=PRICING, previous_paths=[PREVIOUS_FILE])
    assert report.previous_day == date(2026, 11, 25)
    assert report.changes is not None
    changes = {change.metric: change for change in report.changes}
    # Previous day: 600 + 400 tokens, $0.03, 200 and 400ms, one error in two.
    requests = changes["requests"]
    assert (requests.current, requests.previous, requests.delta) == (5, 2, 3)
    assert requests.delta_pct == approx(150)
    tokens = changes["total_tokens"]
    assert (tokens.current, tokens.previous, tokens.delta) == (4670, 1000, 3670)
    assert tokens.delta_pct == approx(367)
    cost = changes["cost_usd"]
    assert cost.previous == approx(0.03)
    assert cost.delta == approx(DAY_COST - 0.03)
    assert cost.delta_pct == approx((DAY_COST - 0.03) / 0.03 * 100)
    average = changes["avg_latency_ms"]
    assert (average.current, average.previous) == (approx(300), approx(300))
    assert average.delta == approx(0) and average.delta_pct == approx(0)
    errors = changes["error_rate"]
    assert errors.delta == approx(0.2 - 0.5)
    assert errors.delta_pct == approx(-60)
    assert changes["timeout_rate"].delta_pct is None  # no timeouts the day before
    assert len(changes) == 12


def test_change_against_an_empty_previous_day() -> None:
    report = day_report(previous_paths=[EMPTY_FILE])
    assert report.changes is not None
    changes = {change.metric: change for change in report.changes}
    assert changes["requests"].delta == 5
    assert changes["requests"].delta_pct is None
    assert changes["avg_latency_ms"].previous is None
    assert changes["avg_latency_ms"].delta is None


def test_declared_baseline() -> None:
    report = day_report(pricing=PRICING, baseline=Baseline(1000, 0.02))
    optimisation = report.optimisation
    assert optimisation is not None
    # Line 1 declares baseline_tokens 2000; the other four use 1000 each.
    assert optimisation.covered_requests == 5
    assert optimisation.baseline_tokens == 2000 + 4 * 1000
    assert optimisation.actual_tokens == 4670
    assert optimisation.tokens_saved == 6000 - 4670
    assert optimisation.token_reduction_pct == approx((6000 - 4670) / 6000 * 100)
    # Four requests have a known cost.
    assert optimisation.baseline_cost_usd == approx(4 * 0.02)
    assert optimisation.actual_cost_usd == approx(DAY_COST)
    assert optimisation.cost_savings_usd == approx(0.08 - DAY_COST)
    assert optimisation.cost_savings_pct == approx((0.08 - DAY_COST) / 0.08 * 100)


def test_baseline_tokens_field_without_declared_baseline() -> None:
    optimisation = day_report().optimisation
    assert optimisation is not None
    assert optimisation.covered_requests == 1
    assert (optimisation.baseline_tokens, optimisation.actual_tokens) == (2000, 1200)
    assert optimisation.token_reduction_pct == approx(40)
    assert optimisation.baseline_cost_usd is None and optimisation.cost_savings_usd is None


def test_model_price_cost() -> None:
    price = ModelPrice(input=3.0, output=15.0, cached_input=0.3, reasoning=10.0)
    cost = price.cost(
        input_tokens=10_000, output_tokens=2_000, cached_input_tokens=4_000, reasoning_tokens=500
    )
    assert cost == approx((6_000 * 3.0 + 4_000 * 0.3 + 2_000 * 15.0 + 500 * 10.0) / MILLION)
    plain = ModelPrice(input=3.0, output=15.0)
    cost = plain.cost(
        input_tokens=1_000, output_tokens=100, cached_input_tokens=500, reasoning_tokens=10
    )
    assert cost == approx((1_000 * 3.0 + 100 * 15.0 + 10 * 15.0) / MILLION)


def test_pricing_is_a_read_only_mapping() -> None:
    pricing = Pricing.from_mapping({"m": {"input": 1.0, "output": 2.0, "reasoning": 4.0}})
    assert pricing["m"] == ModelPrice(input=1.0, output=2.0, reasoning=4.0)
    assert list(pricing) == ["m"] and len(pricing) == 1 and "x" not in pricing
    assert pricing == Pricing({"m": ModelPrice(1.0, 2.0, None, 4.0)})
    assert hash(pricing) == hash(Pricing({"m": ModelPrice(1.0, 2.0, None, 4.0)}))
    with pytest.raises(ValueError, match="unknown price keys"):
        Pricing.from_mapping({"m": {"input": 1.0, "output": 2.0, "cache": 1.0}})
    with pytest.raises(ValueError, match="non-negative"):
        ModelPrice(input=-1.0, output=1.0)


def call(**fields: object) -> str:
    entry: dict[str, object] = {
        "type": "llm_call",
        "timestamp": "2026-11-26T12:00:00",
        "task_type": "t",
        "input_tokens": 10,
        "output_tokens": 5,
        "latency_ms": 10.0,
        "model": "m",
        "cost_usd": 0.0,
    }
    entry.update(fields)
    return json.dumps({key: value for key, value in entry.items() if value is not ...})


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_invalid_field_values_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.jsonl",
        [
            call(),
            call(input_tokens=-1),
            call(output_tokens=True),
            call(latency_ms="fast"),
            call(status="cancelled"),
            call(cached_input_tokens=11),
            call(timestamp="yesterday"),
            call(task_type=""),
            call(type=...),
            call(cost_usd=-0.5),
            call(input_tokens=10.0, total_tokens=None),
            '{"type": "llm_call", "latency_ms": NaN}',
        ],
    )
    with path.open("ab") as handle:
        handle.write(b'{"type": "\xff\xfe"}\n')
    report = build_report([path], day=DAY)
    assert report.totals.requests == 2
    assert report.totals.total_tokens == 15 + 15
    quality = report.data_quality
    assert quality.entries_missing_fields == 9
    assert {c.name: c.count for c in quality.missing_fields} == {
        "cached_input_tokens": 1,
        "cost_usd": 1,
        "input_tokens": 1,
        "latency_ms": 1,
        "output_tokens": 1,
        "status": 1,
        "task_type": 1,
        "timestamp": 1,
        "type": 1,
    }
    assert quality.malformed_lines == 2


def test_line_refs_are_capped_but_all_lines_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", ["{oops"] * (MAX_LINE_REFS + 5) + [call()])
    quality = build_report([path], day=DAY).data_quality
    assert quality.malformed_lines == MAX_LINE_REFS + 5
    assert quality.malformed_refs == tuple(
        LineRef(str(path), line) for line in range(1, MAX_LINE_REFS + 1)
    )


def test_ties_are_ordered_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.jsonl",
        [
            call(model="b", task_type="y", cost_usd=None),
            call(model="a", task_type="x", cost_usd=None),
            call(model="c", task_type="z", cost_usd=0.5),
        ],
    )
    report = build_report([path], day=None)
    assert [row.name for row in report.by_model] == ["c", "a", "b"]
    assert [row.name for row in report.by_task_type] == ["z", "x", "y"]


def test_several_files_and_gzip(tmp_path: Path) -> None:
    compressed = tmp_path / "trace_2026-11-26.jsonl.gz"
    with gzip.open(compressed, "wb") as handle:
        handle.write(DAY_FILE.read_bytes())
    report = build_report([compressed, PREVIOUS_FILE], day=DAY)
    # The previous-day file holds one more entry dated 2026-11-26 (14 tokens, $7).
    assert report.totals.requests == 6
    assert report.totals.total_tokens == 4670 + 14
    assert report.totals.cost_usd == approx(0.05 + 0.001 + 0.01 + 7.0)


STREAMING_SCRIPT = """
import resource, sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from monitorgen.report import build_report
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = build_report([Path(sys.argv[1])], day=date(2026, 11, 26))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = report.totals
print(before, after, t.requests, t.input_tokens, t.total_tokens, t.p50_latency_ms, t.p99_latency_ms)
"""


def test_streaming_keeps_memory_flat(tmp_path: Path) -> None:
    """200,000 lines in a fresh interpreter: the peak resident size must not move.

    Holding the parsed entries would take hundreds of MB; the check allows 16 MB.
    A fresh process gives a clean high-water mark, and ru_maxrss is cheap where
    tracemalloc would slow parsing down several times.
    """
    repeats, distinct = 200, 1000
    chunk = "".join(
        f'{{"type": "llm_call", "timestamp": "2026-11-26T{n % 24:02d}:00:00Z", '
        f'"task_type": "task{n % 3}", "model": "model{n % 4}", "input_tokens": {n % 100}, '
        f'"output_tokens": 10, "latency_ms": {n + 1}, "cost_usd": 0.001}}\n'
        for n in range(distinct)
    )
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(repeats):
            handle.write(chunk)
    assert path.stat().st_size > 30 * MILLION

    result = subprocess.run(
        [sys.executable, "-c", STREAMING_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    before, after, requests, input_tokens, total_tokens, p50, p99 = result.stdout.split()
    lines = repeats * distinct
    assert int(requests) == lines
    assert int(input_tokens) == repeats * 10 * sum(range(100))
    assert int(total_tokens) == int(input_tokens) + 10 * lines
    # Latencies 1..1000ms, each 200 times: nearest ranks give 500 and 990.
    assert float(p50) == latency(500)
    assert float(p99) == latency(990)
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB elsewhere
    growth = (int(after) - int(before)) * unit
    assert growth < 16 * 2**20, f"peak resident size grew by {growth:,} bytes"
