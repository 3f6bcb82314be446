"""Every PromQL expression parses, uses only known series and labels, and uses
counters only inside rate() or increase()."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.immutable import immutable
from monitorgen.model import (
    OTHER_LABEL_VALUE,
    WINDOW_PLACEHOLDER,
    MetricType,
    Path,
    RawSli,
    Spec,
)
from monitorgen.promql import (
    ANY_VARIABLE_VALUE,
    PromQLError,
    SelectorUse,
    expand_grafana,
    inspect,
)
from monitorgen.promql_labels import always_compares

#: Series Prometheus itself makes for every rule file and scrape.
BUILTIN_SERIES = frozenset(
    {
        "ALERTS",
        "ALERTS_FOR_STATE",
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_series_added",
    }
)
#: Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance", "__name__"})
#: `> bool 10`: a comparison that keeps every series, as 0 or 1.
_BOOL_COMPARISON = re.compile(r"(?:[<>]=?|[!=]=)\s*bool\b")


@immutable
class Expression:
    """One PromQL text found in a spec, where it came from, and whether it must compare."""

    text: str
    path: Path
    is_alert: bool = False
    structured: bool = False
    """Compiled from a structured query, whose metric, labels and function
    `references.check_query` already checks against the spec."""
    written: str | None = None
    """The text as the spec writes it, when `text` is another (a dashboard query's, with
    Grafana's variables filled in so that it parses)."""


def expressions(spec: Spec) -> tuple[Expression, ...]:
    """Every PromQL expression of the spec, as the targets will emit it; listed once
    per spec for the checks and lint that go through them all."""
    return spec.derived("semantic.expressions", lambda: tuple(_expressions(spec)))


def _expressions(spec: Spec) -> Iterator[Expression]:
    for alert in spec.alerts:
        key = "condition" if alert.query else "expr"
        yield Expression(
            alert.expr, (*alert.path, key), is_alert=True, structured=alert.query is not None
        )
    for rule in spec.recording_rules:
        key = "query" if rule.query else "expr"
        yield Expression(rule.expr, (*rule.path, key), structured=rule.query is not None)
    for dashboard in spec.dashboards:
        for panel in dashboard.panels():
            for index, query in enumerate(panel.queries):
                structured = query.query is not None
                where = (*panel.path, "queries", index)
                yield Expression(
                    expand_grafana(query.expr),
                    where if structured else (*where, "expr"),
                    structured=structured,
                    written=query.expr,
                )
    for slo in spec.slos:
        if isinstance(slo.sli, RawSli):
            text = slo.sli.error_ratio_query.replace(WINDOW_PLACEHOLDER, "5m")
            yield Expression(text, (*slo.path, "sli", "raw", "error_ratio_query"))


def find_facts(spec: Spec) -> None:
    """Find the facts of every expression of the spec now (`inspect` remembers them):
    a lint child forked after this shares them instead of finding them again."""
    for expr in expressions(spec):
        with contextlib.suppress(PromQLError):
            inspect(expr.text)


def check(spec: Spec) -> Iterator[Diagnostic]:
    known = known_series(spec)
    for expr in expressions(spec):
        try:
            facts = inspect(expr.text)
        except PromQLError as exc:
            yield Diagnostic(
                "promql/syntax",
                f"PromQL does not parse: {exc}{_likely_cause(expr.text)}",
                path=expr.path,
                hint=f"expression: {expr.written or expr.text}",
            )
            continue
        if not expr.structured:
            for use in facts.selectors:
                yield from _selector(spec, use, known, expr.path)
        if expr.is_alert and not facts.top_is_comparison and not always_compares(expr.text):
            filters_nothing = _BOOL_COMPARISON.search(expr.text) is not None
            yield Diagnostic(
                "promql/alert-comparison",
                "this alert's `bool` comparison returns 0 or 1 for every series instead of "
                "keeping those that pass, so it fires for every series"
                if filters_nothing
                else "this alert has no comparison, so it fires for every series the "
                "expression returns",
                path=expr.path,
                severity=Severity.WARNING,
                hint="drop `bool`"
                if filters_nothing
                else "end the expression with a threshold such as > 0.05",
            )


#: `sum by code (...)`: the grouping labels written without their brackets.
_BARE_GROUPING = re.compile(r"\b(by|without)\s+([a-zA-Z_][a-zA-Z0-9_]*)\s*\(")


def _likely_cause(text: str) -> str:
    """What the parser's terse message most likely means, for mistakes it does not name."""
    bare = _BARE_GROUPING.search(text)
    if bare:
        return f" ({bare[1]} takes its labels in brackets: {bare[1]} ({bare[2]}))"
    return ""


#: Values an `=` matcher may hold besides the declared ones: empty (the label is
#: missing) and a dashboard variable.
_ANY = ("", ANY_VARIABLE_VALUE, OTHER_LABEL_VALUE)


def known_series(spec: Spec) -> frozenset[str]:
    names = {series for metric in spec.metrics for series in metric.series_names()}
    names.update(rule.record for rule in spec.recording_rules)
    names.update(spec.external_metrics)
    return frozenset(names | BUILTIN_SERIES)


def _selector(
    spec: Spec, use: SelectorUse, known: frozenset[str], path: Path
) -> Iterator[Diagnostic]:
    if use.name is None:
        return
    if use.name not in known and not use.name.startswith("slo:"):
        yield Diagnostic(
            "promql/unknown-metric",
            f"metric '{use.name}' is not declared in metrics, recording_rules or external_metrics",
            path=path,
            hint="declare it, or list it under external_metrics if another exporter makes it",
        )
        return
    metric = spec.metric_for_series(use.name)
    if metric is None:
        return
    counter_like = metric.type is MetricType.COUNTER or use.name.endswith(
        ("_bucket", "_count", "_sum")
    )
    if counter_like and not use.in_counter_function:
        yield Diagnostic(
            "promql/counter-outside-rate",
            f"'{use.name}' is a counter: its raw value only grows and resets on restart, so use "
            "it inside rate() or increase()",
            path=path,
        )
    allowed = set(metric.label_names) | TARGET_LABELS
    if use.name.endswith("_bucket"):
        allowed.add("le")
    if metric.type is MetricType.SUMMARY and use.name == metric.name:
        allowed.add("quantile")  # the client library's label of each quantile series
    declared = {x.name: x.values for x in metric.labels if x.values}
    for label, op, value in use.labels:
        if label == "quantile" and "quantile" in allowed:
            yield Diagnostic(
                "promql/summary-quantile",
                f"'{use.name}' is a summary, and the generated Python module records it "
                "with prometheus_client, which exposes only its _sum and _count: no "
                "series has a 'quantile' label unless another client records it",
                path=path,
                severity=Severity.WARNING,
                hint="declare a histogram and query histogram_quantile(), or read "
                "rate(_sum) / rate(_count) for the mean",
            )
        elif label not in allowed:
            yield Diagnostic(
                "promql/unknown-label",
                f"'{use.name}' has no label '{label}' "
                f"(labels: {', '.join(sorted(metric.label_names))})",
                path=path,
            )
        elif op == "=" and label in declared and value not in (*declared[label], *_ANY):
            yield Diagnostic(
                "references/label-value",
                f"'{value}' is not an allowed value of {metric.name}'s label '{label}' "
                f"({', '.join(declared[label])}, or '{OTHER_LABEL_VALUE}' for any other): "
                "the selector never matches",
                path=path,
                severity=Severity.WARNING,
            )
