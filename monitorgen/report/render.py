"""Markdown and JSON rendering of a `Report`.

Both outputs depend only on the report: no clock, no environment.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import date

from monitorgen.report.aggregate import (
    Change,
    DataQuality,
    GroupStats,
    LineRef,
    NamedCount,
    Optimisation,
    Report,
    Totals,
)

DEFAULT_TITLE = "LLM Token Optimization — Daily Report"
JSON_FLOAT_DIGITS = 9

_Format = Callable[[float], str]


# --- number formatting ------------------------------------------------------


def format_count(value: float) -> str:
    """Format a count with thousands separators: ``1,234``."""
    return f"{round(value):,}"


def format_usd(value: float) -> str:
    """Format dollars with cents: ``$1,234.56``, ``-$0.50``."""
    cents = round(value, 2)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def format_ms(value: float) -> str:
    """Format a latency in whole milliseconds: ``1,250ms``."""
    return f"{value:,.0f}ms"


def format_rate(value: float) -> str:
    """Format a fraction as a percentage: ``0.0243`` -> ``2.43%``."""
    return f"{value * 100:.2f}%"


def format_pct(value: float) -> str:
    """Format a percentage value: ``12.5`` -> ``12.50%``."""
    return f"{value:.2f}%"


def _optional(value: float | None, fmt: _Format) -> str:
    return "n/a" if value is None else fmt(value)


def _signed(value: float | None, fmt: _Format) -> str:
    if value is None:
        return "n/a"
    text = fmt(value)
    if _is_zero(text):
        return text.lstrip("-")
    return text if text.startswith("-") else f"+{text}"


def _is_zero(text: str) -> bool:
    return not any(char in "123456789" for char in text)


def _plural(count: int, word: str) -> str:
    return f"{format_count(count)} {word}{'' if count == 1 else 's'}"


def _rate_points(value: float) -> str:
    return f"{value * 100:.2f} pp"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def _section(heading: str, body: str) -> str:
    return f"## {heading}\n\n{body}"


# --- sections ---------------------------------------------------------------


def _date_label(report: Report) -> str:
    if report.day is not None:
        return report.day.isoformat()
    if report.first_day is None or report.last_day is None:
        return "all dates"
    if report.first_day == report.last_day:
        return report.first_day.isoformat()
    return f"{report.first_day.isoformat()} to {report.last_day.isoformat()}"


def _totals(totals: Totals) -> str:
    if not totals.requests:
        return _section("Totals", "- Requests: 0 — no requests were recorded for this period.")
    lines = [
        f"- Requests: {format_count(totals.requests)} (ok {format_count(totals.ok)}, "
        f"errors {format_count(totals.errors)}, timeouts {format_count(totals.timeouts)})",
        f"- Tokens: {format_count(totals.total_tokens)} "
        f"(input {format_count(totals.input_tokens)}, output {format_count(totals.output_tokens)}, "
        f"cached input {format_count(totals.cached_input_tokens)}, "
        f"reasoning {format_count(totals.reasoning_tokens)})",
        f"- Cost: {format_usd(totals.cost_usd)}" + _cost_note(totals),
        f"- Average latency: {_optional(totals.avg_latency_ms, format_ms)} "
        f"(p50 {_optional(totals.p50_latency_ms, format_ms)}, "
        f"p95 {_optional(totals.p95_latency_ms, format_ms)}, "
        f"p99 {_optional(totals.p99_latency_ms, format_ms)})",
        f"- Success rate: {_optional(totals.success_rate, format_rate)}",
        f"- Error rate: {_optional(totals.error_rate, format_rate)}",
        f"- Timeout rate: {_optional(totals.timeout_rate, format_rate)}",
    ]
    return _section("Totals", "\n".join(lines))


def _cost_note(totals: Totals) -> str:
    notes = []
    if totals.computed_cost_requests:
        computed = _plural(totals.computed_cost_requests, "request")
        notes.append(f"{computed} priced from the pricing table")
    if totals.unpriced_requests:
        notes.append(f"excludes {_plural(totals.unpriced_requests, 'unpriced request')}")
    return f" ({'; '.join(notes)})" if notes else ""


def _group_table(heading: str, label: str, groups: Sequence[GroupStats]) -> str:
    if not groups:
        return _section(heading, "No requests.")
    header = (label, "Requests", "Tokens", "Cost", "Avg latency", "p95 latency", "Error rate")
    rows = [
        (
            group.name,
            format_count(group.requests),
            format_count(group.total_tokens),
            format_usd(group.cost_usd),
            format_ms(group.avg_latency_ms),
            format_ms(group.p95_latency_ms),
            format_rate(group.error_rate),
        )
        for group in groups
    ]
    return _section(heading, _table(header, rows))


_CHANGE_LABELS: dict[str, tuple[str, _Format, _Format]] = {
    "requests": ("Requests", format_count, format_count),
    "input_tokens": ("Input tokens", format_count, format_count),
    "output_tokens": ("Output tokens", format_count, format_count),
    "total_tokens": ("Tokens", format_count, format_count),
    "cost_usd": ("Cost", format_usd, format_usd),
    "avg_latency_ms": ("Average latency", format_ms, format_ms),
    "p50_latency_ms": ("p50 latency", format_ms, format_ms),
    "p95_latency_ms": ("p95 latency", format_ms, format_ms),
    "p99_latency_ms": ("p99 latency", format_ms, format_ms),
    "success_rate": ("Success rate", format_rate, _rate_points),
    "error_rate": ("Error rate", format_rate, _rate_points),
    "timeout_rate": ("Timeout rate", format_rate, _rate_points),
}


def _change_row(change: Change) -> tuple[str, ...]:
    label, fmt, delta_fmt = _CHANGE_LABELS.get(change.metric, (change.metric, str, str))
    return (
        label,
        _optional(change.current, fmt),
        _optional(change.previous, fmt),
        _signed(change.delta, delta_fmt),
        _signed(change.delta_pct, format_pct),
    )


def _changes(report: Report) -> str:
    heading = "Change against the previous day"
    if report.changes is None:
        return _section(heading, "No previous-day data given.")
    intro = f"Compared with {report.previous_day.isoformat()}.\n\n" if report.previous_day else ""
    header = ("Metric", "Current", "Previous", "Change", "Change %")
    return _section(heading, intro + _table(header, [_change_row(c) for c in report.changes]))


def _optimisation(optimisation: Optimisation | None) -> str:
    heading = "Optimisation"
    if optimisation is None:
        return _section(heading, "No baseline declared.")
    lines = [
        f"- Requests with a token baseline: {format_count(optimisation.covered_requests)}",
        f"- Baseline tokens: {format_count(optimisation.baseline_tokens)}",
        f"- Actual tokens: {format_count(optimisation.actual_tokens)}",
        f"- Tokens saved: {format_count(optimisation.tokens_saved)} "
        f"(token reduction {_optional(optimisation.token_reduction_pct, format_pct)})",
    ]
    if optimisation.baseline_cost_usd is not None and optimisation.actual_cost_usd is not None:
        lines += [
            f"- Baseline cost: {format_usd(optimisation.baseline_cost_usd)}",
            f"- Actual cost: {format_usd(optimisation.actual_cost_usd)}",
            f"- Savings: {_optional(optimisation.cost_savings_usd, format_usd)} "
            f"({_optional(optimisation.cost_savings_pct, format_pct)})",
        ]
    return _section(heading, "\n".join(lines))


def _refs(refs: Sequence[LineRef], total: int) -> str:
    if not refs:
        return ""
    shown = ", ".join(f"`{ref.path}:{ref.line}`" for ref in refs)
    more = f", and {format_count(total - len(refs))} more" if total > len(refs) else ""
    return f" — {shown}{more}"


def _named(counts: Sequence[NamedCount]) -> str:
    if not counts:
        return ""
    return " (" + ", ".join(f"{c.name}: {format_count(c.count)}" for c in counts) + ")"


def _unpriced(models: Sequence[NamedCount]) -> str:
    if not models:
        return "none"
    listed = ", ".join(f"{m.name} ({_plural(m.count, 'request')})" for m in models)
    return f"{listed} — not included in the cost"


def _data_quality(quality: DataQuality) -> str:
    lines = [
        f"- Lines read: {format_count(quality.lines)}",
        f"- Malformed lines: {format_count(quality.malformed_lines)}"
        + _refs(quality.malformed_refs, quality.malformed_lines),
        f"- Entries with missing or invalid fields: {format_count(quality.entries_missing_fields)}"
        + _named(quality.missing_fields)
        + _refs(quality.missing_field_refs, quality.entries_missing_fields),
        f"- Unpriced models: {_unpriced(quality.unpriced_models)}",
        f"- Other events: {format_count(quality.other_events)}" + _named(quality.other_event_types),
        f"- Entries outside the report day: {format_count(quality.outside_day)}",
    ]
    return _section("Data quality", "\n".join(lines))


# --- public -----------------------------------------------------------------


def render_markdown(report: Report, *, title: str = DEFAULT_TITLE) -> str:
    """Render the report as Markdown."""
    sections = [
        f"# {title}",
        f"**Date**: {_date_label(report)}",
        _totals(report.totals),
        _group_table("By task type", "Task type", report.by_task_type),
        _group_table("By model", "Model", report.by_model),
        _changes(report),
        _optimisation(report.optimisation),
        _data_quality(report.data_quality),
    ]
    return "\n\n".join(sections) + "\n"


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, JSON_FLOAT_DIGITS)
    return value


def report_to_dict(report: Report) -> dict[str, object]:
    """Return the report as JSON-ready data (floats rounded to 9 decimals)."""
    plain = _plain(dataclasses.asdict(report))
    assert isinstance(plain, dict)
    return plain


def render_json(report: Report, *, indent: int | None = 2) -> str:
    """Render the report as JSON with sorted keys."""
    text = json.dumps(report_to_dict(report), sort_keys=True, indent=indent, ensure_ascii=False)
    return text + "\n"
