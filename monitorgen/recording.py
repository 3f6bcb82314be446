"""Recording rules that keep dashboards and ad-hoc queries cheap.

Named `level:metric:operations` (https://prometheus.io/docs/practices/rules/):
the level lists the labels kept, the metric drops `_total` once rated, and the
operations read newest first. For each declared metric the spec queries:

* counters: one rate per second, `sum by (job, <labels the spec uses>)`, so a
  panel can filter and re-aggregate it without touching the raw series;
* histograms: the same for `_bucket` (keeping `le`), `_count` and `_sum`, plus each
  quantile a panel or alert shows, computed from the recorded buckets;
* rates a query scales to per minute/hour/day (cost per hour), and increases over
  an explicit window (cost over the last hour or day).

Alerts keep their own expressions: they read as the spec states them, need no
rule-evaluation order, and stay testable on raw series.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

from monitorgen.immutable import immutable
from monitorgen.model import (
    LatencySli,
    Metric,
    MetricType,
    Query,
    QueryFunction,
    RatioSli,
    Spec,
)
from monitorgen.promql import (
    PromQL,
    aggregation,
    binary,
    emit,
    format_duration,
    format_number,
    histogram_quantile,
    number,
    range_function,
    seconds,
    selector_expr,
)
from monitorgen.rule_set import Field, Rule

DEFAULT_WINDOW = "5m"
#: Scale factors that turn a per-second rate into a rate per unit of time.
PER_UNIT = {60.0: "minute", 3600.0: "hour", 86400.0: "day"}


@immutable
class QueryUse:
    """A structured query on a metric, with the window it really uses."""

    query: Query
    window: str
    variables: tuple[str, ...] = ()


def generated_recording_rules(spec: Spec) -> tuple[Rule, ...]:
    uses = _uses_by_metric(spec)
    rules: dict[tuple[str, str], Rule] = {}
    for metric in spec.metrics:
        if metric.name not in uses:
            continue
        for rule in _metric_rules(spec, metric, uses[metric.name]):
            rules.setdefault((rule.record or "", rule.expr), rule)
    return tuple(rules.values())


def rate_window(spec: Spec) -> str:
    """5m, or four scrapes when the scrape interval is long."""
    four_scrapes = 4 * seconds(spec.prometheus.scrape_interval)
    if four_scrapes <= seconds(DEFAULT_WINDOW):
        return DEFAULT_WINDOW
    return format_duration(timedelta(seconds=four_scrapes))


def _uses_by_metric(spec: Spec) -> dict[str, list[QueryUse]]:
    uses: dict[str, list[QueryUse]] = {}
    for use in _query_uses(spec):
        uses.setdefault(use.query.metric, []).append(use)
    return uses


def _query_uses(spec: Spec) -> Iterator[QueryUse]:
    default = rate_window(spec)
    for alert in spec.alerts:
        if alert.query:
            yield QueryUse(alert.query, alert.query.window)
    for rule in spec.recording_rules:
        if rule.query:
            yield QueryUse(rule.query, rule.query.window)
    for dashboard in spec.dashboards:
        variables = tuple(v.name for v in dashboard.variables)
        for panel in dashboard.panels():
            for panel_query in panel.queries:
                query = panel_query.query
                if query:
                    window = query.window if panel_query.explicit_window else default
                    if panel_query.distribution:  # bucket rates: no quantile to record
                        query = replace(query, function=QueryFunction.RATE)
                    yield QueryUse(query, window, variables)
    for slo in spec.slos:
        yield from _slo_uses(slo.sli, slo.by, default)


def _slo_uses(sli: object, by: tuple[str, ...], window: str) -> Iterator[QueryUse]:
    if isinstance(sli, RatioSli):
        for part in (sli.errors, sli.total):
            yield QueryUse(Query(part.metric, QueryFunction.RATE, by=by, where=part.where), window)
    elif isinstance(sli, LatencySli):
        yield QueryUse(Query(sli.metric, QueryFunction.RATE, by=by, where=sli.where), window)


def _used_labels(metric: Metric, uses: list[QueryUse]) -> tuple[str, ...]:
    """The metric's labels any query groups or filters by, in declaration order."""
    wanted: set[str] = set()
    for use in uses:
        wanted.update(use.query.by)
        wanted.update(m.label for m in (*use.query.where, *use.query.total_where))
        wanted.update(use.variables)
    return tuple(name for name in metric.label_names if name in wanted)


def _level(labels: tuple[str, ...]) -> str:
    return "_".join(("job", *labels))


def _sum(labels: tuple[str, ...], inner: PromQL) -> PromQL:
    return aggregation("sum", ("job", *labels), inner)


def _rate(function: str, series: str, window: str) -> PromQL:
    return range_function(function, selector_expr(series), window)


def _record(metric: Metric, name: str, expr: PromQL, labels: tuple[Field, ...] = ()) -> Rule:
    return Rule(
        expr=emit(expr), path=metric.path, expr_path=metric.path, record=name, labels=labels
    )


def _base_name(metric: Metric) -> str:
    return metric.name.removesuffix("_total")


def _metric_rules(spec: Spec, metric: Metric, uses: list[QueryUse]) -> Iterator[Rule]:
    labels = _used_labels(metric, uses)
    window = rate_window(spec)
    if metric.type is MetricType.COUNTER:
        yield _counter_rate(metric, labels, window)
        yield from _scaled_rates(metric, uses)
        yield from _increases(metric, uses)
    elif metric.type is MetricType.HISTOGRAM:
        yield from _histogram_rates(metric, labels, _histogram_windows(uses, window))
        yield from _quantiles(metric, labels, uses)


def _counter_rate(metric: Metric, labels: tuple[str, ...], window: str) -> Rule:
    name = f"{_level(labels)}:{_base_name(metric)}:rate{window}"
    return _record(metric, name, _sum(labels, _rate("rate", metric.name, window)))


def _aggregate_only(use: QueryUse) -> bool:
    """Queries without filters: their recording serves every panel showing them."""
    return not use.query.where and not use.query.total_where


def _scaled_rates(metric: Metric, uses: list[QueryUse]) -> Iterator[Rule]:
    for use in uses:
        query = use.query
        unit = PER_UNIT.get(float(query.scale or 0))
        if query.function is not QueryFunction.RATE or unit is None or not _aggregate_only(use):
            continue
        name = f"{_level(query.by)}:{_base_name(metric)}_per_{unit}:rate{use.window}"
        rate = _sum(query.by, _rate("rate", metric.name, use.window))
        yield _record(metric, name, binary(rate, "*", number(format_number(query.scale or 0))))


def _increases(metric: Metric, uses: list[QueryUse]) -> Iterator[Rule]:
    for use in uses:
        if use.query.function is not QueryFunction.INCREASE or not _aggregate_only(use):
            continue
        name = f"{_level(use.query.by)}:{_base_name(metric)}:increase{use.window}"
        expr = _sum(use.query.by, _rate("increase", metric.name, use.window))
        yield _record(metric, name, expr)


def _histogram_windows(uses: list[QueryUse], default: str) -> tuple[str, ...]:
    found = {default} | {u.window for u in uses if u.query.function is QueryFunction.QUANTILE}
    return tuple(sorted(found, key=seconds))


def bucket_record(metric: Metric, labels: tuple[str, ...], window: str) -> str:
    return f"{_level((*labels, 'le'))}:{metric.name}_bucket:rate{window}"


def _histogram_rates(
    metric: Metric, labels: tuple[str, ...], windows: tuple[str, ...]
) -> Iterator[Rule]:
    for window in windows:
        bucket_rate = _rate("rate", f"{metric.name}_bucket", window)
        yield _record(
            metric, bucket_record(metric, labels, window), _sum((*labels, "le"), bucket_rate)
        )
        for part in ("count", "sum"):
            series = f"{metric.name}_{part}"
            name = f"{_level(labels)}:{series}:rate{window}"
            yield _record(metric, name, _sum(labels, _rate("rate", series, window)))


def _quantiles(metric: Metric, labels: tuple[str, ...], uses: list[QueryUse]) -> Iterator[Rule]:
    for use in uses:
        query = use.query
        if query.function is not QueryFunction.QUANTILE or not _aggregate_only(use):
            continue
        if query.scale is not None:
            continue
        by = tuple(b for b in query.by if b != "le")
        source = bucket_record(metric, labels, use.window)
        inner = _sum((*by, "le"), selector_expr(source))
        quantile = format_number(query.quantile)
        name = f"{_level((*by, 'quantile'))}:{metric.name}:histogram_quantile_rate{use.window}"
        yield _record(
            metric,
            name,
            histogram_quantile(quantile, inner),
            (Field("quantile", quantile, metric.path),),
        )
