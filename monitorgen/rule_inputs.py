"""Input series for rule unit tests, and the values Prometheus computes from them.

promtool compares values exactly, so the inputs are chosen to be exact (integer or
dyadic counter steps, gauges as written) and the expected values are computed here
with the same floating-point steps Prometheus takes: `increase` and `rate` with
their extrapolation, sums, ratios and `histogram_quantile`'s interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from functools import cache, lru_cache
from typing import NamedTuple, Protocol

from monitorgen.immutable import immutable
from monitorgen.model import Comparison, Matcher, Metric, MetricType, Query, QueryFunction, Spec
from monitorgen.promql import client_le, format_number, seconds, string_literal

#: Value of the expression at an evaluation time (seconds), or None for no result.
ValueAt = Callable[[int], float | None]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class NotDerivable(ValueError):
    """No sound input exists for this rule; the message says why."""


@immutable
class Series:
    """One input series: a counter growing by `step_increase` per sample, or a constant."""

    name: str
    labels: tuple[tuple[str, str], ...]
    start: Fraction = Fraction(0)
    step_increase: Fraction = Fraction(0)
    start_text: str | None = None
    """How to write a constant start exactly as the spec did (e.g. 0.81)."""
    pattern: tuple[str, ...] = ()
    """Values the series takes in turn, sample by sample, as written (a gauge)."""
    delay: int = 0
    """Samples missing before a counter's first: events of its kind begin that late."""
    turns: tuple[Turn, ...] = ()
    """Where a counter's growth changes, in order: by `step_increase` per sample up to
    the first turn's sample, then by each turn's increase after its sample."""
    runs: tuple[tuple[str, int], ...] = ()
    """A gauge holding each value (as written) for its number of samples in turn, the
    last one to the end."""

    def selector(self) -> str:
        return _selector_text(self.name, self.labels)

    def values(self, samples: int) -> str:
        if self.pattern:
            return " ".join(self.pattern[i % len(self.pattern)] for i in range(samples))
        if self.runs:
            return _runs_text(self.runs, samples)
        if self.delay:
            later = replace(self, delay=0).values(samples - self.delay)
            return f"_x{self.delay} {later}"
        if self.growth.turns:
            return _turned_values_text(self.growth, samples)
        return _values_text(self.start_text, self.growth, samples)

    growth: Growth = field(init=False, repr=False, compare=False)
    """The series' values apart from its name and labels."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "growth", self._growth())

    def value(self, index: int) -> float:
        return self.growth.value(index)

    def _growth(self) -> Growth:
        start, step = self.start, self.step_increase
        if self.pattern or self.runs:  # not a counter: only its first value stands for it
            return Growth(0, 0, 1, float(self.pattern[0] if self.pattern else self.runs[0][0]))
        if self.start_text and not step:
            return Growth(0, 0, 1, float(self.start_text))
        if self.turns:
            parts = (start, step, *(turn.increase for turn in self.turns))
            denominator = math.lcm(*(part.denominator for part in parts))
            return Growth(
                int(start * denominator),
                int(step * denominator),
                denominator,
                turns=tuple((turn.at, int(turn.increase * denominator)) for turn in self.turns),
            )
        if not start:  # every counter input starts at 0
            return Growth(0, step.numerator, step.denominator)
        return Growth(
            start.numerator * step.denominator,
            step.numerator * start.denominator,
            start.denominator * step.denominator,
        )


#: The texts below are remembered: the firing and the silent test of an alert, the
#: alerts over one metric and a histogram's buckets repeat the same few labels and
#: increases thousands of times in a large spec.
_SERIES_CACHE_SIZE = 1 << 14


@lru_cache(maxsize=_SERIES_CACHE_SIZE)
def _selector_text(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    inner = ",".join(f"{k}={string_literal(v)}" for k, v in labels)
    return f"{name}{{{inner}}}" if inner else name


@lru_cache(maxsize=_SERIES_CACHE_SIZE)
def _values_text(start_text: str | None, growth: Growth, samples: int) -> str:
    """Keyed by the growth, whose integers hash faster than the Fractions they hold."""
    first = start_text or _fraction_text(Fraction(growth.start, growth.denominator))
    return f"{first}+{_fraction_text(Fraction(growth.increase, growth.denominator))}x{samples}"


def _runs_text(runs: tuple[tuple[str, int], ...], samples: int) -> str:
    """`samples` + 1 values of a gauge's runs in promtool's notation (`axn` is n + 1
    samples of a), the last run lengthened or the runs cut to fit."""
    written, left = [], samples + 1
    for index, (text, count) in enumerate(runs):
        count = left if index == len(runs) - 1 else min(count, left)
        if count > 0:
            written.append(text if count == 1 else f"{text}x{count - 1}")
        left -= count
    return " ".join(written)


@lru_cache(maxsize=_SERIES_CACHE_SIZE)
def _turned_values_text(growth: Growth, samples: int) -> str:
    """A run in promtool's notation up to each turn, and one from the sample after the
    last turn to the end (turns past the end are left out)."""
    denominator = growth.denominator
    runs = []
    since, per = 0, growth.increase  # the run's first sample and its increase per sample
    for at, after in (*growth.turns, (samples, 0)):
        end = min(at, samples)
        if end >= since:
            first = _fraction_text(Fraction(growth.numerator(since), denominator))
            runs.append(f"{first}+{_fraction_text(Fraction(per, denominator))}x{end - since}")
        if at >= samples:
            break
        since, per = at + 1, after
    return " ".join(runs)


class Turn(NamedTuple):
    """A counter grows by `increase` per sample after sample `at`."""

    at: int
    increase: Fraction


class Growth(NamedTuple):
    """`(start + increase * index) / denominator` in integers, or a constant as written;
    past each of `turns` (a sample and an increase), by that increase per sample.

    Integers give the same correctly rounded float as Fraction arithmetic at a fraction
    of its cost, and the tuple is a cheap key: series that differ only in labels share
    every computed rate.
    """

    start: int
    increase: int
    denominator: int
    constant: float | None = None
    turns: tuple[tuple[int, int], ...] = ()

    def value(self, index: int) -> float:
        if self.constant is not None:
            return self.constant
        if self.turns:
            return self.numerator(index) / self.denominator
        return (self.start + self.increase * index) / self.denominator

    def numerator(self, index: int) -> int:
        """The value at sample `index` times the denominator (a counter's)."""
        total, since, per = self.start, 0, self.increase
        for at, after in self.turns:
            if index <= at:
                break
            total += per * (at - since)
            since, per = at, after
        return total + per * (index - since)


@lru_cache(maxsize=1 << 10)
def duration_seconds(text: str | None) -> int:
    """A duration in whole seconds; empty and zero durations are 0. Remembered: every
    alert asks for its `for` and `keep_firing_for` several times."""
    if not text or (text.strip("0smhdwy") == "" and not any(c in "123456789" for c in text)):
        return 0
    return int(seconds(text))


def _fraction_text(value: Fraction) -> str:
    return format_number(float(value)) if value.denominator == 1 else repr(float(value))


@dataclass
class Timeline:
    """Sample spacing of the inputs and the rule evaluation interval, in seconds."""

    step: int
    evaluation: int

    def samples_until(self, horizon: int) -> int:
        return horizon // self.step + 1


def timeline(spec: Spec) -> Timeline:
    evaluation = int(seconds(spec.prometheus.evaluation_interval))
    step = math.gcd(int(seconds(spec.prometheus.scrape_interval)), evaluation)
    return Timeline(max(step, 1), evaluation)


# ------------------------------------------------------------ Prometheus maths


def counter_increase(series: Series, at: int, window: int, step: int) -> float | None:
    """`increase(series[window])` at time `at`, extrapolated as Prometheus 2.x does."""
    return _extrapolated(series.growth, at - series.delay * step, window, step, per_second=False)


def counter_rate(series: Series, at: int, window: int, step: int) -> float | None:
    """`rate(series[window])`: the same factor, divided by the range before multiplying.
    A series that begins late reads as the same series begun at 0, that much earlier:
    the extrapolation looks only at the samples inside the window."""
    return _extrapolated(series.growth, at - series.delay * step, window, step, per_second=True)


@lru_cache(maxsize=1 << 16)
def _extrapolated(
    growth: Growth, at: int, window: int, step: int, per_second: bool
) -> float | None:
    """Remembered: a spec's alerts ask for the same rates of the same growth many times
    (each search, the firing and the silent simulation, alerts with equal thresholds)."""
    start = at - window
    first = max(0, -(-start // step))
    last = at // step
    if last - first < 1:
        return None
    first_value, last_value = growth.value(first), growth.value(last)
    delta = last_value - first_value
    sampled = float((last - first) * step * 1000) / 1000
    to_start = float((first * step - start) * 1000) / 1000
    to_end = float((at - last * step) * 1000) / 1000
    average = sampled / float(last - first)
    if delta > 0 and first_value >= 0:
        to_zero = sampled * (first_value / delta)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    extended = sampled
    extended += to_start if to_start < threshold else average / 2
    extended += to_end if to_end < threshold else average / 2
    factor = extended / sampled
    if per_second:
        factor /= float(window)
    return delta * factor


def bucket_quantile(quantile: float, bounds: list[float], counts: list[float]) -> float:
    """`histogram_quantile` over cumulative bucket counts (the last bound is +Inf)."""
    rank = quantile * counts[-1]
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(counts) - 1:
        return bounds[-2]
    start = 0.0
    count = counts[index]
    if index > 0:
        start = bounds[index - 1]
        count -= counts[index - 1]
        rank -= counts[index - 1]
    return start + (bounds[index] - start) * (rank / count)


# ------------------------------------------------------------ structured queries


@dataclass
class Scenario:
    """Inputs for one alert test and what the alert's expression returns from them."""

    series: list[Series]
    value_at: ValueAt
    labels: dict[str, str]
    """The labels of the result series (what `$labels` sees)."""
    key: Hashable = None
    """Everything `value_at` depends on, or None: scenarios with equal keys return equal
    values at every time whatever their labels, so alerts share what is worked out."""


def label_value(metric: Metric, label: str, avoid: tuple[str, ...] = ()) -> str | None:
    """A value the label may take, other than those in `avoid`."""
    declared = next((x.values for x in metric.labels if x.name == label), ())
    if declared:
        return next((v for v in declared if v not in avoid), None)
    return next(v for v in (f"{label}-1", f"{label}-2") if v not in avoid)


def base_labels(spec: Spec, metric: Metric) -> dict[str, str]:
    """The labels of an input series of `metric` before any matcher applies (a copy:
    every search asks for them many times)."""
    return dict(spec.derived(f"rule_inputs.base_labels.{metric.name}", lambda: _base(spec, metric)))


def _base(spec: Spec, metric: Metric) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name in metric.label_names:
        value = label_value(metric, name)
        labels[name] = value if value is not None else f"{name}-1"
    labels["job"] = spec.prometheus.job
    labels["instance"] = spec.prometheus.instance
    return labels


def _with_matchers(labels: dict[str, str], query: Query, part: bool) -> dict[str, str]:
    """The labels of a series the total selects, and with `part` one the `where` selects too."""
    if part:
        return selected_by(labels, query.where, query.total_where)
    return selected_by(labels, query.total_where)


def selected_by(labels: Mapping[str, str], *selections: tuple[Matcher, ...]) -> dict[str, str]:
    """`labels` with each label a matcher reads set to the first value (in the order the
    first such matcher lists them) that every selection accepts, so that a part is also
    counted by its total. NotDerivable when the selections share no value of a label."""
    allowed: dict[str, tuple[str, ...]] = {}
    for matchers in selections:
        for matcher in matchers:
            before = allowed.get(matcher.label, matcher.values)
            allowed[matcher.label] = tuple(v for v in before if v in matcher.values)
    result = dict(labels)
    for label, values in allowed.items():
        if not values:
            raise NotDerivable(f"the part and the total select no common value of '{label}'")
        result[label] = values[0]
    return result


def outside_part(
    metric: Metric, labels: Mapping[str, str], part: tuple[Matcher, ...], total: tuple[Matcher, ...]
) -> dict[str, str] | None:
    """`labels` with one label the part selects on changed to a value the total still
    accepts and the part does not: an event the total counts and the part does not."""
    found = outside_parts(metric, labels, part, total)
    return found[0] if found else None


def outside_parts(
    metric: Metric, labels: Mapping[str, str], part: tuple[Matcher, ...], total: tuple[Matcher, ...]
) -> list[dict[str, str]]:
    """As `outside_part`, with the label changed to each value the total accepts and the
    part does not (each declared one; one made up where none is declared)."""
    in_total = {m.label: m.values for m in total}
    for matcher in part:
        if matcher.label in in_total:
            others = [v for v in in_total[matcher.label] if v not in matcher.values]
        else:
            declared = next((x.values for x in metric.labels if x.name == matcher.label), ())
            made_up = label_value(metric, matcher.label, avoid=matcher.values)
            others = [v for v in declared if v not in matcher.values] or (
                [made_up] if made_up is not None and not declared else []
            )
        if others:
            return [{**labels, matcher.label: value} for value in others]
    return []


def _sorted(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _scaled(value: float | None, query: Query) -> float | None:
    if value is None or query.scale is None:
        return value
    return value * float(query.scale)


def series_name(metric: Metric) -> str:
    """The series a rate or an increase of `metric` reads: a histogram's or a summary's
    `_count` (as `compile_query` writes it), else the metric itself."""
    counted = metric.type in (MetricType.HISTOGRAM, MetricType.SUMMARY)
    return f"{metric.name}_count" if counted else metric.name


def counter_scenarios(
    spec: Spec, metric: Metric, query: Query, tl: Timeline
) -> Callable[[Fraction], Scenario]:
    """One counter series growing by a given increase per sample, and the rate or increase
    of it; the labels are worked out once for a whole search."""
    labels = _with_matchers(base_labels(spec, metric), query, part=True)
    name, selected = series_name(metric), _sorted(labels)
    window = int(seconds(query.window))
    measure = counter_rate if query.function is QueryFunction.RATE else counter_increase
    shown = {b: labels[b] for b in query.by}

    def scenario(increase: Fraction) -> Scenario:
        series = Series(name, selected, step_increase=increase)

        def value_at(at: int) -> float | None:
            return _scaled(measure(series, at, window, tl.step), query)

        key = (measure.__name__, series.growth, window, tl.step, query.scale)
        return Scenario([series], value_at, shown, key)

    return scenario


class Late(NamedTuple):
    """Samples before the matching events (`part`) or the other events (`rest`) of a
    ratio begin."""

    part: int = 0
    rest: int = 0


ON_TIME = Late()


class CounterRatioScenario(Protocol):
    def __call__(self, part_increase: int, whole_increase: int, late: Late = ...) -> Scenario: ...


def counter_ratio_scenarios(
    spec: Spec, part: Query, whole: Query, tl: Timeline
) -> CounterRatioScenario:
    """The part's counter and the whole's growing by given increases per sample, either
    beginning late, and the ratio of their summed rates (or increases). The two series
    agree on the labels the ratio groups by, or the division would match nothing."""
    part_metric, whole_metric = spec.metric(part.metric), spec.metric(whole.metric)
    assert part_metric is not None and whole_metric is not None  # read off declared series
    part_labels = selected_by(base_labels(spec, part_metric), part.where)
    whole_labels = selected_by(base_labels(spec, whole_metric), whole.where)
    part_fixed = {m.label for m in part.where}
    for label in part.by:
        if label not in part_labels or label not in whole_labels:
            raise NotDerivable(f"the ratio groups by '{label}', which one counter lacks")
        if part_labels[label] == whole_labels[label]:
            continue
        if label in part_fixed and label in {m.label for m in whole.where}:
            raise NotDerivable(f"the two counters select other values of '{label}'")
        if label in part_fixed:
            whole_labels[label] = part_labels[label]
        else:
            part_labels[label] = whole_labels[label]
    top_name, top_labels = series_name(part_metric), _sorted(part_labels)
    bottom_name, bottom_labels = series_name(whole_metric), _sorted(whole_labels)
    window = int(seconds(part.window))
    measure = counter_rate if part.function is QueryFunction.RATE else counter_increase
    shown = {label: part_labels[label] for label in part.by}

    def scenario(part_increase: int, whole_increase: int, late: Late = ON_TIME) -> Scenario:
        top = Series(top_name, top_labels, step_increase=Fraction(part_increase), delay=late.part)
        bottom = Series(
            bottom_name, bottom_labels, step_increase=Fraction(whole_increase), delay=late.rest
        )

        def value_at(at: int) -> float | None:
            over = measure(top, at, window, tl.step)
            under = measure(bottom, at, window, tl.step)
            if over is None or under is None or not under > 0:
                return None
            return over / under

        growths = (top.growth, bottom.growth, late)
        key = ("counter ratio", measure.__name__, *growths, window, tl.step)
        return Scenario([top, bottom], value_at, dict(shown), key)

    return scenario


class RatioScenario(Protocol):
    def __call__(
        self, part: Fraction, rest: Fraction, late: Late = ..., halved: bool = ...
    ) -> Scenario: ...


def ratio_scenarios(spec: Spec, metric: Metric, query: Query, tl: Timeline) -> RatioScenario:
    """The events the `where` selects and the ones only the total counts, growing by
    given increases; the labels are worked out once for a whole search.

    With `halved`, the selected events are split in halves over two series of the group
    where a label sets them apart (another value the `where` lists, else a free label):
    a rule that takes the `max` of them, or narrows its `where` to one value, counts
    half. (Prometheus then adds three rates or more for the total, in an order of its
    own: a share exactly on a threshold is written with one selected series.)"""
    base = base_labels(spec, metric)
    part_labels = _with_matchers(base, query, part=True)
    rest_labels = _rest_labels(metric, query, base)
    if not rest_labels:
        raise NotDerivable("every value of the ratio's labels is in its `where`")
    if any(rest[b] != part_labels[b] for rest in rest_labels for b in query.by):
        raise NotDerivable("the ratio groups by a label its `where` selects")
    name, part_selected = series_name(metric), _sorted(part_labels)
    rest_selected = [_sorted(rest) for rest in rest_labels]
    apart = _second_series_label(spec, metric, query)
    halves = [part_selected]
    if apart is not None:
        halves.append(_sorted({**part_labels, apart[0]: apart[1]}))
    window = int(seconds(query.window))
    by = {b: part_labels[b] for b in query.by}

    def scenario(
        part: Fraction, rest: Fraction, late: Late = ON_TIME, halved: bool = False
    ) -> Scenario:
        # Halving is exact in floating point: the halves' rates add up to the whole's.
        part_series = Series(name, (), step_increase=part, delay=late.part)
        split = halves if halved else halves[:1]
        each = part / len(split)
        parts = [Series(name, labels, step_increase=each, delay=late.part) for labels in split]
        rest_series = [
            Series(name, labels, step_increase=share, delay=late.rest)
            for labels, share in zip(rest_selected, _shares(rest, len(rest_selected)), strict=True)
        ]
        # The rest's series grow alike in total: their summed rate is the rate of one
        # series carrying them all, up to rounding.
        rest_total = Series(name, (), step_increase=rest, delay=late.rest)

        def value_at(at: int) -> float | None:
            part_rate = counter_rate(part_series, at, window, tl.step)
            rest_rate = counter_rate(rest_total, at, window, tl.step)
            if part_rate is None and rest_rate is None:
                return None
            # No matching series yet: the rule's `or 0 * total` makes the share 0.
            total = (part_rate or 0.0) + (rest_rate or 0.0)
            return _scaled((part_rate or 0.0) / total, query) if total else None

        summed = (len(parts), len(rest_series))
        key = ("ratio", part_series.growth, rest_total.growth, summed, window, tl.step)
        return Scenario([*parts, *rest_series], value_at, by, (*key, late, query.scale))

    return scenario


def _shares(total: Fraction, count: int) -> list[Fraction]:
    """`total` in `count` whole shares where it is whole (the first takes what is left
    over), else in equal ones: each series the rest of a ratio spreads over."""
    if total.denominator == 1 and total >= count:
        each = total // count
        return [total - each * (count - 1), *([Fraction(each)] * (count - 1))]
    return [total / count] * count


def _rest_labels(metric: Metric, query: Query, base: dict[str, str]) -> list[dict[str, str]]:
    """Labels inside the total but outside the part: one `where` label changed to each
    value the `where` leaves out, so that a `where` widened to any of them counts some
    of the rest (the ratio's decoys)."""
    in_total = _with_matchers(base, query, part=False)
    return outside_parts(metric, in_total, query.where, query.total_where)


def gauge_scenarios(spec: Spec, metric: Metric, query: Query) -> Callable[[str], Scenario]:
    """One gauge series holding a given value (as written); the labels are worked out
    once for the firing and the silent value."""
    labels = _with_matchers(base_labels(spec, metric), query, part=True)
    selected, shown = _sorted(labels), {b: labels[b] for b in query.by}

    def scenario(value: str) -> Scenario:
        series = Series(metric.name, selected, start_text=value)
        constant = _scaled(float(value), query)
        key = ("constant", value, query.scale)
        return Scenario([series], lambda at: constant, dict(shown), key)

    return scenario


#: What each `*_over_time` reads of the samples in its window.
_OVER_TIME: dict[QueryFunction, Callable[[list[float]], float]] = {
    QueryFunction.MAX_OVER_TIME: max,
    QueryFunction.MIN_OVER_TIME: min,
    QueryFunction.AVG_OVER_TIME: lambda values: math.fsum(values) / len(values),
}


def alternating_gauge(
    spec: Spec, metric: Metric, query: Query, values: tuple[str, str], tl: Timeline
) -> Scenario:
    """One gauge series taking the two `values` in turn, sample by sample: every window
    of two samples or more holds both, so `max_over_time`, `min_over_time` and
    `avg_over_time` read it apart. The mean is worked out only closely: callers rely on
    it only far from a threshold."""
    labels = _with_matchers(base_labels(spec, metric), query, part=True)
    series = Series(metric.name, _sorted(labels), pattern=values)
    window = int(seconds(query.window))
    numbers = [float(v) for v in values]
    reduce = _OVER_TIME[query.function]

    def value_at(at: int) -> float | None:
        first = max(0, -(-(at - window) // tl.step))  # Prometheus 2 keeps `at - window`
        samples = [numbers[i % 2] for i in range(first, at // tl.step + 1)]
        return _scaled(reduce(samples), query) if samples else None

    key = ("alternating", values, query.function, window, tl.step, query.scale)
    return Scenario([series], value_at, {b: labels[b] for b in query.by}, key)


def gauge_run(
    spec: Spec,
    metric: Metric,
    query: Query,
    runs: tuple[tuple[str, int], ...],
    tl: Timeline,
    keeps_window_start: bool = True,
) -> Scenario:
    """One gauge series holding each value of `runs` for its samples in turn, read by the
    query's `max_over_time` or `min_over_time` (a value the series holds, whichever
    samples of a run the window holds). Prometheus 2 counts a sample at the window's
    very start, 3 does not: `keeps_window_start` says which."""
    labels = _with_matchers(base_labels(spec, metric), query, part=True)
    series = Series(metric.name, _sorted(labels), runs=runs)
    window = int(seconds(query.window))
    reduce = _OVER_TIME[query.function]
    # Each run's first and last sample (the last run goes on to the end).
    edges, start = [], 0
    for index, (text, count) in enumerate(runs):
        end = math.inf if index == len(runs) - 1 else start + count - 1
        edges.append((start, end, float(text)))
        start += count

    def value_at(at: int) -> float | None:
        first = max(0, -(-(at - window) // tl.step))
        if not keeps_window_start and first * tl.step == at - window:
            first += 1
        last = at // tl.step
        held = [value for begin, end, value in edges if begin <= last and end >= first]
        return _scaled(reduce(held), query) if first <= last else None

    key = ("runs", runs, keeps_window_start, query.function, window, tl.step, query.scale)
    return Scenario([series], value_at, {b: labels[b] for b in query.by}, key)


class EarlierMix(NamedTuple):
    """Up to sample `until`, a histogram's observations fall as knob `knob` puts them."""

    knob: int
    until: int


class HistogramScenario(Protocol):
    def __call__(self, knob: int, earlier: EarlierMix | None = ...) -> Scenario: ...


def histogram_scenarios(
    spec: Spec, metric: Metric, query: Query, tl: Timeline
) -> HistogramScenario:
    """Observations split between two neighbouring buckets (0-based; the last is +Inf),
    by a knob from 0 to `mix_top(metric, query)`: with n = `mix_steps(query)`
    observations per sample, knob k puts k % n of them in bucket k // n + 1 and the
    rest in bucket k // n. The quantile grows with the knob, through each bucket and on
    inside the next, so a search sets it just past or short of a threshold inside a
    bucket, not only at one of the bucket's two ends. With `earlier`, the observations
    fall as another knob puts them until a given sample. The labels are worked out once
    for a whole search, and each series made once, when a scenario first needs it."""
    labels = _with_matchers(base_labels(spec, metric), query, part=True)
    bounds = [*metric.buckets, math.inf]
    name = f"{metric.name}_bucket"
    per_bucket = [_sorted({**labels, "le": client_le(bound)}) for bound in bounds]
    window = int(seconds(query.window))
    shown = {b: labels[b] for b in query.by if b != "le"}
    steps = mix_steps(query)

    @cache
    def bucket_series(index: int, per_sample: int, earlier: EarlierMix | None) -> Series:
        if earlier is None:
            return Series(name, per_bucket[index], step_increase=Fraction(per_sample))
        before = _cumulative(index, *divmod(earlier.knob, steps), steps)
        turn = Turn(earlier.until, Fraction(per_sample))
        return Series(name, per_bucket[index], step_increase=Fraction(before), turns=(turn,))

    def scenario(knob: int, earlier: EarlierMix | None = None) -> Scenario:
        lower, moved = divmod(knob, steps)
        series = [
            bucket_series(index, _cumulative(index, lower, moved, steps), earlier)
            for index in range(len(bounds))
        ]

        def value_at(at: int) -> float | None:
            rates = [counter_rate(s, at, window, tl.step) for s in series]
            if any(r is None for r in rates) or not rates[-1]:
                return None
            counts = [float(r) for r in rates if r is not None]
            return _scaled(bucket_quantile(query.quantile, bounds, counts), query)

        key = ("quantile", tuple(bounds), knob, earlier, query.quantile, window, tl.step)
        return Scenario(series, value_at, dict(shown), (*key, query.scale))

    return scenario


#: Observations in the buckets above a quantile's rank, per sample of a histogram's
#: inputs: moved one at a time, they step the quantile through a tenth of a percent of
#: a bucket or less.
_TAIL_STEPS = 1000


def mix_steps(query: Query) -> int:
    """Observations per sample: a power of ten that puts `_TAIL_STEPS` or more above
    the quantile's rank (10,000 for a median, 1,000,000 for a 0.999 quantile)."""
    tail = 1 - (query.quantile or 0.5)
    exponent = max(4, math.ceil(math.log10(_TAIL_STEPS / tail)))
    return int(10**exponent)


def mix_top(metric: Metric, query: Query) -> int:
    """The highest knob of `histogram_scenarios`: every observation in the +Inf bucket."""
    return len(metric.buckets) * mix_steps(query)


def _cumulative(index: int, lower: int, moved: int, steps: int) -> int:
    """Per-sample growth of the cumulative bucket `index` when `moved` of `steps`
    observations are in bucket `lower + 1` and the others in bucket `lower`."""
    if index < lower:
        return 0
    return steps - moved if index == lower else steps


# ------------------------------------------------------------ two series in a group

#: The aggregations a second series in the group can tell apart (a count counts series).
_SPREADABLE = frozenset({"sum", "avg", "max", "min"})


def spread_over_two(
    spec: Spec, metric: Metric, query: Query, threshold_text: str
) -> Callable[[Scenario], Scenario]:
    """What turns a scenario's selected series (its first) into two series of one group
    whose aggregate is exactly the one series' value, in floating point too (halving
    and doubling are exact): two halves for `sum`, double and zero for `avg`, the
    series and a lower one for `max`, and a higher one for `min`.

    The other aggregations give another value, on which one of an alert's two tests
    changes its outcome: a rule whose aggregation was swapped (`max` for `avg`) fails
    its tests. The second series takes another value of a label the `where` lists
    several values for, if there is one, so that a `where` narrowed to one value fails
    them too; else of a label neither `by` nor `where` fixes. Where no label sets the
    two apart (or for `count`), the scenario stays as it is."""
    aggregation = query.aggregation
    apart = _second_series_label(spec, metric, query) if aggregation in _SPREADABLE else None
    if apart is None:
        return unchanged
    label, value = apart
    spread = _spread(threshold_text)
    # The second series' labels, by the first's: the firing and the silent test share them.
    relabelled: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}

    def spread_scenario(scenario: Scenario) -> Scenario:
        first, *others = scenario.series
        labels = relabelled.get(first.labels)
        if labels is None:
            labels = relabelled[first.labels] = _sorted({**dict(first.labels), label: value})
        if first.start_text is not None:  # a gauge, written as the spec writes numbers
            main_text, second_text = _split_value(first.start_text, aggregation, spread)
            main = _gauge(first.name, first.labels, main_text)
            second = _gauge(first.name, labels, second_text)
        else:  # a counter, whose rates are never negative
            main_step, second_step = _split_step(first.growth, aggregation)
            main = _counter(first.name, first.labels, main_step)
            second = _counter(first.name, labels, second_step)
        return Scenario([main, second, *others], scenario.value_at, scenario.labels, scenario.key)

    return spread_scenario


def unchanged(scenario: Scenario) -> Scenario:
    return scenario


#: Series are immutable: the tests of alerts over one metric and condition share them.
@lru_cache(maxsize=_SERIES_CACHE_SIZE)
def _gauge(name: str, labels: tuple[tuple[str, str], ...], text: str) -> Series:
    return Series(name, labels, start_text=text)


@lru_cache(maxsize=_SERIES_CACHE_SIZE)
def _counter(name: str, labels: tuple[tuple[str, str], ...], step: Fraction) -> Series:
    return Series(name, labels, step_increase=step)


def _second_series_label(spec: Spec, metric: Metric, query: Query) -> tuple[str, str] | None:
    """A label and the value a second series of the group takes for it, still selected
    (worked out once per metric and selection: the alerts over one metric share it)."""
    key = (metric.name, query.by, query.where, query.total_where)
    known: dict[Hashable, tuple[str, str] | None] = spec.derived("rule_inputs.second", dict)
    if key not in known:
        known[key] = _second_label_of(spec, metric, query)
    return known[key]


def _second_label_of(spec: Spec, metric: Metric, query: Query) -> tuple[str, str] | None:
    grouped = {*query.by, "le"}
    first = _with_matchers(base_labels(spec, metric), query, part=True)
    for matcher in query.where:
        others = [v for v in matcher.values if v != first[matcher.label]]
        if matcher.label not in grouped and others:
            return matcher.label, others[0]
    fixed = grouped | {m.label for m in (*query.where, *query.total_where)}
    for name in metric.label_names:
        other = None if name in fixed else label_value(metric, name, avoid=(first[name],))
        if other is not None:
            return name, other
    if "instance" in fixed:
        return None
    targets = spec.prometheus.targets
    return "instance", targets[1] if len(targets) > 1 else f"{spec.prometheus.instance}-2"


@lru_cache(maxsize=1 << 12)
def _spread(threshold_text: str) -> Decimal:
    """How far below (`max`) or above (`min`) a gauge's second series sits: twice the
    threshold's magnitude puts it past the threshold on the other side."""
    magnitude = abs(Decimal(threshold_text))
    return 2 * magnitude if magnitude else Decimal(1)


@lru_cache(maxsize=1 << 12)
def _split_value(text: str, aggregation: str, spread: Decimal) -> tuple[str, str]:
    """A gauge value as the two of a group (remembered: thresholds repeat)."""
    value = Decimal(text)
    first, second = {
        "sum": (value / 2, value / 2),
        "avg": (value * 2, Decimal(0)),
        "max": (value, value - spread),
        "min": (value, value + spread),
    }[aggregation]
    return (text if first == value else _decimal_text(first)), _decimal_text(second)


@lru_cache(maxsize=1 << 12)
def _split_step(growth: Growth, aggregation: str) -> tuple[Fraction, Fraction]:
    """A counter's increase per sample (by its growth, whose integers hash faster than
    a Fraction) as the two of a group."""
    step = Fraction(growth.increase, growth.denominator)
    if aggregation == "sum":
        return step / 2, step / 2
    if aggregation == "avg":
        return step * 2, Fraction(0)
    return step, (step / 2 if aggregation == "max" else step * 2)


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


# ------------------------------------------------------------ choosing values


@lru_cache(maxsize=1 << 12)
def nudged(threshold_text: str, up: bool) -> str:
    """A number 1% of its magnitude beside the threshold (100 -> 101, 0.8 -> 0.801), so
    that a test fails when the threshold moves by more than that."""
    value = Decimal(threshold_text)
    if value == 0:
        return "1" if up else "-1"
    exponent = math.floor(math.log10(abs(value))) - 2
    step = Decimal(1).scaleb(exponent)
    result = value + step if up else value - step
    return format(result.normalize(), "f")


@lru_cache(maxsize=1 << 12)
def plain_number(text: str) -> str:
    """A number as a series value: positional notation, no trailing zeros (1e3 -> 1000)."""
    return format(Decimal(text).normalize(), "f")


def near(value: float, threshold: float) -> bool:
    """Equal to the threshold up to floating-point noise, but not exactly: such a value
    (0.3 + 5.6e-17 from 4.5 per 15 s) fires or stays silent by that noise alone, not by
    the threshold, so no derived input rests on it."""
    return value != threshold and abs(value - threshold) <= abs(threshold) * 1e-9


def counter_steps(
    threshold: float, comparison: Comparison, value_of: Callable[[Fraction], float | None]
) -> tuple[Fraction | None, Fraction | None]:
    """The per-sample increases that make the steady value fire and stay silent, each as
    close to the threshold as a 1/100 step of it allows, and not merely by noise."""
    unit = _unit(threshold, value_of)
    if unit is None:
        return None, None
    above = _first_above(threshold, unit, value_of)
    if comparison is Comparison.ABOVE:  # silent at the threshold too: a flat counter for 0
        return above, _last_under(threshold, unit, value_of, above, or_equal=True)
    under = _last_under(threshold, unit, value_of, above, or_equal=False)
    return under, _exactly_on(threshold, unit, value_of, under, above)


def _exactly_on(
    threshold: float,
    unit: Fraction,
    value_of: Callable[[Fraction], float | None],
    under: Fraction | None,
    above: Fraction | None,
) -> Fraction | None:
    """For a `below`, the step between the last under and the first above when its
    steady value is exactly the threshold (where `<` and `<=` part), else `above`."""
    if under is None or above is None or under + unit >= above:
        return above
    return under + unit if _steady(value_of, under + unit) == threshold else above


def _unit(threshold: float, value_of: Callable[[Fraction], float | None]) -> Fraction | None:
    one = value_of(Fraction(1))
    if not one:
        return None
    target = abs(threshold) / 100 if threshold else one
    power = 0
    while one / 2**power > target and power < 24:
        power += 1
    return Fraction(1, 2**power)


def _first_above(
    threshold: float, unit: Fraction, value_of: Callable[[Fraction], float | None]
) -> Fraction | None:
    """The smallest step whose steady value is above the threshold, not by noise."""

    def above(step: Fraction) -> bool:
        value = _steady(value_of, step)
        return value > threshold and not near(value, threshold)

    low, high = 0, 1
    while not above(unit * high):
        high *= 2
        if high > 2**50:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        if above(unit * middle):
            high = middle
        else:
            low = middle
    return unit * high


def _last_under(
    threshold: float,
    unit: Fraction,
    value_of: Callable[[Fraction], float | None],
    above: Fraction | None,
    *,
    or_equal: bool,
) -> Fraction | None:
    """The largest step below `above` whose steady value is under the threshold by more
    than noise (or, `or_equal`, exactly on it)."""
    candidate = (above or unit) - unit
    while candidate >= 0:
        value = _steady(value_of, candidate)
        if (value < threshold or (or_equal and value == threshold)) and not near(value, threshold):
            return candidate
        candidate -= unit
    return None


def _steady(value_of: Callable[[Fraction], float | None], step: Fraction) -> float:
    value = value_of(step)
    return -math.inf if value is None else value
