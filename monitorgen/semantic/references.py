"""Every name a spec refers to exists: receivers, time intervals, alerts, panels, labels."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import (
    OTHER_LABEL_VALUE,
    WINDOW_PLACEHOLDER,
    Alert,
    Comparison,
    Label,
    LatencySli,
    Matcher,
    MetricType,
    Path,
    Query,
    QueryFunction,
    RatioSli,
    Route,
    Spec,
    Variable,
)


def _unknown(kind: str, name: str, known: Iterable[str], path: Path) -> Diagnostic:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else None
    listing = ", ".join(known) if known else "none declared"
    return Diagnostic(
        f"references/unknown-{kind.replace(' ', '-')}",
        f"unknown {kind} '{name}' (declared: {listing})",
        path=path,
        hint=hint,
    )


def check(spec: Spec) -> Iterator[Diagnostic]:
    yield from _routing(spec)
    yield from _structured_queries(spec)
    yield from _alert_links(spec)
    yield from _slos(spec)


def _routing(spec: Spec) -> Iterator[Diagnostic]:
    if spec.routing is None:
        return
    receivers = {r.name for r in spec.receivers}
    intervals = {t.name for t in spec.routing.time_intervals}
    for route in _walk(spec.routing.root):
        if route.receiver is not None and route.receiver not in receivers:
            yield _unknown("receiver", route.receiver, receivers, (*route.path, "receiver"))
        for key, names in (
            ("mute_time_intervals", route.mute_time_intervals),
            ("active_time_intervals", route.active_time_intervals),
        ):
            for index, name in enumerate(names):
                if name not in intervals:
                    yield _unknown("time interval", name, intervals, (*route.path, key, index))
    for test in spec.routing.tests:
        for index, name in enumerate(test.receivers):
            if name not in receivers:
                yield _unknown("receiver", name, receivers, (*test.path, "receivers", index))


def _walk(route: Route) -> Iterator[Route]:
    yield route
    for child in route.routes:
        yield from _walk(child)


def _structured_queries(spec: Spec) -> Iterator[Diagnostic]:
    for alert in spec.alerts:
        if alert.query:
            yield from check_query(spec, alert.query, (*alert.path, "condition"))
            yield from _reachable_share(alert)
            yield from _reachable_quantile(spec, alert)
            yield from _never_negative(alert)
    for rule in spec.recording_rules:
        if rule.query:
            yield from check_query(spec, rule.query, (*rule.path, "query"))
    for dashboard in spec.dashboards:
        for panel in dashboard.panels():
            for index, query in enumerate(panel.queries):
                if query.query:
                    yield from check_query(spec, query.query, (*panel.path, "queries", index))
        for index, variable in enumerate(dashboard.variables):
            yield from _variable_source(spec, variable, (*dashboard.path, "variables", index))


def _variable_source(spec: Spec, variable: Variable, path: Path) -> Iterator[Diagnostic]:
    """A variable lists the values of its label on a metric that has it: otherwise its
    dropdown stays empty."""
    if not variable.metric:
        yield Diagnostic(
            "references/unknown-label",
            f"no declared metric has label '{variable.name}' for this variable",
            path=path,
        )
        return
    metric = spec.metric_for_series(variable.metric)
    if metric is None:
        if variable.metric not in spec.external_metrics:
            names = [m.name for m in spec.metrics]
            yield _unknown("metric", variable.metric, names, (*path, "metric"))
        return
    if variable.name not in metric.label_names and variable.name not in SCRAPE_LABELS:
        yield _unknown_label(variable.name, metric.name, metric.label_names, (*path, "name"))


def check_query(spec: Spec, query: Query, path: Path) -> Iterator[Diagnostic]:
    metric = spec.metric(query.metric)
    if metric is None and query.metric in spec.external_metrics:
        yield Diagnostic(
            "references/external-metric",
            f"'{query.metric}' is an external metric: a structured query needs a metric the "
            "spec declares, whose type and labels tell how to query it",
            path=(*path, "metric"),
            hint="write the PromQL in `expr` (a panel query's or a recording rule's too)",
        )
        return
    if metric is None:
        yield _unknown("metric", query.metric, [m.name for m in spec.metrics], (*path, "metric"))
        return
    labels = _labels_by_metric(spec)[metric.name]
    for index, label in enumerate(query.by):
        if label not in labels and label not in SCRAPE_LABELS:
            yield _unknown_label(label, metric.name, labels, (*path, "by", index))
    for key, matchers in (("where", query.where), ("total_where", query.total_where)):
        if matchers:
            yield from _check_matchers(spec, metric.name, matchers, (*path, key))
    kind = metric.type
    fn = query.function
    if fn is QueryFunction.QUANTILE and kind is not MetricType.HISTOGRAM:
        yield Diagnostic(
            "references/function",
            f"quantile needs a histogram; '{metric.name}' is a {kind.value}",
            path=(*path, "function"),
        )
    counter_like = kind in (MetricType.COUNTER, MetricType.HISTOGRAM, MetricType.SUMMARY)
    if fn in (QueryFunction.RATE, QueryFunction.INCREASE, QueryFunction.RATIO) and not counter_like:
        yield Diagnostic(
            "references/function",
            f"{fn.value} needs a counter; '{metric.name}' is a gauge (use value or avg_over_time)",
            path=(*path, "function"),
        )
    if (
        fn
        in (
            QueryFunction.VALUE,
            QueryFunction.AVG_OVER_TIME,
            QueryFunction.MAX_OVER_TIME,
            QueryFunction.MIN_OVER_TIME,
        )
        and counter_like
    ):
        yield Diagnostic(
            "promql/counter-outside-rate",
            f"'{metric.name}' is a {kind.value}: its raw value only grows and resets on restart, "
            "so it is only meaningful inside rate() or increase()",
            path=(*path, "function"),
            hint="use function: rate, increase or ratio",
        )
    if fn is QueryFunction.RATIO and not query.where:
        yield Diagnostic(
            "references/function",
            "a ratio needs 'where' to select the part of the total it measures",
            path=path,
        )
    if fn is QueryFunction.RATIO:
        yield from _part_of_total(query.where, query.total_where, (*path, "where"))
        yield from _split_by_the_part(query, path)
    yield from _unused_fields(query, path)


def _split_by_the_part(query: Query, path: Path) -> Iterator[Diagnostic]:
    """A ratio grouped by a label its `where` selects divides each group by itself:
    every group's share is 1 or 0."""
    selected = {m.label for m in query.where}
    for index, label in enumerate(query.by):
        if label in selected:
            yield Diagnostic(
                "references/ratio-split-by-part",
                f"the ratio is grouped by '{label}', which its where selects: each "
                f"{label} is divided by itself, so every share is 1 or 0",
                path=(*path, "by", index),
                severity=Severity.WARNING,
                hint=f"drop '{label}' from by: the share of {label} values is the ratio",
            )


#: Fields a function does not read, and why; a field the spec sets there is a mistake
#: (the query computes something else than it reads as) unless only harmless.
_UNUSED_BY: dict[str, tuple[frozenset[QueryFunction], str, Severity]] = {
    "quantile": (
        frozenset(QueryFunction) - {QueryFunction.QUANTILE},
        "only function: quantile reads it",
        Severity.ERROR,
    ),
    "total_where": (
        frozenset(QueryFunction) - {QueryFunction.RATIO},
        "only function: ratio has a total to filter",
        Severity.ERROR,
    ),
    "aggregation": (
        frozenset({QueryFunction.QUANTILE, QueryFunction.RATIO}),
        "a quantile and a ratio always sum their counters before dividing",
        Severity.ERROR,
    ),
    "window": (
        frozenset({QueryFunction.VALUE}),
        "function: value reads the latest sample, over no window",
        Severity.WARNING,
    ),
}


def _unused_fields(query: Query, path: Path) -> Iterator[Diagnostic]:
    """A field the query's function ignores: `quantile: 0.99` on a rate, a `total_where`
    outside a ratio. The query would compile without it, to something else than it says."""
    for key in sorted(query.written & _UNUSED_BY.keys()):
        functions, reason, severity = _UNUSED_BY[key]
        if query.function in functions:
            yield Diagnostic(
                "references/unused-field",
                f"'{key}' has no effect on function: {query.function.value} ({reason})",
                path=(*path, key),
                severity=severity,
                hint=f"remove '{key}', or set the function that uses it",
            )


#: Labels Prometheus gives every series it scrapes, which queries may group and filter by.
SCRAPE_LABELS = frozenset({"job", "instance"})


def _reachable_share(alert: Alert) -> Iterator[Diagnostic]:
    """A ratio is a share between 0 and 1: a threshold outside never fires."""
    query, threshold = alert.query, alert.threshold
    if query is None or threshold is None or query.function is not QueryFunction.RATIO:
        return
    if query.scale is not None:
        return
    above = threshold.comparison is Comparison.ABOVE
    if (above and threshold.value >= 1) or (not above and threshold.value <= 0):
        yield Diagnostic(
            "references/unreachable-threshold",
            f"a ratio lies between 0 and 1, so it is never "
            f"{'above' if above else 'below'} {threshold.text}: the alert never fires",
            path=(*alert.path, "condition", "above" if above else "below"),
            severity=Severity.WARNING,
            hint="write the share as a fraction (0.05 for 5%), or scale: 100 for percent",
        )


#: Functions whose result is never negative (a counter only grows; a quantile of
#: durations or sizes starts at 0 with the first bucket).
_NON_NEGATIVE = frozenset(
    {QueryFunction.RATE, QueryFunction.INCREASE, QueryFunction.RATIO, QueryFunction.QUANTILE}
)


def _never_negative(alert: Alert) -> Iterator[Diagnostic]:
    """A rate, an increase, a share or a quantile is never negative: `below: 0` never
    fires and `above: -1` always does."""
    query, threshold = alert.query, alert.threshold
    if query is None or threshold is None or query.function not in _NON_NEGATIVE:
        return
    if (query.scale or 1) < 0:
        return
    above = threshold.comparison is Comparison.ABOVE
    counted = query.function in (QueryFunction.RATE, QueryFunction.INCREASE)
    if above and threshold.value < 0:
        verdict = "so every series is above it: the alert always fires"
    elif not above and threshold.value <= 0 and counted:  # the others: checks above
        verdict = "so it is never below it: the alert never fires"
    else:
        return
    yield Diagnostic(
        "references/unreachable-threshold",
        f"a {query.function.value} is never negative, {verdict}",
        path=(*alert.path, "condition", "above" if above else "below"),
        severity=Severity.WARNING,
    )


def _reachable_quantile(spec: Spec, alert: Alert) -> Iterator[Diagnostic]:
    """`histogram_quantile` interpolates inside the buckets: it never returns more than
    the highest finite bound (where the +Inf bucket's observations are put) nor less
    than 0, so a threshold beyond those never fires."""
    query, threshold = alert.query, alert.threshold
    if query is None or threshold is None or query.function is not QueryFunction.QUANTILE:
        return
    metric = spec.metric(query.metric)
    if metric is None or metric.type is not MetricType.HISTOGRAM or not metric.buckets:
        return
    scale = query.scale if query.scale is not None else 1.0
    top = max(metric.buckets) * scale
    above = threshold.comparison is Comparison.ABOVE
    if above and threshold.value >= top:
        reason = f"{top:g}, its highest bucket bound" + (" scaled" if query.scale else "")
    elif not above and threshold.value <= 0:
        reason = "0"
    else:
        return
    yield Diagnostic(
        "references/unreachable-threshold",
        f"a quantile of {metric.name} is never {'above' if above else 'below'} {reason}: "
        "the alert never fires",
        path=(*alert.path, "condition", "above" if above else "below"),
        severity=Severity.WARNING,
        hint=f"add a bucket above {threshold.text} to {metric.name}" if above else None,
    )


def _unknown_label(label: str, metric: str, labels: Iterable[str], path: Path) -> Diagnostic:
    found = _unknown("label", label, labels, path)
    return Diagnostic(
        found.code,
        f"metric '{metric}' has no label '{label}' (labels: {', '.join(sorted(labels)) or 'none'})",
        path=path,
        hint=found.hint,
    )


def _check_matchers(
    spec: Spec, metric_name: str, matchers: tuple[Matcher, ...], path: Path
) -> Iterator[Diagnostic]:
    by_name = _labels_by_metric(spec).get(metric_name)
    if by_name is None or not matchers:
        return
    for matcher in matchers:
        label = by_name.get(matcher.label)
        if label is None and matcher.label in SCRAPE_LABELS:
            continue
        if label is None:
            yield _unknown_label(matcher.label, metric_name, by_name, (*path, matcher.label))
            continue
        for value in matcher.values:
            if label.values and value not in (*label.values, OTHER_LABEL_VALUE):
                yield Diagnostic(
                    "references/label-value",
                    f"'{value}' is not an allowed value of {metric_name}'s label '{label.name}' "
                    f"({', '.join(label.values)}, or '{OTHER_LABEL_VALUE}' for any other): "
                    "the query can never match",
                    path=(*path, matcher.label),
                    severity=Severity.WARNING,
                )


def _part_of_total(
    part: tuple[Matcher, ...], total: tuple[Matcher, ...], path: Path
) -> Iterator[Diagnostic]:
    """A ratio of one metric divides events its total counts by the total: a part that
    selects label values the total leaves out counts events the total does not."""
    in_total = {m.label: m.values for m in total}
    filtered = {m.label for m in part}
    for matcher in total:
        if matcher.label not in filtered:
            values = "|".join(matcher.values)
            yield Diagnostic(
                "references/part-outside-total",
                f"the total counts only {matcher.label}={values}, the part every "
                f"{matcher.label}: it counts events the total does not, and the ratio can "
                "exceed 1",
                path=path,
                severity=Severity.WARNING,
                hint=f"add {matcher.label}: {values} to the part's where",
            )
    for matcher in part:
        counted = in_total.get(matcher.label)
        left_out = [v for v in matcher.values if counted is not None and v not in counted]
        if not left_out:
            continue
        never = len(left_out) == len(matcher.values)
        yield Diagnostic(
            "references/part-outside-total",
            f"{matcher.label}={'|'.join(left_out)}: the total counts only "
            f"{matcher.label}={'|'.join(counted or ())}, so "
            + (
                "the part counts only events the total does not"
                if never
                else "the part counts those events and the total does not: the ratio can exceed 1"
            ),
            path=(*path, matcher.label),
            severity=Severity.WARNING,
            hint=f"add {', '.join(left_out)} to the total's {matcher.label} values, "
            "or leave them out of the part",
        )


def _labels_by_metric(spec: Spec) -> dict[str, dict[str, Label]]:
    """Each metric's labels by name, made once per spec: thousands of queries read them."""
    return spec.derived(
        "references.labels_by_metric",
        lambda: {
            name: {label.name: label for label in metric.labels}
            for name in {m.name for m in spec.metrics}
            if (metric := spec.metric(name)) is not None
        },
    )


def _alert_links(spec: Spec) -> Iterator[Diagnostic]:
    dashboards = {d.uid: d for d in spec.dashboards}
    alerts = {a.name for a in spec.alerts}
    for alert in spec.alerts:
        if alert.dashboard_uid is None:
            continue
        dashboard = dashboards.get(alert.dashboard_uid)
        if dashboard is None:
            yield _unknown(
                "dashboard", alert.dashboard_uid, dashboards, (*alert.path, "dashboard", "uid")
            )
        elif alert.dashboard_panel not in {p.title for p in dashboard.panels()}:
            yield _unknown(
                "panel",
                str(alert.dashboard_panel),
                [p.title for p in dashboard.panels()],
                (*alert.path, "dashboard", "panel"),
            )
    for dashboard in spec.dashboards:
        for panel in dashboard.panels():
            for index, name in enumerate(panel.alerts):
                if name not in alerts:
                    yield _unknown("alert", name, alerts, (*panel.path, "alerts", index))


def _slos(spec: Spec) -> Iterator[Diagnostic]:
    for slo in spec.slos:
        path = (*slo.path, "sli")
        if isinstance(slo.sli, RatioSli):
            for key, selector in (("errors", slo.sli.errors), ("total", slo.sli.total)):
                sel_path = (*path, "ratio", key)
                metric = spec.metric(selector.metric)
                if metric is None:
                    names = [m.name for m in spec.metrics]
                    yield _unknown("metric", selector.metric, names, (*sel_path, "metric"))
                elif metric.type is MetricType.GAUGE:
                    yield Diagnostic(
                        "references/function",
                        f"an SLI counts events; '{metric.name}' is a gauge",
                        path=(*sel_path, "metric"),
                    )
                else:
                    yield from _check_matchers(
                        spec, metric.name, selector.where, (*sel_path, "where")
                    )
                    yield from _slo_by(slo.by, metric.label_names, metric.name, slo.path)
            if slo.sli.errors.metric == slo.sli.total.metric:
                errors, total = slo.sli.errors.where, slo.sli.total.where
                yield from _part_of_total(errors, total, (*path, "ratio", "errors", "where"))
        elif isinstance(slo.sli, LatencySli):
            yield from _latency_sli(spec, slo.sli, slo.by, path, slo.path)
        elif WINDOW_PLACEHOLDER not in slo.sli.error_ratio_query:
            yield Diagnostic(
                "references/sli-window",
                f"a raw SLI writes {WINDOW_PLACEHOLDER} where each burn-rate window goes: "
                "without it, every window records the same ratio and the burn rates "
                "compare it with itself",
                path=(*path, "raw", "error_ratio_query"),
                hint="e.g. sum(rate(errors_total[{{window}}]))"
                " / sum(rate(requests_total[{{window}}]))",
            )


def _slo_by(
    by: tuple[str, ...], labels: tuple[str, ...], metric: str, path: Path
) -> Iterator[Diagnostic]:
    for index, label in enumerate(by):
        if label not in labels and label not in SCRAPE_LABELS:
            yield _unknown_label(label, metric, labels, (*path, "by", index))


def _latency_sli(
    spec: Spec, sli: LatencySli, by: tuple[str, ...], path: Path, slo_path: Path
) -> Iterator[Diagnostic]:
    lat_path = (*path, "latency")
    metric = spec.metric(sli.metric)
    if metric is None:
        yield _unknown("metric", sli.metric, [m.name for m in spec.metrics], (*lat_path, "metric"))
        return
    if metric.type is not MetricType.HISTOGRAM:
        yield Diagnostic(
            "references/function",
            f"a latency SLI needs a histogram; '{metric.name}' is a {metric.type.value}",
            path=(*lat_path, "metric"),
        )
        return
    if sli.threshold not in metric.buckets:
        shown = ", ".join(f"{b:g}" for b in metric.buckets)
        yield Diagnostic(
            "references/bucket",
            f"latency threshold {sli.threshold_text} is not a bucket "
            f"boundary of '{metric.name}' ({shown})",
            path=(*lat_path, "threshold"),
            hint="add it to the metric's buckets so the SLI is exact",
        )
    yield from _check_matchers(spec, metric.name, sli.where, (*lat_path, "where"))
    yield from _slo_by(by, metric.label_names, metric.name, slo_path)
