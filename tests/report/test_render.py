"""Markdown and JSON rendering, from hand-built reports and from the fixture logs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from monitorgen.report import (
    DEFAULT_TITLE,
    Baseline,
    Change,
    DataQuality,
    GroupStats,
    LineRef,
    ModelPrice,
    NamedCount,
    Optimisation,
    Pricing,
    Report,
    Totals,
    build_report,
    render_json,
    render_markdown,
    report_to_dict,
)
from monitorgen.report.render import format_count, format_ms, format_rate, format_usd

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 11, 26)

TOTALS = Totals(
    requests=1234,
    ok=1200,
    errors=30,
    timeouts=4,
    input_tokens=1_000_000,
    output_tokens=234_567,
    total_tokens=1_234_567,
    cached_input_tokens=10_000,
    reasoning_tokens=0,
    cost_usd=12.3449,
    priced_requests=1230,
    computed_cost_requests=0,
    unpriced_requests=4,
    avg_latency_ms=850.4,
    p50_latency_ms=800.0,
    p95_latency_ms=1500.0,
    p99_latency_ms=2100.0,
    success_rate=1200 / 1234,
    error_rate=30 / 1234,
    timeout_rate=4 / 1234,
)

EMPTY_TOTALS = Totals(
    requests=0,
    ok=0,
    errors=0,
    timeouts=0,
    input_tokens=0,
    output_tokens=0,
    total_tokens=0,
    cached_input_tokens=0,
    reasoning_tokens=0,
    cost_usd=0.0,
    priced_requests=0,
    computed_cost_requests=0,
    unpriced_requests=0,
    avg_latency_ms=None,
    p50_latency_ms=None,
    p95_latency_ms=None,
    p99_latency_ms=None,
    success_rate=None,
    error_rate=None,
    timeout_rate=None,
)

QUALITY = DataQuality(
    lines=1300,
    malformed_lines=25,
    malformed_refs=(LineRef("logs/trace_2026-11-26.jsonl", 7), LineRef("logs/b.jsonl", 1)),
    entries_missing_fields=1,
    missing_fields=(NamedCount("model", 1),),
    missing_field_refs=(LineRef("logs/b.jsonl", 9),),
    unpriced_models=(NamedCount("local|llm", 4),),
    other_events=3,
    other_event_types=(NamedCount("feedback", 3),),
    outside_day=0,
)


def group(name: str, requests: int, cost: float) -> GroupStats:
    return GroupStats(
        name=name,
        requests=requests,
        input_tokens=requests * 900,
        output_tokens=requests * 100,
        total_tokens=requests * 1000,
        cost_usd=cost,
        unpriced_requests=0,
        avg_latency_ms=1234.5,
        p95_latency_ms=2000.0,
        error_rate=0.125,
        timeout_rate=0.0,
    )


def report(**changes: object) -> Report:
    base = Report(
        day=DAY,
        first_day=DAY,
        last_day=DAY,
        totals=TOTALS,
        by_task_type=(group("summarize", 1000, 10.0), group("classify", 234, 2.3449)),
        by_model=(group("gpt|big", 1234, 12.3449),),
        previous_day=None,
        changes=None,
        optimisation=None,
        data_quality=QUALITY,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def section(markdown: str, heading: str) -> str:
    """Return the body of one ``## heading`` section."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : None if end < 0 else end].rstrip("\n")


def test_number_formats() -> None:
    assert format_count(1234567) == "1,234,567"
    assert format_usd(12.3449) == "$12.34"
    assert format_usd(1234.5) == "$1,234.50"
    assert format_usd(-0.5) == "-$0.50"
    assert format_usd(-0.001) == "$0.00"
    assert format_ms(850.4) == "850ms"
    assert format_ms(12_345.6) == "12,346ms"
    assert format_rate(30 / 1234) == "2.43%"


def test_markdown_header_and_totals() -> None:
    markdown = render_markdown(report())
    assert markdown.startswith(f"# {DEFAULT_TITLE}\n\n**Date**: 2026-11-26\n\n## Totals\n")
    assert DEFAULT_TITLE == "LLM Token Optimization — Daily Report"
    totals = section(markdown, "Totals")
    assert "- Requests: 1,234 (ok 1,200, errors 30, timeouts 4)" in totals
    assert (
        "- Tokens: 1,234,567 (input 1,000,000, output 234,567, cached input 10,000, reasoning 0)"
        in totals
    )
    assert "- Cost: $12.34 (excludes 4 unpriced requests)" in totals
    assert "- Average latency: 850ms (p50 800ms, p95 1,500ms, p99 2,100ms)" in totals
    assert "- Success rate: 97.24%" in totals  # 1200 / 1234
    assert "- Error rate: 2.43%" in totals  # 30 / 1234
    assert "- Timeout rate: 0.32%" in totals  # 4 / 1234


def test_markdown_sections_in_order() -> None:
    markdown = render_markdown(report())
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings == [
        f"# {DEFAULT_TITLE}",
        "## Totals",
        "## By task type",
        "## By model",
        "## Change against the previous day",
        "## Optimisation",
        "## Data quality",
    ]
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_title_is_parameterisable() -> None:
    assert render_markdown(report(), title="Nightly usage").startswith("# Nightly usage\n")


def test_group_tables_keep_report_order_and_escape_pipes() -> None:
    markdown = render_markdown(report())
    assert section(markdown, "By task type").splitlines()[2:] == [
        "| Task type | Requests | Tokens | Cost | Avg latency | p95 latency | Error rate |",
        "|---|---|---|---|---|---|---|",
        "| summarize | 1,000 | 1,000,000 | $10.00 | 1,234ms | 2,000ms | 12.50% |",
        "| classify | 234 | 234,000 | $2.34 | 1,234ms | 2,000ms | 12.50% |",
    ]
    assert "| gpt\\|big | 1,234 | 1,234,000 | $12.34 |" in section(markdown, "By model")


def test_changes_table() -> None:
    changes = (
        Change("requests", 1234, 1000, 234, 23.4),
        Change("cost_usd", 12.3449, 15.0, 12.3449 - 15.0, (12.3449 - 15.0) / 15.0 * 100),
        Change("avg_latency_ms", 850.4, None, None, None),
        Change("error_rate", 0.02, 0.015, 0.005, 0.005 / 0.015 * 100),
        Change("total_tokens", 5, 5, 0, 0.0),
    )
    markdown = render_markdown(report(changes=changes, previous_day=date(2026, 11, 25)))
    body = section(markdown, "Change against the previous day")
    assert "Compared with 2026-11-25." in body
    assert body.splitlines()[4:] == [
        "| Metric | Current | Previous | Change | Change % |",
        "|---|---|---|---|---|",
        "| Requests | 1,234 | 1,000 | +234 | +23.40% |",
        "| Cost | $12.34 | $15.00 | -$2.66 | -17.70% |",
        "| Average latency | 850ms | n/a | n/a | n/a |",
        "| Error rate | 2.00% | 1.50% | +0.50 pp | +33.33% |",
        "| Tokens | 5 | 5 | 0 | 0.00% |",
    ]


def test_optimisation_section() -> None:
    optimisation = Optimisation(
        tokens_per_request=1500.0,
        cost_per_request=0.02,
        covered_requests=1234,
        baseline_tokens=1234 * 1500.0,
        actual_tokens=1_234_567,
        tokens_saved=1234 * 1500.0 - 1_234_567,
        token_reduction_pct=(1234 * 1500 - 1_234_567) / (1234 * 1500) * 100,
        baseline_cost_usd=1230 * 0.02,
        actual_cost_usd=12.3449,
        cost_savings_usd=1230 * 0.02 - 12.3449,
        cost_savings_pct=(24.6 - 12.3449) / 24.6 * 100,
    )
    body = section(render_markdown(report(optimisation=optimisation)), "Optimisation")
    assert body.splitlines()[2:] == [
        "- Requests with a token baseline: 1,234",
        "- Baseline tokens: 1,851,000",
        "- Actual tokens: 1,234,567",
        "- Tokens saved: 616,433 (token reduction 33.30%)",
        "- Baseline cost: $24.60",
        "- Actual cost: $12.34",
        "- Savings: $12.26 (49.82%)",
    ]


def test_data_quality_section() -> None:
    body = section(render_markdown(report()), "Data quality")
    assert body.splitlines()[2:] == [
        "- Lines read: 1,300",
        "- Malformed lines: 25 — `logs/trace_2026-11-26.jsonl:7`, `logs/b.jsonl:1`, and 23 more",
        "- Entries with missing or invalid fields: 1 (model: 1) — `logs/b.jsonl:9`",
        "- Unpriced models: local|llm (4 requests) — not included in the cost",
        "- Other events: 3 (feedback: 3)",
        "- Entries outside the report day: 0",
    ]


def test_empty_report_says_no_requests() -> None:
    empty = report(totals=EMPTY_TOTALS, by_task_type=(), by_model=(), first_day=None, last_day=None)
    markdown = render_markdown(empty)
    assert "- Requests: 0 — no requests were recorded for this period." in markdown
    assert section(markdown, "By task type").endswith("No requests.")
    assert "No previous-day data given." in markdown
    assert "No baseline declared." in markdown
    data = json.loads(render_json(empty))
    assert data["totals"]["requests"] == 0
    assert data["totals"]["avg_latency_ms"] is None
    assert data["by_model"] == []


def test_date_label_without_day_filter() -> None:
    spread = report(day=None, first_day=date(2026, 11, 25), last_day=DAY)
    assert "**Date**: 2026-11-25 to 2026-11-26" in render_markdown(spread)
    nothing = report(day=None, first_day=None, last_day=None)
    assert "**Date**: all dates" in render_markdown(nothing)


def test_json_is_sorted_stable_and_complete() -> None:
    text = render_json(report())
    assert text == render_json(report())
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["totals"]) == sorted(data["totals"])
    assert data["day"] == "2026-11-26"
    assert data["totals"]["requests"] == 1234
    assert data["totals"]["cost_usd"] == 12.3449
    assert [row["name"] for row in data["by_task_type"]] == ["summarize", "classify"]
    assert data["data_quality"]["malformed_refs"][0] == {
        "path": "logs/trace_2026-11-26.jsonl",
        "line": 7,
    }
    assert data == report_to_dict(report())
    assert json.loads(render_json(report(), indent=None)) == data


def test_json_rounds_float_noise() -> None:
    noisy = report(totals=replace(TOTALS, cost_usd=0.1 + 0.2))
    assert json.loads(render_json(noisy))["totals"]["cost_usd"] == 0.3


def test_fixture_report_renders_hand_computed_values() -> None:
    fixture = build_report(
        [FIXTURES / "trace_2026-11-26.jsonl"],
        day=DAY,
        pricing=Pricing({"gpt-small": ModelPrice(input=1.0, output=2.0, cached_input=0.5)}),
        baseline=Baseline(tokens_per_request=1000, cost_per_request=0.02),
        previous_paths=[FIXTURES / "trace_2026-11-25.jsonl"],
    )
    markdown = render_markdown(fixture)
    # 5 requests; 3,800 + 870 tokens; $0.05 + $0.0027 + $0.001 + $0.01 = $0.0637.
    assert "- Requests: 5 (ok 3, errors 1, timeouts 1)" in markdown
    assert (
        "- Tokens: 4,670 (input 3,800, output 870, cached input 1,000, reasoning 100)" in markdown
    )
    assert (
        "- Cost: $0.06 (1 request priced from the pricing table; excludes 1 unpriced request)"
        in (markdown)
    )
    assert "- Average latency: 300ms" in markdown
    assert "| Requests | 5 | 2 | +3 | +150.00% |" in markdown
    assert "| Error rate | 20.00% | 50.00% | -30.00 pp | -60.00% |" in markdown
    # Baseline 2,000 + 4 x 1,000 = 6,000 tokens; (6,000 - 4,670) / 6,000 = 22.17%.
    assert "- Tokens saved: 1,330 (token reduction 22.17%)" in markdown
    # $0.08 baseline for 4 priced requests; (0.08 - 0.0637) / 0.08 is about 20.375%.
    savings_pct = (0.08 - (0.05 + 0.0027 + 0.001 + 0.01)) / 0.08 * 100
    assert f"- Savings: $0.02 ({savings_pct:.2f}%)" in markdown
    assert "- Malformed lines: 3 — " in markdown
    assert "- Other events: 2 (feedback: 1, span: 1)" in markdown
    assert render_markdown(fixture) == markdown
    assert render_json(fixture) == render_json(fixture)


@pytest.mark.parametrize("renderer", [render_markdown, render_json])
def test_output_depends_only_on_input(renderer: object) -> None:
    first = build_report([FIXTURES / "trace_2026-11-26.jsonl"], day=DAY)
    second = build_report([FIXTURES / "trace_2026-11-26.jsonl"], day=DAY)
    assert callable(renderer)
    assert renderer(first) == renderer(second)
