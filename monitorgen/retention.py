"""Retention tiers (`retention:`) made true in the Prometheus ecosystem.

The design keeps raw data 7 days, hourly metrics 30 days, daily metrics a year and
monthly metrics forever. Each tier maps onto something Prometheus-shaped:

* raw: the local TSDB's `--storage.tsdb.retention.time` (and Thanos' raw resolution);
* hourly and daily: recording rules that aggregate the key series per hour and per
  day, shipped by `remote_write` to a long-term store (only those series), and
  Thanos' 5m and 1h resolutions;
* monthly: sums of the daily aggregates at UTC-midnight steps in the long-term store
  (`sum_over_time(x:increase1d[30d:1d])`), and the `monitorgen rollup` database.

The aggregates are `increase(x[1h])` and `increase(x[1d])` evaluated at the spec's
normal evaluation interval rather than in groups that run every hour or day: a
group evaluated once a day writes one sample a day, which instant queries (5m
lookback) see as absent most of the time, which covers a 24h window that starts
wherever the group's evaluation offset falls, and which loses a whole day when
Prometheus is down at that moment. Evaluated every minute, the series is always
fresh, any instant gives the total of the preceding hour or day, and a subquery
step of 1h or 1d picks the calendar-aligned totals.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum

from monitorgen.immutable import immutable
from monitorgen.model import (
    FOREVER,
    Metric,
    MetricType,
    RetentionSeries,
    Spec,
)
from monitorgen.promql import format_number, seconds
from monitorgen.rule_set import Field, Rule, RuleGroup

#: The aggregation window of each tier that records aggregates.
WINDOWS = {"hourly": "1h", "daily": "1d"}
#: Quantiles kept for a histogram when no dashboard or alert shows one.
DEFAULT_QUANTILES = (0.5, 0.95, 0.99)
#: A Thanos sidecar uploads 2h blocks, so local compaction must stay at that size.
SIDECAR_BLOCK_DURATION = "2h"
#: Thanos' word for "never delete".
THANOS_FOREVER = "0d"


class Measure(Enum):
    """What an aggregate computes from its source series over the window."""

    INCREASE = "increase"
    AVERAGE = "avg_over_time"
    MAXIMUM = "max_over_time"
    QUANTILE = "histogram_quantile"


@immutable
class Aggregate:
    """One recording rule of a tier and what it measures, so that tests can compute
    its value from inputs without reading the expression."""

    metric: str
    tier: str
    window: str
    measure: Measure
    source: str
    """The series read: the metric itself, or its `_bucket`, `_count` or `_sum`."""
    kept: tuple[str, ...]
    """Labels kept besides `job` (and `le` for bucket increases)."""
    rule: Rule
    quantile: float | None = None


def selected_series(spec: Spec) -> tuple[RetentionSeries, ...]:
    """The spec's `retention.series`, or by default every counter and histogram that
    the generated recordings aggregate, keeping all of its declared labels."""
    retention = spec.retention
    if retention is None:
        return ()
    if retention.series is not None:
        return retention.series
    aggregated = {rule.path for rule in _recordings(spec)}
    kinds = (MetricType.COUNTER, MetricType.HISTOGRAM)
    return tuple(
        RetentionSeries(metric.name, metric.label_names, retention.path)
        for metric in spec.metrics
        if metric.path in aggregated and metric.type in kinds
    )


def _recordings(spec: Spec) -> tuple[Rule, ...]:
    from monitorgen.recording import generated_recording_rules

    return generated_recording_rules(spec)


def aggregates(spec: Spec) -> tuple[Aggregate, ...]:
    """Every aggregate rule, hourly ones first; series of undeclared metrics are left
    out (`retention/unknown-metric` reports them)."""
    if spec.retention is None:
        return ()
    quantiles = _quantiles_shown(spec)
    series = selected_series(spec)
    found: list[Aggregate] = []
    for tier, window in WINDOWS.items():
        for item in series:
            metric = spec.metric(item.metric)
            if metric is None:
                continue
            kept = tuple(label for label in metric.label_names if label in item.by)
            shown = quantiles.get(metric.name, DEFAULT_QUANTILES)
            found.extend(_Builder(metric, kept, tier, window, item, shown).aggregates())
    return tuple(found)


def retention_rule_groups(spec: Spec, earlier: Sequence[RuleGroup]) -> tuple[RuleGroup, ...]:
    """One group per tier, evaluated at the spec's interval; a rule another group
    already records the same way is not written twice."""
    if spec.retention is None:
        return ()
    existing = {_identity(rule) for group in earlier for rule in group.rules}
    found_all = aggregates(spec)
    groups = []
    for tier in WINDOWS:
        rules = tuple(
            found.rule
            for found in found_all
            if found.tier == tier and _identity(found.rule) not in existing
        )
        if rules:
            name = f"{spec.service}.retention.{tier}"
            groups.append(
                RuleGroup(name, spec.prometheus.evaluation_interval, rules, spec.retention.path)
            )
    return tuple(groups)


def _identity(rule: Rule) -> tuple[object, ...]:
    return (rule.record, tuple(sorted(rule.label_map().items())), rule.expr)


def shipped_series(spec: Spec) -> tuple[str, ...]:
    """The series names remote_write ships: exactly the aggregates, sorted."""
    return tuple(sorted({found.rule.record or "" for found in aggregates(spec)}))


def keep_regex(spec: Spec) -> str:
    """A relabel regex (anchored by Prometheus) matching exactly the shipped names.
    Names hold only letters, digits, `_` and `:`, none of them special in RE2."""
    return "|".join(shipped_series(spec))


# ------------------------------------------------------------ aggregate rules


def _level(labels: tuple[str, ...]) -> str:
    return "_".join(("job", *labels))


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(("job", *labels))


@immutable
class _Builder:
    """The aggregates of one metric for one tier."""

    metric: Metric
    kept: tuple[str, ...]
    tier: str
    window: str
    item: RetentionSeries
    quantiles: tuple[float, ...]

    def aggregates(self) -> Iterator[Aggregate]:
        kind = self.metric.type
        if kind is MetricType.COUNTER:
            yield self._increase(self.metric.name, self.metric.name.removesuffix("_total"))
        elif kind is MetricType.HISTOGRAM:
            yield from self._histogram()
        elif kind is MetricType.SUMMARY:
            for part in ("count", "sum"):
                series = f"{self.metric.name}_{part}"
                yield self._increase(series, series)
        else:
            yield from self._gauge()

    def _aggregate(
        self,
        measure: Measure,
        source: str,
        record: str,
        expr: str,
        quantile: float | None = None,
    ) -> Aggregate:
        labels: tuple[Field, ...] = ()
        if quantile is not None:
            labels = (Field("quantile", format_number(quantile), self.item.path),)
        rule = Rule(
            expr=expr,
            path=self.item.path,
            expr_path=self.item.path,
            record=record,
            labels=labels,
        )
        return Aggregate(
            self.metric.name, self.tier, self.window, measure, source, self.kept, rule, quantile
        )

    def _increase(self, series: str, base: str) -> Aggregate:
        record = f"{_level(self.kept)}:{base}:increase{self.window}"
        expr = f"sum by ({_by(self.kept)}) (increase({series}[{self.window}]))"
        return self._aggregate(Measure.INCREASE, series, record, expr)

    def _histogram(self) -> Iterator[Aggregate]:
        """Bucket increases (any quantile over any grouping can be computed from them
        later), count and sum increases, and the quantiles the spec shows, computed
        from the bucket increases recorded just before them in the same evaluation."""
        name, window = self.metric.name, self.window
        buckets = bucket_record(self.metric, self.kept, window)
        by = _by((*self.kept, "le"))
        bucket_expr = f"sum by ({by}) (increase({name}_bucket[{window}]))"
        yield self._aggregate(Measure.INCREASE, f"{name}_bucket", buckets, bucket_expr)
        for part in ("count", "sum"):
            series = f"{name}_{part}"
            yield self._increase(series, series)
        for quantile in self.quantiles:
            record = (
                f"{_level((*self.kept, 'quantile'))}:{name}:histogram_quantile_increase{window}"
            )
            expr = f"histogram_quantile({format_number(quantile)}, {buckets})"
            yield self._aggregate(Measure.QUANTILE, f"{name}_bucket", record, expr, quantile)

    def _gauge(self) -> Iterator[Aggregate]:
        for measure, aggregation in ((Measure.AVERAGE, "avg"), (Measure.MAXIMUM, "max")):
            name = self.metric.name
            record = f"{_level(self.kept)}:{name}:{measure.value}{self.window}"
            inner = f"{measure.value}({name}[{self.window}])"
            yield self._aggregate(
                measure, name, record, f"{aggregation} by ({_by(self.kept)}) ({inner})"
            )


def bucket_record(metric: Metric, kept: tuple[str, ...], window: str) -> str:
    return f"{_level((*kept, 'le'))}:{metric.name}_bucket:increase{window}"


def _quantiles_shown(spec: Spec) -> dict[str, tuple[float, ...]]:
    """Histogram name -> the quantiles the generated recordings compute for it, in order."""
    found: dict[str, set[float]] = {}
    for rule in _recordings(spec):
        quantile = rule.label_map().get("quantile")
        parts = (rule.record or "").split(":")
        if quantile is not None and len(parts) == 3 and parts[2].startswith("histogram_quantile"):
            found.setdefault(parts[1], set()).add(float(quantile))
    return {name: tuple(sorted(values)) for name, values in found.items()}


# ------------------------------------------------------------ configuration


def remote_write_config(spec: Spec) -> list[dict[str, object]]:
    """The `remote_write` section of prometheus.yml: the aggregates and nothing else
    (no other series, no metadata), authenticated from files only."""
    retention = spec.retention
    if retention is None or retention.remote_write is None:
        return []
    target = retention.remote_write
    block: dict[str, object] = {"url": target.url, "name": target.name}
    if target.credentials_file:
        block["authorization"] = {
            "type": target.auth_type,
            "credentials_file": target.credentials_file,
        }
    elif target.auth_username:
        block["basic_auth"] = {
            "username": target.auth_username,
            "password_file": target.auth_password_file,
        }
    block["metadata_config"] = {"send": False}
    block["write_relabel_configs"] = [
        {"source_labels": ["__name__"], "regex": keep_regex(spec), "action": "keep"}
    ]
    return [block]


def prometheus_flags(spec: Spec) -> tuple[str, ...]:
    """Command-line flags of the local Prometheus for the raw tier."""
    retention = spec.retention
    if retention is None:
        return ()
    flags = [f"--storage.tsdb.retention.time={retention.raw}"]
    if retention.thanos:
        flags += [
            f"--storage.tsdb.min-block-duration={SIDECAR_BLOCK_DURATION}",
            f"--storage.tsdb.max-block-duration={SIDECAR_BLOCK_DURATION}",
        ]
    return tuple(flags)


def thanos_compactor_flags(spec: Spec) -> tuple[str, ...]:
    """Retention per resolution: raw samples for the raw tier, 5m-downsampled data for
    the hourly tier, and 1h-downsampled data for both the daily and the monthly tier
    (Thanos expires whole resolutions, not series, so the longer of the two wins)."""
    retention = spec.retention
    if retention is None:
        return ()
    coarsest = longest(retention.daily, retention.monthly)
    return (
        f"--retention.resolution-raw={thanos_period(retention.raw)}",
        f"--retention.resolution-5m={thanos_period(retention.hourly)}",
        f"--retention.resolution-1h={thanos_period(coarsest)}",
    )


def period_seconds(period: str) -> float:
    """A tier's length in seconds; forever is infinite."""
    return float("inf") if period == FOREVER else seconds(period)


def longest(*periods: str) -> str:
    return max(periods, key=period_seconds)


def thanos_period(period: str) -> str:
    return THANOS_FOREVER if period == FOREVER else period
