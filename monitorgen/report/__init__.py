"""Daily report over LLM trace logs: streaming aggregation and rendering.

Typical use::

    report = build_report([Path("logs/trace_2026-11-26.jsonl")], day=date(2026, 11, 26))
    print(render_markdown(report))
"""

from monitorgen.model import LLM_CALL
from monitorgen.report.aggregate import (
    MAX_LINE_REFS,
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
    TraceCall,
    build_report,
    parse_llm_call,
    read_trace_lines,
)
from monitorgen.report.quantiles import LatencySketch
from monitorgen.report.render import (
    DEFAULT_TITLE,
    render_json,
    render_markdown,
    report_to_dict,
)

__all__ = [
    "DEFAULT_TITLE",
    "LLM_CALL",
    "MAX_LINE_REFS",
    "Baseline",
    "Change",
    "DataQuality",
    "GroupStats",
    "LatencySketch",
    "LineRef",
    "ModelPrice",
    "NamedCount",
    "Optimisation",
    "Pricing",
    "Report",
    "Totals",
    "TraceCall",
    "build_report",
    "parse_llm_call",
    "read_trace_lines",
    "render_json",
    "render_markdown",
    "report_to_dict",
]
