"""promtool unit tests of the retention aggregates: `prometheus/retention.test.yml`.

Every aggregated metric gets input series on two instances, which the aggregates
must sum (or average) away while keeping the other labels: counters growing by 1
and by 2 per sample, histograms whose observations all fall in one bucket, gauges
holding 0.5 and 0.75. A day and an hour later each hourly and daily recording holds
exactly what Prometheus computes from those inputs: increases, the quantile
interpolated inside that bucket, the average and the maximum.

The file is separate from rules.test.yml because promtool evaluates every rule at
every evaluation interval up to the last check: a day at the spec's 1m interval
takes half a minute, while the recordings' values at the check do not depend on
how often they were evaluated before. So this file evaluates hourly, and its inputs
come every 5 minutes, which gives each window whole samples at both ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from monitorgen.immutable import immutable
from monitorgen.model import Metric, MetricType, Spec
from monitorgen.promql import client_le, seconds, string_literal
from monitorgen.retention import Aggregate, Measure, aggregates
from monitorgen.rule_inputs import (
    NotDerivable,
    Series,
    Timeline,
    base_labels,
    bucket_quantile,
    counter_increase,
)
from monitorgen.rule_set import rule_groups
from monitorgen.targets.prometheus_rules import RULES_PATH
from monitorgen.targets.promtool_tests import duration_text

TIMELINE = Timeline(step=300, evaluation=3600)
#: When the recordings are checked: the first evaluation after a full day of inputs.
CHECK_AT = 86400 + TIMELINE.evaluation
#: Per-sample growth of each instance's counters (and observations per sample).
INSTANCE_STEPS = (Fraction(1), Fraction(2))
GAUGE_VALUES = ("0.5", "0.75")
#: Bucket bounds with at most this binary denominator add up exactly sample by sample.
_EXACT_DENOMINATOR = 1024


def retention_unit_tests(spec: Spec) -> tuple[dict[str, Any] | None, list[str]]:
    """The promtool test file (None when nothing is aggregated), and a line for each
    metric left out and why."""
    found = aggregates(spec)
    inputs: list[Inputs] = []
    skipped: list[str] = []
    for name in dict.fromkeys(a.metric for a in found):
        metric = spec.metric(name)
        assert metric is not None  # aggregates() leaves undeclared metrics out
        try:
            inputs.append(metric_inputs(spec, metric))
        except NotDerivable as reason:
            skipped.append(f"retention aggregates of {name}: {reason}")
    if not inputs:
        return None, skipped
    by_metric = {item.metric.name: item for item in inputs}
    group = {
        "name": "retention: hourly and daily aggregates sum the instances away",
        "interval": duration_text(TIMELINE.step),
        "input_series": [
            {"series": s.selector(), "values": s.values(TIMELINE.samples_until(CHECK_AT))}
            for item in inputs
            for s in item.series
        ],
        "promql_expr_test": _expression_checks(spec, found, by_metric),
    }
    data = {
        "rule_files": [RULES_PATH.rsplit("/", 1)[-1]],
        "evaluation_interval": duration_text(TIMELINE.evaluation),
        "group_eval_order": [group.name for group in rule_groups(spec)],
        "tests": [group],
    }
    return data, skipped


# ------------------------------------------------------------ inputs


@immutable
class Inputs:
    """The input series of one metric: one list per instance."""

    metric: Metric
    labels: tuple[dict[str, str], ...]
    """The labels of each instance's series (without `le`)."""
    series: tuple[Series, ...]

    def of(self, name: str) -> list[tuple[int, Series]]:
        """(instance, series) for every input series of this name."""
        return [(self._instance(s), s) for s in self.series if s.name == name]

    def _instance(self, series: Series) -> int:
        labels = dict(series.labels)
        labels.pop("le", None)
        return self.labels.index(labels)


def metric_inputs(spec: Spec, metric: Metric) -> Inputs:
    first = base_labels(spec, metric)
    second = {**first, "instance": f"{first['instance']}-replica"}
    labels = (first, second)
    if metric.type is MetricType.COUNTER:
        return Inputs(metric, labels, tuple(_counters(metric.name, labels)))
    if metric.type is MetricType.HISTOGRAM:
        return _histogram_inputs(metric, labels)
    if metric.type is MetricType.SUMMARY:
        series = [*_counters(f"{metric.name}_count", labels)]
        series += _counters(f"{metric.name}_sum", labels)
        return Inputs(metric, labels, tuple(series))
    gauges = tuple(
        Series(metric.name, _sorted(each), start_text=value)
        for each, value in zip(labels, GAUGE_VALUES, strict=True)
    )
    return Inputs(metric, labels, gauges)


def _sorted(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _counters(
    name: str, labels: tuple[dict[str, str], ...], per_step: Fraction = Fraction(1)
) -> list[Series]:
    return [
        Series(name, _sorted(each), step_increase=step * per_step)
        for each, step in zip(labels, INSTANCE_STEPS, strict=True)
    ]


def _histogram_inputs(metric: Metric, labels: tuple[dict[str, str], ...]) -> Inputs:
    """Every observation has the value of its bucket's upper bound; the bucket is the
    one nearest the middle whose bound adds up exactly in floating point."""
    bucket = _exact_middle_bucket(metric.buckets)
    bounds = [*metric.buckets, math.inf]
    series: list[Series] = []
    for index, bound in enumerate(bounds):
        with_le = tuple({**each, "le": client_le(bound)} for each in labels)
        growth = Fraction(1) if index >= bucket else Fraction(0)
        series += _counters(f"{metric.name}_bucket", with_le, growth)
    series += _counters(f"{metric.name}_count", labels)
    series += _counters(f"{metric.name}_sum", labels, Fraction(metric.buckets[bucket]))
    return Inputs(metric, labels, tuple(series))


def _exact_middle_bucket(bounds: tuple[float, ...]) -> int:
    middle = len(bounds) // 2
    exact = [
        i for i, b in enumerate(bounds) if Fraction(b).denominator <= _EXACT_DENOMINATOR and b > 0
    ]
    if not exact:
        raise NotDerivable("no bucket bound adds up exactly in floating point")
    return min(exact, key=lambda i: (abs(i - middle), i))


# ------------------------------------------------------------ expected values


def _expression_checks(
    spec: Spec, found: tuple[Aggregate, ...], inputs: dict[str, Inputs]
) -> list[dict[str, Any]]:
    """One promql_expr_test per recorded name: every series it records, with its value."""
    samples: dict[str, list[dict[str, Any]]] = {}
    for aggregate in found:
        if aggregate.metric not in inputs:
            continue
        record = aggregate.rule.record or ""
        for labels, value in _expected(spec, aggregate, inputs[aggregate.metric]):
            samples.setdefault(record, []).append(
                {"labels": _series_text(record, labels), "value": _number(value)}
            )
    return [
        {"expr": record, "eval_time": duration_text(CHECK_AT), "exp_samples": expected}
        for record, expected in samples.items()
    ]


def _expected(
    spec: Spec, aggregate: Aggregate, inputs: Inputs
) -> Iterator[tuple[dict[str, str], float]]:
    """The series one aggregate records and their values at CHECK_AT."""
    kept = {"job": spec.prometheus.job, **{k: inputs.labels[0][k] for k in aggregate.kept}}
    window = int(seconds(aggregate.window))
    if aggregate.measure is Measure.INCREASE and aggregate.source.endswith("_bucket"):
        for le, total in _bucket_increases(aggregate, inputs, window).items():
            yield {**kept, "le": le}, total
    elif aggregate.measure is Measure.INCREASE:
        yield kept, _summed_increase(inputs.of(aggregate.source), window)
    elif aggregate.measure is Measure.QUANTILE:
        assert aggregate.quantile is not None
        counts = list(_bucket_increases(aggregate, inputs, window).values())
        bounds = [*inputs.metric.buckets, math.inf]
        value = bucket_quantile(aggregate.quantile, bounds, counts)
        yield {**kept, "quantile": aggregate.rule.label_map()["quantile"]}, value
    else:
        values = [float(text) for text in GAUGE_VALUES]
        combine: Callable[[list[float]], float] = (
            max if aggregate.measure is Measure.MAXIMUM else _prometheus_average
        )
        yield kept, combine(values)


def _summed_increase(series: list[tuple[int, Series]], window: int) -> float:
    total = 0.0
    for _instance, each in series:
        increase = counter_increase(each, CHECK_AT, window, TIMELINE.step)
        if increase is None:
            raise AssertionError(f"no increase of {each.selector()} at {CHECK_AT}s")
        total += increase
    return total


def _bucket_increases(aggregate: Aggregate, inputs: Inputs, window: int) -> dict[str, float]:
    """`le` -> the increase summed over instances, in bucket order (+Inf last)."""
    by_le: dict[str, list[tuple[int, Series]]] = {}
    for instance, series in inputs.of(aggregate.source):
        by_le.setdefault(dict(series.labels)["le"], []).append((instance, series))
    return {le: _summed_increase(each, window) for le, each in by_le.items()}


def _prometheus_average(values: list[float]) -> float:
    """`avg` as Prometheus computes it: an incremental mean."""
    mean = values[0]
    for count, value in enumerate(values[1:], start=2):
        mean += value / count - mean / count
    return mean


def _series_text(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{k}={string_literal(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value
