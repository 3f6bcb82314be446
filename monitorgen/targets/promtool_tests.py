"""Unit tests for the rule file: `prometheus/rules.test.yml`, run by `promtool test rules`.

For every threshold alert: a series just past the threshold fires once `for` has
passed (and not one evaluation earlier) with the expected labels and annotations,
and a series just short of it stays silent. For every SLO: a fast burn pages, a
slow burn only opens a ticket, traffic without errors records an error ratio of 0,
no traffic records nothing and alerts nothing, and a missing SLI raises the absent
alert. Rules whose inputs cannot be derived soundly are listed at the top of the
file instead of being guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache, partial
from typing import Any, NamedTuple, TypeVar

from monitorgen.gotemplate import TemplateError, parse_template
from monitorgen.gotemplate import render as expand
from monitorgen.immutable import immutable
from monitorgen.model import (
    Alert,
    AlertTest,
    Comparison,
    Metric,
    MetricType,
    Query,
    QueryFunction,
    Spec,
)
from monitorgen.promql import PromQLError, needs_zero_guard, parse, seconds, without_brackets
from monitorgen.rule_inputs import (
    COMPARE,
    ON_TIME,
    CounterRatioScenario,
    EarlierMix,
    HistogramScenario,
    Late,
    NotDerivable,
    Scenario,
    Series,
    Timeline,
    Turn,
    alternating_gauge,
    base_labels,
    counter_increase,
    counter_rate,
    counter_ratio_scenarios,
    counter_scenarios,
    counter_steps,
    duration_seconds,
    gauge_run,
    gauge_scenarios,
    histogram_scenarios,
    label_value,
    mix_top,
    near,
    nudged,
    plain_number,
    ratio_scenarios,
    selected_by,
    series_name,
    spread_over_two,
    timeline,
    unchanged,
)
from monitorgen.rule_set import Rule, alert_rule, rule_groups
from monitorgen.structured_form import (
    CounterRatioForm,
    bare_rate_form,
    counter_ratio_form,
    stopped_counter_form,
    structured_form,
)
from monitorgen.targets.base import Artifact, block_text, commented_header, dump_yaml
from monitorgen.targets.prometheus_rules import RULES_PATH

TESTS_PATH = "prometheus/rules.test.yml"
_GAUGE_FUNCTIONS = (
    QueryFunction.VALUE,
    QueryFunction.AVG_OVER_TIME,
    QueryFunction.MAX_OVER_TIME,
    QueryFunction.MIN_OVER_TIME,
)
_COUNTER_FUNCTIONS = (QueryFunction.RATE, QueryFunction.INCREASE)
_SIMPLE_AGGREGATIONS = frozenset({"sum", "max", "min", "avg"})
#: Functions of how events or observations split, which read the same over any window
#: while the split is steady.
_SHARES = (QueryFunction.RATIO, QueryFunction.QUANTILE)
_COMPARISONS = frozenset(COMPARE)
_T = TypeVar("_T")


def render(spec: Spec) -> list[Artifact]:
    return assemble(spec, [render_chunk(spec, index) for index in range(chunk_count(spec))])


#: Alerts and SLOs per chunk: a large spec's tests are rendered chunk by chunk, by a
#: worker process and the build's own process at once (`targets.SharedRendering`).
CHUNK_SIZE = 10


@immutable
class UnitTests:
    """The test groups of one alert or SLO (unit `unit`: alerts first, then SLOs)."""

    unit: int
    text: str | None
    """Their YAML as items of the file's `tests:` list; None when only the library
    can write them (then `assemble` has the library write the whole file)."""
    skipped: tuple[str, ...]
    """A line for every rule of the unit left untested, and why."""


Chunk = tuple[UnitTests, ...]


def chunk_count(spec: Spec) -> int:
    return -(-(len(spec.alerts) + len(spec.slos)) // CHUNK_SIZE)


def render_chunk(spec: Spec, index: int) -> Chunk:
    units = unit_order(spec)[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
    return tuple(
        UnitTests(unit, block_text(tests) if tests else "", tuple(skipped))
        for unit, tests, skipped in _tests_of_units(spec, units)
    )


def unit_order(spec: Spec) -> tuple[int, ...]:
    """The units in the order chunks hold them: alerts of one shape of condition
    (function, window, threshold, `for`) side by side, then the SLOs. Such alerts share
    the searches and simulations `remembered` keeps, and a process that renders a run
    of chunks (the worker from the front, the build from the back) runs each once,
    where chunks in spec order would have both processes run most of them."""

    def shape(unit: int) -> tuple[str, ...]:
        alert = spec.alerts[unit]
        query, threshold = alert.query, alert.threshold
        if query is None or threshold is None:
            return ("raw",)
        above = threshold.comparison.value
        return (query.function.value, query.window or "", above, threshold.text, alert.for_)

    def ordered() -> tuple[int, ...]:
        alerts = sorted(range(len(spec.alerts)), key=lambda unit: (shape(unit), unit))
        return (*alerts, *range(len(spec.alerts), len(spec.alerts) + len(spec.slos)))

    return spec.derived("promtool_tests.unit_order", ordered)


def assemble(spec: Spec, chunks: Sequence[Chunk]) -> list[Artifact]:
    """The test file from every chunk: the same bytes as one whole dump."""
    head = {
        "rule_files": [RULES_PATH.rsplit("/", 1)[-1]],
        "evaluation_interval": spec.prometheus.evaluation_interval,
        "group_eval_order": [group.name for group in rule_groups(spec)],
    }
    units = sorted((unit for chunk in chunks for unit in chunk), key=lambda u: u.unit)
    notes = "".join(f"# Not tested here: {line}\n" for unit in units for line in unit.skipped)
    if any(unit.text is None for unit in units):
        tests, _skipped = unit_test_groups(spec)
        document = dump_yaml({**head, "tests": tests})
    else:
        tests_text = "".join(unit.text or "" for unit in units)
        document = dump_yaml(head) + (f"tests:\n{tests_text}" if tests_text else "tests: []\n")
    return [Artifact(TESTS_PATH, (commented_header(spec) + notes + document).encode())]


def unit_test_groups(spec: Spec) -> tuple[list[dict[str, Any]], list[str]]:
    """The promtool test groups, and a line for every rule left untested and why."""
    tests: list[dict[str, Any]] = []
    skipped: list[str] = []
    for _unit, found, reasons in _tests_of_units(spec, range(len(spec.alerts) + len(spec.slos))):
        tests.extend(found)
        skipped.extend(reasons)
    return tests, skipped


def _tests_of_units(
    spec: Spec, units: Iterable[int]
) -> Iterator[tuple[int, list[dict[str, Any]], list[str]]]:
    """For each unit (an alert's index, or the number of alerts plus an SLO's), its test
    groups and a line for every rule of it left untested and why."""
    from monitorgen.slo_tests import slo_test_groups

    tl = timeline(spec)
    alerts = len(spec.alerts)
    rules = _alert_rules(spec)
    for unit in units:
        if unit >= alerts:
            yield unit, *slo_test_groups(spec, spec.slos[unit - alerts], tl)
            continue
        alert, rule = spec.alerts[unit], rules[unit]
        tests: list[dict[str, Any]] = []
        skipped: list[str] = []
        try:
            tests.extend(_within_promtool_limit(spec, alert, tl, rule))
        except NotDerivable as reason:
            if not alert.tests:
                skipped.append(f"{_alert_title(spec, alert)}: {reason}")
        for test in alert.tests:
            try:
                tests.append(written_test_group(test, rule, tl))
            except NotDerivable as reason:
                skipped.append(f"{_alert_title(spec, alert)}: the test '{test.name}': {reason}")
        yield unit, tests, skipped


def _within_promtool_limit(
    spec: Spec, alert: Alert, tl: Timeline, rule: Rule
) -> list[dict[str, Any]]:
    """The alert's tests, fed at a coarser interval when a long window (an increase over
    2d at 15s) would load more samples than promtool allows: the expected values are
    worked out for the interval the series are written at, whatever it is."""
    try:
        return alert_test_groups(spec, alert, tl, rule)
    except TooManySamples as too_long:
        return alert_test_groups(spec, alert, coarser(tl, too_long), rule)


def _alert_rules(spec: Spec) -> tuple[Rule, ...]:
    """The alerts' rules in spec order, as the rule file has them (built once per spec)."""
    alerts = (g.rules for g in rule_groups(spec) if g.path == ("alerts",))
    return next(alerts, ())


def _alert_rules_by_path(spec: Spec) -> dict[tuple[str | int, ...], Rule]:
    """Each alert's rule by the alert's path (an alert turned off leaves a gap in the
    indexes)."""

    def by_path() -> dict[tuple[str | int, ...], Rule]:
        return dict(zip((alert.path for alert in spec.alerts), _alert_rules(spec), strict=True))

    return spec.derived("promtool_tests.alert_rules_by_path", by_path)


def remembered(spec: Spec, key: Hashable, compute: Callable[[], _T]) -> _T:
    """`compute()` once per spec and key (every time when the key is None). Thousands
    of alerts share a few hundred windows, thresholds and `for` durations: the
    searches and simulations that depend only on those run once for all of them."""
    if key is None:
        return compute()
    memo: dict[Hashable, Any] = spec.derived("promtool_tests.remembered", dict)
    found: _T = memo.get(key, _UNKNOWN)
    if found is _UNKNOWN:
        found = memo[key] = compute()
    return found


_UNKNOWN: Any = object()


def written_test_group(test: AlertTest, rule: Rule, tl: Timeline) -> dict[str, Any]:
    """A test the spec writes for its alert: its series as given, and the alerts it
    expects at `at` written out with the rule's labels and annotations."""
    expected = [
        expected_alert(rule, dict(f.labels), math.nan if f.value is None else f.value)
        for f in test.fires
    ]
    series = [{"series": name, "values": values} for name, values in test.input_series]
    return {
        "name": f"{rule.alert}: {test.name}",
        "interval": test.interval or duration_text(tl.step),
        "input_series": series,
        "alert_rule_test": [alert_check(duration_seconds(test.at), str(rule.alert), expected)],
    }


# ------------------------------------------------------------ threshold alerts


class Condition(NamedTuple):
    """When the alert's expression returns its series: `value <op> threshold`. (A
    tuple: it is part of the key of every remembered search and simulation.)"""

    op: str
    threshold: float

    def holds(self, value: float | None) -> bool:
        return value is not None and COMPARE[self.op](value, self.threshold)

    def clearly_holds(self, value: float | None) -> bool:
        """Holds, and not by floating-point noise: an input to derive, not a simulation."""
        return self.holds(value) and not near(value or 0.0, self.threshold)

    def clearly_fails(self, value: float | None) -> bool:
        return value is not None and not self.holds(value) and not near(value, self.threshold)


def alert_test_groups(
    spec: Spec, alert: Alert, tl: Timeline, rule: Rule | None = None
) -> list[dict[str, Any]]:
    """A firing and a silent test group for one alert (whose rule is `rule`, when
    given); NotDerivable when impossible."""
    recorded_labels: tuple[tuple[str, str], ...] = ()
    two_counters: CounterRatioForm | None = None
    guarded = (  # what the spec wrote, not a raw text read as a condition
        alert.query is not None
        and alert.threshold is not None
        and needs_zero_guard(alert.query, alert.threshold)
    )
    if alert.query is None:
        alert, recorded_labels = _as_structured(spec, alert)
    if alert.query is not None and alert.threshold is not None:
        condition = Condition(alert.threshold.comparison.value, alert.threshold.value)
        firing, silent = structured_scenarios(spec, alert, tl)
        spread = _two_series_in_a_group(spec, alert.query, alert.threshold.text)
        if recorded_labels:
            firing = _with_labels(firing, recorded_labels)
            silent = None if silent is None else _with_labels(silent, recorded_labels)
        ranged = alert.query.function is not QueryFunction.VALUE
        window = int(seconds(alert.query.window)) if ranged else 0
    else:
        from monitorgen.absence_tests import absence_test_groups  # built on this module

        rule = rule or alert_rule(spec, alert)
        absence = absence_test_groups(spec, alert, rule, tl)
        if absence is not None:
            return absence
        two_counters = counter_ratio_form(spec, alert.expr)
        condition, firing, silent, window = _raw_pair(spec, alert, two_counters, tl)
        spread = unchanged
    siblings = _siblings(spec, alert, recorded_labels)
    rule = rule or alert_rule(spec, alert)
    horizon = _horizon(window, rule, tl)
    filled = window  # from here on, the window holds inputs only: the value is steady
    groups = [_firing_group(spec, rule, spread(firing), condition, tl, horizon, siblings, filled)]
    if silent is not None:
        groups.append(_silent_group(spec, rule, spread(silent), condition, tl, horizon, siblings))
        kept = _keeps_firing_group(alert, rule, firing, silent, condition, tl, siblings)
        if kept is not None:
            groups.append(kept)
    if guarded:
        groups.append(_no_matching_events_group(spec, alert, rule, tl, horizon, siblings))
    filling = None
    if alert.query is not None and alert.query.function in _SHARES:
        filling = _filling_window_group(spec, alert, rule, condition, tl, siblings, recorded_labels)
    elif two_counters is not None:
        filling = _counter_ratio_filling_group(spec, two_counters, rule, tl, siblings)
    elif alert.query is None and (stopped := stopped_counter_form(spec, alert.expr)):
        filling = _stops_counting_group(spec, stopped, rule, tl, siblings)
    if filling is not None:
        groups.append(filling)
    if silent is not None and not siblings and not recorded_labels:
        told_apart = _over_time_group(spec, alert, rule, condition, tl, horizon)
        if told_apart is not None:
            groups.append(told_apart)
        run = _window_run_group(spec, alert, rule, condition, firing, silent, tl)
        if run is not None:
            groups.append(run)
    return groups


#: What each `*_over_time` reads of its window, in a test's name.
_READS = {
    QueryFunction.MAX_OVER_TIME: "highest value",
    QueryFunction.MIN_OVER_TIME: "lowest value",
    QueryFunction.AVG_OVER_TIME: "mean",
}


def _over_time_group(
    spec: Spec, alert: Alert, rule: Rule, condition: Condition, tl: Timeline, horizon: int
) -> dict[str, Any] | None:
    """A group whose single gauge series alternates so that the alert's `*_over_time`
    and the other two disagree: swapping the function fails it (the other groups feed
    a constant, which all three read alike). None for other conditions.

    With t the threshold, u half its size and s = 1 for `above` (-1 for `below`), the
    series alternates t + s·u and t - 2s·u, where only the reading furthest towards
    the threshold's side fires (max_over_time above, min_over_time below: expected to
    fire, on a value the series holds), or t - s·u and t + 2s·u, where only the reading
    furthest from it stays silent (expected to stay silent while the other two fire).
    avg_over_time gets the first and stays silent: a mean that fires would have to be
    expected to the last digit of its annotations, so the swap for the other extreme
    goes unseen."""
    query, threshold = alert.query, alert.threshold
    metric = spec.metric(query.metric) if query is not None else None
    if query is None or threshold is None or metric is None or query.scale is not None:
        return None
    reads = _READS.get(query.function)
    if reads is None:
        return None
    above = threshold.comparison is Comparison.ABOVE
    value = Decimal(plain_number(threshold.text))
    size = abs(value) / 2 or Decimal(1)
    sign = 1 if above else -1
    towards = QueryFunction.MAX_OVER_TIME if above else QueryFunction.MIN_OVER_TIME
    fires = query.function is towards
    if fires or query.function is QueryFunction.AVG_OVER_TIME:
        pair = (value + sign * size, value - 2 * sign * size)
    else:
        pair = (value - sign * size, value + 2 * sign * size)
    if seconds(query.window) < _FEWEST_SAMPLES * tl.step:
        return None
    texts = (plain_number(str(pair[0])), plain_number(str(pair[1])))
    scenario = alternating_gauge(spec, metric, query, texts, tl)
    shown = _shown(condition)
    try:
        if fires:  # at the horizon, where the window holds both values
            if not fires_at(horizon, scenario, condition, rule, tl):
                return None
            check = _firing_check(rule, scenario, horizon, _value(scenario, horizon), (), tl)
            name = f"{rule.name} fires when the window's {reads} is {shown}"
            return unit_test_group(name, scenario.series, tl, horizon, [check])
        if not _clearly_silent(scenario, condition, rule, tl, horizon):
            return None
        group = _silent_group(spec, rule, scenario, condition, tl, horizon)
    except NotDerivable:
        return None
    group["name"] = f"{rule.name} stays silent when the window's {reads} is not {shown}"
    return group


def _window_run_group(
    spec: Spec,
    alert: Alert,
    rule: Rule,
    condition: Condition,
    firing: Scenario,
    silent: Scenario,
    tl: Timeline,
) -> dict[str, Any] | None:
    """For `max_over_time` or `min_over_time` over a gauge: it holds the silent value,
    then the firing one for a run of samples, then the silent one again. The reading
    towards the threshold's side (max for `above`) fires from the run's start until
    the window lets go of it; the other only once the window holds nothing but the run.
    Where it stops or starts is as far from the run's edge as the window is long, which
    pins the window's length (a constant reads the same over any window). Checked one
    evaluation before and at the first firing, and at and one after the last. None for
    other conditions, or where Prometheus 2 and 3 (which leaves out a sample at the
    window's very start) would disagree."""
    query = alert.query
    if query is None or query.function not in _RUN_READINGS.values():
        return None
    metric = spec.metric(query.metric)
    fire, quiet = firing.series[0].start_text, silent.series[0].start_text
    if metric is None or fire is None or quiet is None or query.scale is not None:
        return None
    towards = query.function is _RUN_READINGS[condition.op in (">", ">=")]
    if tl.step >= tl.evaluation:  # every sample is read at a window's very start
        return None
    shape = (query.function, query.window, rule.for_, rule.keep_firing_for, condition, fire, quiet)
    key = ("run of values", *shape, tl.step, tl.evaluation)
    found = remembered(
        spec, key, lambda: _run_stretch(spec, metric, query, rule, condition, fire, quiet, tl)
    )
    if found is None:
        return None
    runs, first, last = found
    scenario = gauge_run(spec, metric, query, runs, tl)
    window = int(seconds(query.window))
    checks = [
        alert_check(first - tl.evaluation, rule.name, []),
        _firing_check(rule, scenario, first, _value(scenario, first), (), tl),
        _firing_check(rule, scenario, last, _value(scenario, last), (), tl),
        alert_check(last + tl.evaluation, rule.name, []),
    ]
    shown, length = _shown(condition), duration_text(window)
    name = (
        f"{rule.name} fires from a run of values {shown} until its {length} window lets go of it"
        if towards
        else f"{rule.name} fires only once its {length} window holds nothing but values {shown}"
    )
    return unit_test_group(name, scenario.series, tl, last + tl.evaluation, checks)


def _run_stretch(
    spec: Spec,
    metric: Metric,
    query: Query,
    rule: Rule,
    condition: Condition,
    fire: str,
    quiet: str,
    tl: Timeline,
) -> tuple[tuple[tuple[str, int], ...], int, int] | None:
    """The runs of values, and the first and last evaluation at which the alert fires
    on them (one stretch); None where there is no such stretch or Prometheus 2 and 3
    would read them apart. The same for every alert of one shape and threshold."""
    window = int(seconds(query.window))
    hold = duration_seconds(rule.for_) + duration_seconds(rule.keep_firing_for)
    towards = query.function is _RUN_READINGS[condition.op in (">", ">=")]
    # Neither the last silent sample before the run nor its last sample may sit at a
    # window's start when an evaluation reads it (Prometheus 2 and 3 part there).
    lead = _off_window_starts(-(-2 * tl.evaluation // tl.step), window, tl)
    least = (window if not towards else 0) + hold + 3 * tl.evaluation
    run = _off_window_starts(lead + -(-least // tl.step), window, tl) - lead
    runs = ((quiet, lead + 1), (fire, run), (quiet, 1))
    horizon = (lead + run) * tl.step + (window if towards else 0) + hold + 3 * tl.evaluation
    scenario = gauge_run(spec, metric, query, runs, tl)
    later = gauge_run(spec, metric, query, runs, tl, keeps_window_start=False)
    times = range(0, horizon + 1, tl.evaluation)
    if any(scenario.value_at(at) != later.value_at(at) for at in times):
        return None
    stretch = [
        state.at for state in simulate(scenario, condition, rule, tl, horizon) if state.firing
    ]
    if not stretch or stretch != list(range(stretch[0], stretch[-1] + 1, tl.evaluation)):
        return None
    first, last = stretch[0], stretch[-1]
    if first < tl.evaluation or last + tl.evaluation > horizon:
        return None
    return runs, first, last


def _off_window_starts(sample: int, window: int, tl: Timeline) -> int:
    """The first sample from `sample` on that no evaluation reads at the very start of
    its window."""
    while (sample * tl.step + window) % tl.evaluation == 0:
        sample += 1
    return sample


#: The reading towards each side of a threshold: the highest value for `above`.
_RUN_READINGS = {True: QueryFunction.MAX_OVER_TIME, False: QueryFunction.MIN_OVER_TIME}


#: The fewest samples a window of the alternating series holds, whether its start is
#: in the window (Prometheus 2) or not (3): every window then holds both values, and a
#: mean stays a fifth of their gap away from the threshold, whatever the count's parity
#: (with three it may land on the threshold itself).
_FEWEST_SAMPLES = 4


def _clearly_silent(
    scenario: Scenario, condition: Condition, rule: Rule, tl: Timeline, horizon: int
) -> bool:
    """Whether the silence at the horizon rests on the values, not on rounding: a value
    there clearly short of the threshold, and no `keep_firing_for` carrying earlier
    states (of windows still filling) into it."""
    if duration_seconds(rule.keep_firing_for):
        return False
    return condition.clearly_fails(scenario.value_at(horizon))


def _no_matching_events_group(
    spec: Spec, alert: Alert, rule: Rule, tl: Timeline, horizon: int, siblings: tuple[Sibling, ...]
) -> dict[str, Any]:
    """For a `below` guarded with `or 0 *` (see `promql.compile_condition`): events the
    `where` leaves out, and none it picks, count as 0 for their group, which fires."""
    query = alert.query
    metric = spec.metric(query.metric) if query is not None else None
    assert query is not None and metric is not None
    outside = _outside_where(metric, query, skip=frozenset(query.by))
    if outside is None:
        raise NotDerivable("every value of the `where` labels is picked")
    labels = {**selected_by(base_labels(spec, metric), query.where), outside[0]: outside[1]}
    series = Series(series_name(metric), tuple(sorted(labels.items())), step_increase=Fraction(1))
    shown = {b: labels[b] for b in query.by}
    scenario = Scenario([series], lambda at: 0.0 if at >= tl.step else None, shown)
    return unit_test_group(
        f"{_title(rule, siblings)} fires when no event matches yet",
        scenario.series,
        tl,
        horizon,
        [_firing_check(rule, scenario, horizon, 0.0, siblings, tl)],
    )


def _two_series_in_a_group(
    spec: Spec, query: Query, threshold_text: str
) -> Callable[[Scenario], Scenario]:
    """For a gauge's or a counter's condition, the tests feed two series into the group
    the rule aggregates, so that the aggregation matters (see `spread_over_two`); a
    ratio's scenarios split its selected events themselves (`ratio_scenarios`), and a
    quantile sums its buckets and keeps one series."""
    function = query.function
    metric = spec.metric(query.metric)
    if metric is None or not (function in _GAUGE_FUNCTIONS or function in _COUNTER_FUNCTIONS):
        return unchanged
    return spread_over_two(spec, metric, query, threshold_text)


def _keeps_firing_group(
    alert: Alert,
    rule: Rule,
    firing: Scenario,
    silent: Scenario,
    condition: Condition,
    tl: Timeline,
    siblings: tuple[Sibling, ...],
) -> dict[str, Any] | None:
    """For `keep_firing_for` on a gauge's value: the value falls back short of the
    threshold one evaluation after the alert fires; the alert keeps firing (with the
    value it last had) for `keep_firing_for`, then resolves. None where the inputs
    cannot show it (another function, or alerts of the same name)."""
    keep = duration_seconds(rule.keep_firing_for)
    if not keep or siblings or alert.query is None:
        return None
    if alert.query.function is not QueryFunction.VALUE:
        return None
    lit, quiet = firing.series[0], silent.series[0]
    if lit.start_text is None or quiet.start_text is None or lit.labels != quiet.labels:
        return None
    hold = duration_seconds(rule.for_)
    first = first_firing(firing, condition, rule, tl, hold + 2 * tl.evaluation)
    if first is None or first.value is None:
        return None
    cleared, value = first.at + tl.evaluation, first.value
    quiet_value = silent.value_at(cleared)
    scenario = replace(firing, value_at=lambda at: value if at < cleared else quiet_value)
    end = cleared + keep + 2 * tl.evaluation
    states = list(simulate(scenario, condition, rule, tl, end))
    last = max(state.at for state in states if state.firing)
    resolved = next((s.at for s in states if s.at > last and not s.firing), None)
    if last < cleared or resolved is None:
        return None
    before, after = cleared // tl.step, (end - cleared) // tl.step + 1
    values = f"{_repeated(lit.start_text, before)} {_repeated(quiet.start_text, after)}"
    expected = expected_alert(rule, firing.labels, value)
    return {
        "name": f"{_title(rule, siblings)} keeps firing for {rule.keep_firing_for} "
        f"once not {_shown(condition)}",
        "interval": duration_text(tl.step),
        "input_series": [{"series": lit.selector(), "values": values}],
        "alert_rule_test": [
            alert_check(last, rule.name, [expected]),
            alert_check(resolved, rule.name, []),
        ],
    }


def _repeated(text: str, count: int) -> str:
    """`count` samples of one value in promtool's notation (`axn` writes n + 1)."""
    return text if count == 1 else f"{text}x{count - 1}"


@immutable
class Sibling:
    """Another alert of the same name (the critical tier of a warning), over the same
    query: `promtool` checks every alert of a name at once, so a test expects it too
    whenever the inputs make it fire."""

    rule: Rule
    condition: Condition


def _siblings(
    spec: Spec, alert: Alert, recorded_labels: tuple[tuple[str, str], ...]
) -> tuple[Sibling, ...]:
    """The other alerts named like `alert` (structured or read as structured). The
    inputs of `alert` tell whether one fires only if it compares the same query (and
    the same recorded labels); otherwise NotDerivable."""
    found = []
    rules = _alert_rules_by_path(spec)
    for other in spec.alerts_named(alert.name):
        if other.path == alert.path:
            continue
        rule = rules[other.path]
        labels: tuple[tuple[str, str], ...] = ()
        if other.query is None:
            other, labels = _as_structured(spec, other)
        if (
            alert.query is None
            or other.query != alert.query
            or other.threshold is None
            or labels != recorded_labels
        ):
            raise NotDerivable(
                f"the {other.severity.value} alert of the same name watches another "
                "expression, whose firing these inputs do not tell"
            )
        condition = Condition(other.threshold.comparison.value, other.threshold.value)
        found.append(Sibling(rule, condition))
    return tuple(found)


def _siblings_firing(
    siblings: tuple[Sibling, ...], scenario: Scenario, at: int, tl: Timeline
) -> list[dict[str, Any]]:
    """What the alerts of the same name fire at `at` on the scenario's inputs."""
    return [
        expected_alert(sibling.rule, scenario.labels, _value(scenario, at))
        for sibling in siblings
        if fires_at(at, scenario, sibling.condition, sibling.rule, tl)
    ]


def _alert_title(spec: Spec, alert: Alert) -> str:
    """The alert's name, with its severity when others share the name."""
    if len(spec.alerts_named(alert.name)) < 2:
        return alert.name
    return f"{alert.name} ({alert.severity.value})"


def _title(rule: Rule, siblings: tuple[Sibling, ...]) -> str:
    """The alert's name, with its severity when others share the name."""
    if not siblings:
        return rule.name
    return f"{rule.name} ({rule.label_map()['severity']})"


def _value(scenario: Scenario, at: int) -> float:
    value = scenario.value_at(at)
    assert value is not None  # an alert fires only on a value
    return value


def _as_structured(spec: Spec, alert: Alert) -> tuple[Alert, tuple[tuple[str, str], ...]]:
    """A raw alert as the structured condition its expression is, if it is one (its
    inputs are then derived as that condition's are), and the labels its compared
    series carries besides the condition's (a recording rule's)."""
    form = structured_form(spec, alert.expr)
    if form is None:
        return alert, ()
    return replace(alert, query=form.query, threshold=form.threshold), form.labels


def _with_labels(scenario: Scenario, labels: tuple[tuple[str, str], ...]) -> Scenario:
    """The scenario with the result series also carrying `labels` (over its own, as a
    recording rule's labels replace those of its expression's result)."""
    return replace(scenario, labels={**scenario.labels, **dict(labels)})


def _horizon(window: int, rule: Rule, tl: Timeline) -> int:
    hold = duration_seconds(rule.for_)
    keep = duration_seconds(rule.keep_firing_for)
    span = window + hold + keep + 2 * tl.evaluation
    return math.ceil(span / tl.evaluation) * tl.evaluation


@immutable(slots=True)
class Evaluation:
    at: int
    value: float | None
    firing: bool


def simulate(
    scenario: Scenario, condition: Condition, rule: Rule, tl: Timeline, horizon: int
) -> Iterator[Evaluation]:
    """Prometheus' alert states at each evaluation: pending until `for` has passed,
    firing after, kept firing for `keep_firing_for` once the condition stops. Lazy, so
    a search for the first firing evaluation stops there."""
    hold = duration_seconds(rule.for_)
    keep = duration_seconds(rule.keep_firing_for)
    active_at: int | None = None
    firing = False
    keep_since: int | None = None
    value_at, holds = scenario.value_at, condition.holds
    for at in range(0, horizon + 1, tl.evaluation):
        value = value_at(at)
        if holds(value):
            active_at = at if active_at is None else active_at
            keep_since = None
            firing = firing or at - active_at >= hold
        elif firing and keep:
            keep_since = at if keep_since is None else keep_since
            if at - keep_since >= keep:
                active_at, firing, keep_since = None, False, None
        else:
            active_at, firing = None, False
        yield Evaluation(at, value, firing)


def fires_at(at: int, scenario: Scenario, condition: Condition, rule: Rule, tl: Timeline) -> bool:
    """Whether the alert fires at evaluation time `at`. Without `keep_firing_for` that
    depends only on the run of evaluations where the condition holds that ends at `at`,
    so it is read backwards from there: usually one evaluation instead of all of them."""
    if duration_seconds(rule.keep_firing_for):
        *_, last = simulate(scenario, condition, rule, tl, at)
        return last.firing
    hold = duration_seconds(rule.for_)
    earlier = at
    while earlier >= 0 and condition.holds(scenario.value_at(earlier)):
        if at - earlier >= hold:
            return True
        earlier -= tl.evaluation
    return False


def first_firing(
    scenario: Scenario, condition: Condition, rule: Rule, tl: Timeline, horizon: int
) -> Evaluation | None:
    """The first evaluation at which the alert fires, as `simulate` finds it. Until
    then `keep_firing_for` plays no part, so only the start of the current run of
    evaluations where the condition holds is followed."""
    hold = duration_seconds(rule.for_)
    value_at, holds = scenario.value_at, condition.holds
    active_at: int | None = None
    for at in range(0, horizon + 1, tl.evaluation):
        value = value_at(at)
        if not holds(value):
            active_at = None
            continue
        active_at = at if active_at is None else active_at
        if at - active_at >= hold:
            return Evaluation(at, value, True)
    return None


def _simulation_key(
    what: str, scenario: Scenario, condition: Condition, rule: Rule, tl: Timeline, horizon: int
) -> Hashable:
    """What the alert states over a scenario depend on; None when it has no key."""
    if scenario.key is None:
        return None
    hold, keep = duration_seconds(rule.for_), duration_seconds(rule.keep_firing_for)
    return (what, scenario.key, condition, hold, keep, tl.evaluation, horizon)


def _firing_group(
    spec: Spec,
    rule: Rule,
    scenario: Scenario,
    condition: Condition,
    tl: Timeline,
    horizon: int,
    siblings: tuple[Sibling, ...] = (),
    filled: int = 0,
    title: str | None = None,
) -> dict[str, Any]:
    """Silent one evaluation before the alert first fires, firing then; and, when it
    first fires on a window still filling (a `below` on a rate, with a short `for`),
    firing at the horizon too, on the steady value just past the threshold: that one
    pins the threshold, as the value of a half-empty window does not."""
    key = _simulation_key("first firing", scenario, condition, rule, tl, horizon)
    first = remembered(spec, key, lambda: first_firing(scenario, condition, rule, tl, horizon))
    if first is None or first.value is None:
        raise NotDerivable("the derived inputs do not make it fire")
    checks = []
    if first.at >= tl.evaluation:
        before = first.at - tl.evaluation
        checks.append(
            alert_check(before, rule.name, _siblings_firing(siblings, scenario, before, tl))
        )
    checks.append(_firing_check(rule, scenario, first.at, first.value, siblings, tl))
    until = first.at
    # A share or a gauge reads the same on a filling window: only a changed value counts.
    if first.at < filled <= horizon and scenario.value_at(horizon) != first.value:
        steady_key = _simulation_key("fires at the end", scenario, condition, rule, tl, horizon)
        if remembered(spec, steady_key, lambda: fires_at(horizon, scenario, condition, rule, tl)):
            value = _value(scenario, horizon)
            checks.append(_firing_check(rule, scenario, horizon, value, siblings, tl))
            until = horizon
    return unit_test_group(
        title or f"{_title(rule, siblings)} fires when {_shown(condition)}",
        scenario.series,
        tl,
        until,
        checks,
    )


def _firing_check(
    rule: Rule,
    scenario: Scenario,
    at: int,
    value: float,
    siblings: tuple[Sibling, ...],
    tl: Timeline,
) -> dict[str, Any]:
    expected = expected_alert(rule, scenario.labels, value)
    return alert_check(at, rule.name, [expected, *_siblings_firing(siblings, scenario, at, tl)])


def _silent_group(
    spec: Spec,
    rule: Rule,
    scenario: Scenario,
    condition: Condition,
    tl: Timeline,
    horizon: int,
    siblings: tuple[Sibling, ...] = (),
) -> dict[str, Any]:
    key = _simulation_key("fires at the end", scenario, condition, rule, tl, horizon)
    if remembered(spec, key, lambda: fires_at(horizon, scenario, condition, rule, tl)):
        raise NotDerivable("the series short of the threshold still fires")
    return unit_test_group(
        f"{_title(rule, siblings)} stays silent when not {_shown(condition)}",
        scenario.series,
        tl,
        horizon,
        [alert_check(horizon, rule.name, _siblings_firing(siblings, scenario, horizon, tl))],
    )


def _shown(condition: Condition) -> str:
    return f"{condition.op} {_number(condition.threshold)}"


def _number(value: float) -> str:
    return f"{value:g}"


def expected_alert(rule: Rule, labels: Mapping[str, str], value: float) -> dict[str, Any]:
    """The labels and annotations Prometheus gives the alert for this series and value."""
    expected_labels = dict(labels)
    series = tuple(labels.items())
    for field in rule.labels:
        expected_labels[field.key] = _expanded(field.value, value, series)
    annotations = {f.key: _expanded(f.value, value, series) for f in rule.annotations}
    return {"exp_labels": dict(sorted(expected_labels.items())), "exp_annotations": annotations}


def _expanded(template: str, value: float, labels: tuple[tuple[str, str], ...]) -> str:
    if "{{" not in template and "}}" not in template:
        return template  # text without actions expands to itself: most labels and summaries
    try:
        text = _expansion(template, value, repr(value), labels)
    except TemplateError as error:
        raise NotDerivable(f"template {template!r} does not parse: {error}") from None
    if text is None:
        raise NotDerivable(f"template {template!r} uses more than values, labels and humanize")
    return text


@lru_cache(maxsize=1 << 14)
def _expansion(
    template: str, value: float, value_text: str, labels: tuple[tuple[str, str], ...]
) -> str | None:
    """Remembered: alerts that share a description, a value and series labels expand
    it alike. `value_text` keeps apart values that are equal but print differently
    (0.0 and -0.0)."""
    return expand(parse_template(template), value, dict(labels))


def alert_check(at: int, name: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": duration_text(at), "alertname": name, "exp_alerts": alerts}


#: The most samples `promtool test rules` lets one query load; a rule over every input
#: series of a longer test fails it.
PROMTOOL_MAX_SAMPLES = 10_000


class TooManySamples(NotDerivable):
    """A test longer than promtool loads at this sample interval."""

    def __init__(self, message: str, samples: int) -> None:
        super().__init__(message)
        self.samples = samples


def unit_test_group(
    name: str,
    series: list[Series],
    tl: Timeline,
    until: int,
    checks: list[dict[str, Any]],
    samples: int | None = None,
) -> dict[str, Any]:
    """A test group of `checks` up to `until`, its series written up to then or, given
    `samples`, up to that sample and no further (the series then goes missing)."""
    samples = tl.samples_until(until) if samples is None else samples
    if samples * len(series) > PROMTOOL_MAX_SAMPLES:
        raise TooManySamples(
            f"its test would run {duration_text(until)} at {duration_text(tl.step)} a sample, "
            f"past the {PROMTOOL_MAX_SAMPLES:,} samples promtool lets a query load",
            samples * len(series),
        )
    return {
        "name": name,
        "interval": duration_text(tl.step),
        "input_series": [{"series": s.selector(), "values": s.values(samples)} for s in series],
        "alert_rule_test": checks,
    }


@lru_cache(maxsize=1 << 12)
def duration_text(total: int) -> str:
    """Seconds as a Prometheus duration: 90 -> 1m30s, 3600 -> 1h."""
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# ------------------------------------------------------------ structured conditions


def structured_scenarios(
    spec: Spec, alert: Alert, tl: Timeline
) -> tuple[Scenario, Scenario | None]:
    """Inputs just past and just short of the threshold, for a structured condition."""
    query, threshold = alert.query, alert.threshold
    assert query is not None and threshold is not None
    metric = spec.metric(query.metric)
    if metric is None:
        raise NotDerivable(f"metric {query.metric} is not declared")
    if query.aggregation == "count":
        raise NotDerivable("a count aggregation counts series, not values")
    steady = _steady(query.window, tl)
    fn = query.function
    if fn in _GAUGE_FUNCTIONS:
        return _with_decoys(metric, query, *_gauge_pair(spec, metric, alert))
    if fn in _COUNTER_FUNCTIONS:
        return _with_decoys(metric, query, *_counter_pair(spec, metric, alert, tl, steady))
    if fn is QueryFunction.RATIO:
        return _ratio_pair(spec, metric, alert, tl, steady)
    return _with_decoys(metric, query, *_quantile_pair(spec, metric, alert, tl, steady))


def _with_decoys(
    metric: Metric, query: Query, firing: Scenario, silent: Scenario | None
) -> tuple[Scenario, Scenario | None]:
    """Each test also feeds series the `where` leaves out (one for each value declared
    for its label and left out), carrying the other test's values: a rule that lost or
    widened its `where` counts them, so one of the two tests fails (the silent one
    fires, or the firing one does not). The expected values stay those of the
    selected series alone."""
    if silent is None:
        return firing, silent
    outside = _outside_where(metric, query)
    if outside is None:
        return firing, silent
    label = outside[0]
    values = _declared_outside(metric, label, query) or (outside[1],)

    def moved(series: list[Series]) -> list[Series]:
        return [
            Series(
                s.name, _relabelled(s.labels, label, value), s.start, s.step_increase, s.start_text
            )
            for value in values
            for s in series
        ]

    return (
        replace(firing, series=[*firing.series, *moved(silent.series)]),
        replace(silent, series=[*silent.series, *moved(firing.series)]),
    )


def _outside_where(
    metric: Metric, query: Query, skip: frozenset[str] = frozenset()
) -> tuple[str, str] | None:
    """A label the `where` selects on and a value it leaves out. (Grouped by that
    label, the left-out series form a group of their own, which a rule that lost its
    `where` alerts on, or not, as the other test's inputs do.)"""
    for matcher in query.where:
        if matcher.label in skip:
            continue
        other = label_value(metric, matcher.label, avoid=matcher.values)
        if other is not None:
            return matcher.label, other
    return None


def _declared_outside(metric: Metric, label: str, query: Query) -> tuple[str, ...]:
    """Every declared value of `label` its matcher leaves out: a decoy of each, so that a
    matcher widened to any of them (`!=` for `=`, one more alternative) counts it."""
    declared = next((x.values for x in metric.labels if x.name == label), ())
    picked = {v for m in query.where if m.label == label for v in m.values}
    return tuple(v for v in declared if v not in picked)


def _relabelled(
    labels: tuple[tuple[str, str], ...], label: str, value: str
) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**dict(labels), label: value}.items()))


def _gauge_pair(spec: Spec, metric: Metric, alert: Alert) -> tuple[Scenario, Scenario | None]:
    query, threshold = alert.query, alert.threshold
    assert query is not None and threshold is not None
    if query.scale is not None:
        raise NotDerivable("a scaled gauge query")
    above = threshold.comparison is Comparison.ABOVE
    scenario = gauge_scenarios(spec, metric, query)
    firing = scenario(nudged(threshold.text, up=above))
    # Exactly on the threshold, where `>` and `>=` (or `<` and `<=`) part.
    silent = scenario(plain_number(threshold.text))
    return firing, silent


def _counter_pair(
    spec: Spec, metric: Metric, alert: Alert, tl: Timeline, steady: int
) -> tuple[Scenario, Scenario | None]:
    query, threshold = alert.query, alert.threshold
    assert query is not None and threshold is not None

    scenario = counter_scenarios(spec, metric, query, tl)

    def value_of(step: Fraction) -> float | None:
        return scenario(step).value_at(steady)

    # One scenario's key names the whole family: its members differ only in the knob.
    search = (
        "counter steps",
        scenario(Fraction(1)).key,
        steady,
        threshold.value,
        threshold.comparison,
    )
    fire, silent = remembered(
        spec, search, lambda: counter_steps(threshold.value, threshold.comparison, value_of)
    )
    if fire is None:
        raise NotDerivable("no counter growth reaches the threshold")
    return scenario(fire), None if silent is None else scenario(silent)


RATIO_PARTS = 1000


def _ratio_pair(
    spec: Spec, metric: Metric, alert: Alert, tl: Timeline, steady: int
) -> tuple[Scenario, Scenario | None]:
    """`part` of every RATIO_PARTS events per sample match the `where`."""
    scenario, fire, quiet = _ratio_knobs(spec, metric, alert, tl, steady)
    return scenario(fire), None if quiet is None else scenario(quiet)


def _ratio_knobs(
    spec: Spec,
    metric: Metric,
    alert: Alert,
    tl: Timeline,
    steady: int,
    late: Late = ON_TIME,
    halved: bool = False,
) -> tuple[Callable[[int], Scenario], int, int | None]:
    """The ratio's scenarios by matching events of every RATIO_PARTS (`late` and
    `halved` as `ratio_scenarios` has them), and the firing and the silent share closest
    together in steady traffic (the silent one None when every share fires)."""
    query, threshold = alert.query, alert.threshold
    assert query is not None and threshold is not None
    condition = Condition(threshold.comparison.value, threshold.value)

    split = ratio_scenarios(spec, metric, query, tl)

    def scenario(part: int) -> Scenario:
        return split(Fraction(part), Fraction(RATIO_PARTS - part), late, halved)

    def steady_value(part: int) -> float | None:
        return split(Fraction(part), Fraction(RATIO_PARTS - part)).value_at(steady)

    search = ("ratio parts", split(Fraction(0), Fraction(RATIO_PARTS)).key, condition, steady)
    found = remembered(spec, search, lambda: _knob_pair(RATIO_PARTS, steady_value, condition))
    if found is None:
        raise NotDerivable("no share of matching events reaches the threshold")
    return scenario, *found


def _filling_window_group(
    spec: Spec,
    alert: Alert,
    rule: Rule,
    condition: Condition,
    tl: Timeline,
    siblings: tuple[Sibling, ...],
    recorded_labels: tuple[tuple[str, str], ...],
) -> dict[str, Any] | None:
    """For a ratio or a quantile, which read the same over any window while the split
    of events is steady: the events that push it past the threshold begin a full
    window after the others, so it moves from the silent end to just past the
    threshold as the window fills with them, and the alert first fires when the window
    is nearly full. That pins the window's length.

    For a ratio, the matching events begin late (`above`) or the others (`below`), and
    the matching ones are split over two series of the group (see `ratio_scenarios`): a
    rule counting only one of them crosses at another time. For a quantile, the
    observations fall in the lowest (`above`) or the +Inf bucket (`below`) until the
    ones just past the threshold begin. None where no such test can be derived (the
    silent end already fires, or a checked value is a rounding away from the
    threshold)."""
    test = partial(_filling_window_test, spec, alert, rule, condition, siblings, recorded_labels)
    return optional_group(test, tl)


def optional_group(
    test: Callable[[Timeline], dict[str, Any]], tl: Timeline
) -> dict[str, Any] | None:
    """The group `test` makes at `tl`, or at a coarser interval where that would load
    more samples than promtool allows; None where it cannot be derived (a test on top
    of an alert's or an SLO's own, which are tested without it)."""
    try:
        return test(tl)
    except TooManySamples as too_long:
        try:
            return test(coarser(tl, too_long))
        except NotDerivable:
            return None
    except NotDerivable:
        return None


def _filling_window_test(
    spec: Spec,
    alert: Alert,
    rule: Rule,
    condition: Condition,
    siblings: tuple[Sibling, ...],
    recorded_labels: tuple[tuple[str, str], ...],
    tl: Timeline,
) -> dict[str, Any]:
    query, threshold = alert.query, alert.threshold
    assert query is not None and threshold is not None
    metric = spec.metric(query.metric)
    assert metric is not None  # the ratio's other tests found it
    window = int(seconds(query.window))
    delay = _steady(query.window, tl)
    above = threshold.comparison is Comparison.ABOVE
    samples = delay // tl.step
    if query.function is QueryFunction.RATIO:
        late = Late(part=samples) if above else Late(rest=samples)
        scenario, fire, _quiet = _ratio_knobs(spec, metric, alert, tl, delay, late, halved=True)
        filling = scenario(fire)
        which = "matching events" if above else "other events"
    else:
        mixes, fire, _quiet = _quantile_knobs(spec, metric, alert, tl, delay)
        earlier = EarlierMix(0 if above else mix_top(metric, query), samples)
        filling = mixes(fire, earlier)
        which = "higher observations" if above else "lower observations"
    if recorded_labels:
        filling = _with_labels(filling, recorded_labels)
    return _crossing_as_it_fills(spec, rule, filling, condition, tl, siblings, delay, window, which)


def _crossing_as_it_fills(
    spec: Spec,
    rule: Rule,
    filling: Scenario,
    condition: Condition,
    tl: Timeline,
    siblings: tuple[Sibling, ...],
    delay: int,
    window: int,
    which: str,
) -> dict[str, Any]:
    """The firing group of inputs whose events `which` begin `delay` late, checked one
    evaluation before and at the first firing: after the late events begin, and with
    the share clear of rounding at both (Prometheus adds the rates in its own order)."""
    horizon = delay + _horizon(window, rule, tl)
    key = _simulation_key("first firing", filling, condition, rule, tl, horizon)
    first = remembered(spec, key, lambda: first_firing(filling, condition, rule, tl, horizon))
    crossed = -1 if first is None else first.at - duration_seconds(rule.for_)
    if first is None or crossed <= delay:
        raise NotDerivable("it fires before the late events begin")
    checked = (crossed - tl.evaluation, crossed)
    if any(near(filling.value_at(at) or 0.0, condition.threshold) for at in checked):
        raise NotDerivable("the share crosses a rounding away from an evaluation")
    title = (
        f"{_title(rule, siblings)} fires when {_shown(condition)} only once {which} "
        f"fill its {duration_text(window)} window"
    )
    return _firing_group(
        spec, rule, filling, condition, tl, horizon, siblings, delay + window, title
    )


def coarser(tl: Timeline, too_long: TooManySamples) -> Timeline:
    """A timeline whose samples are few enough for promtool."""
    factor = math.ceil(too_long.samples / (PROMTOOL_MAX_SAMPLES * 0.9))
    return Timeline(tl.step * factor, tl.evaluation)


#: The comparisons whose firing knob values form one run at an end of the range when
#: the expression grows with the knob: a binary search finds where the run starts.
_ORDERED = {">": True, ">=": True, "<": False, "<=": False}


def _knob_pair(
    top: int, value_of: Callable[[int], float | None], condition: Condition
) -> tuple[int, int | None] | None:
    """The firing and the silent knob value in 0..top that lie closest together (the
    silent one None when every value fires), or None when none fires.

    The expression must not decrease as the knob grows. An ordered comparison then
    needs a few evaluations instead of one per knob value; `==` and `!=` try them all.
    """
    low, high = value_of(0), value_of(top)
    if condition.op not in _ORDERED or low is None or high is None:
        values = [(knob, value_of(knob)) for knob in range(top + 1)]
        firing = [k for k, v in values if condition.clearly_holds(v)]
        silent = [k for k, v in values if condition.clearly_fails(v)]
        return _closest_to(firing, silent) if firing else None
    fires_high = _ORDERED[condition.op]
    if not condition.clearly_holds(high if fires_high else low):
        return None
    if condition.clearly_holds(low if fires_high else high):
        return 0, None
    # Invariant: `firing_end` clearly fires and `silent_end` does not; they close in on
    # the edge. A knob on the threshold itself (up to noise) is then stepped over.
    silent_end, firing_end = (0, top) if fires_high else (top, 0)
    while abs(firing_end - silent_end) > 1:
        middle = (silent_end + firing_end) // 2
        if condition.clearly_holds(value_of(middle)):
            firing_end = middle
        else:
            silent_end = middle
    away = -1 if fires_high else 1
    while 0 <= silent_end <= top and not condition.clearly_fails(value_of(silent_end)):
        silent_end += away
    return firing_end, silent_end if 0 <= silent_end <= top else None


def _closest_to(firing: list[int], silent: list[int]) -> tuple[int, int | None]:
    """The firing and silent knob values that lie next to each other."""
    if not silent:
        return firing[0], None
    pairs = [(abs(f - s), f, s) for f in (firing[0], firing[-1]) for s in (silent[0], silent[-1])]
    _, fire, quiet = min(pairs)
    return fire, quiet


def _quantile_pair(
    spec: Spec, metric: Metric, alert: Alert, tl: Timeline, steady: int
) -> tuple[Scenario, Scenario | None]:
    """Observations in two neighbouring buckets, the quantile just past and just short
    of the threshold inside the bucket that holds it."""
    scenario, fire, quiet = _quantile_knobs(spec, metric, alert, tl, steady)
    return scenario(fire), None if quiet is None else scenario(quiet)


def _quantile_knobs(
    spec: Spec, metric: Metric, alert: Alert, tl: Timeline, steady: int
) -> tuple[HistogramScenario, int, int | None]:
    """The quantile's scenarios by knob, and the firing and the silent knob closest
    together (the silent one None when every knob fires)."""
    query, threshold = alert.query, alert.threshold
    assert query is not None and threshold is not None
    if metric.type is not MetricType.HISTOGRAM:
        raise NotDerivable("a quantile needs a histogram")
    condition = Condition(threshold.comparison.value, threshold.value)

    scenario = histogram_scenarios(spec, metric, query, tl)

    def steady_value(bucket: int) -> float | None:
        return scenario(bucket).value_at(steady)

    # The steady quantile of every bucket depends on these alone.
    search = (
        "quantile",
        metric.buckets,
        query.quantile,
        query.window,
        query.scale,
        condition,
        steady,
    )
    found = remembered(
        spec, search, lambda: _knob_pair(mix_top(metric, query), steady_value, condition)
    )
    if found is None:
        raise NotDerivable("no bucket puts the quantile past the threshold")
    return scenario, *found


# ------------------------------------------------------------ raw expressions


def _raw_pair(
    spec: Spec, alert: Alert, two_counters: CounterRatioForm | None, tl: Timeline
) -> tuple[Condition, Scenario, Scenario | None, int]:
    """The condition, firing and silent inputs of a raw comparison no structured
    condition compiles to, and the window it reads (0 for none)."""
    bare = bare_rate_form(spec, alert.expr)
    if bare is not None:  # one series fed: summed by all its labels, it is itself
        condition = Condition(bare.threshold.comparison.value, bare.threshold.value)
        summed = replace(alert, query=bare.query, threshold=bare.threshold)
        return condition, *structured_scenarios(spec, summed, tl), _seconds(bare.query.window)
    if two_counters is not None:
        window = _seconds(two_counters.part.window)
        return *_counter_ratio_pair(spec, two_counters, tl), window
    stopped = stopped_counter_form(spec, alert.expr)
    if stopped is not None:
        return *_stopped_counter_pair(spec, stopped, tl), _seconds(stopped.window)
    return *raw_scenarios(spec, alert), 0


def _seconds(window: str) -> int:
    return int(seconds(window))


def _stopped_counter_pair(
    spec: Spec, query: Query, tl: Timeline
) -> tuple[Condition, Scenario, Scenario]:
    """`sum(rate(counter[window])) == 0`: a counter that holds still fires it, one that
    counts an event a sample does not."""
    metric = spec.metric(query.metric)
    assert metric is not None  # read off a declared series
    scenario = counter_scenarios(spec, metric, query, tl)
    return Condition("==", 0.0), scenario(Fraction(0)), scenario(Fraction(1))


def _stops_counting_group(
    spec: Spec, query: Query, rule: Rule, tl: Timeline, siblings: tuple[Sibling, ...]
) -> dict[str, Any] | None:
    """For `sum(rate(counter[window])) == 0`: a counter that counts an event a sample for
    a window, then holds still. The rate reads 0 once the window's first sample is the
    last one that counted: silent at the last evaluation short of that edge (after
    `for`), firing at the first past it, and neither exactly on it, where Prometheus 2
    still reads the sample at the window's start and 3 does not. That pins the window.
    None where the window is too short to tell."""
    metric = spec.metric(query.metric)
    assert metric is not None  # read off a declared series
    window = _seconds(query.window)
    hold = on_grid(duration_seconds(rule.for_), tl)
    stops = _steady(query.window, tl) // tl.step  # the last sample that counts
    edge = window + (stops - 1) * tl.step
    counting = on_grid(edge, tl) - tl.evaluation
    still = edge // tl.evaluation * tl.evaluation + tl.evaluation
    counting_all_along = counter_scenarios(spec, metric, query, tl)(Fraction(1))
    (series,) = counting_all_along.series
    stopped = replace(series, turns=(Turn(stops, Fraction(0)),))
    measure = counter_rate if query.function is QueryFunction.RATE else counter_increase

    def value_at(at: int) -> float | None:
        return measure(stopped, at, window, tl.step)

    if value_at(counting) == 0 or value_at(still) != 0:
        return None  # a window shorter than a sample apart: nothing to pin
    stopping = replace(counting_all_along, series=[stopped], value_at=value_at, key=None)
    checks = [
        alert_check(counting + hold, rule.name, []),
        _firing_check(rule, stopping, still + hold, 0.0, siblings, tl),
    ]
    name = (
        f"{_title(rule, siblings)} fires only once its {duration_text(window)} window "
        "holds no counted event"
    )
    return unit_test_group(name, stopping.series, tl, still + hold, checks)


def on_grid(duration: int, tl: Timeline) -> int:
    """A duration rounded up to whole evaluations."""
    return math.ceil(duration / tl.evaluation) * tl.evaluation


def _counter_ratio_pair(
    spec: Spec, form: CounterRatioForm, tl: Timeline
) -> tuple[Condition, Scenario, Scenario | None]:
    condition, scenario, whole, fire, quiet = _counter_ratio_knobs(spec, form, tl)
    return condition, scenario(fire, whole), None if quiet is None else scenario(quiet, whole)


def _counter_ratio_knobs(
    spec: Spec, form: CounterRatioForm, tl: Timeline
) -> tuple[Condition, CounterRatioScenario, int, int, int | None]:
    """The whole's events per sample, a power of ten (1,000 or more of them at the
    threshold's share), and the part's just past and just short of that share."""
    threshold = form.threshold
    condition = Condition(threshold.comparison.value, threshold.value)
    share = threshold.value
    whole = int(10 ** max(4, math.ceil(math.log10(1000 / share)))) if share > 0 else 10_000
    top = max(1, math.ceil(2 * share * whole))
    steady = _steady(form.part.window, tl)
    scenario = counter_ratio_scenarios(spec, form.part, form.whole, tl)

    def steady_value(part: int) -> float | None:
        return scenario(part, whole).value_at(steady)

    search = ("counter ratio", form, tl.step, tl.evaluation)
    found = remembered(spec, search, lambda: _knob_pair(top, steady_value, condition))
    if found is None:
        raise NotDerivable("no share of the two counters reaches the threshold")
    return condition, scenario, whole, *found


def _counter_ratio_filling_group(
    spec: Spec,
    form: CounterRatioForm,
    rule: Rule,
    tl: Timeline,
    siblings: tuple[Sibling, ...],
) -> dict[str, Any] | None:
    """As `_filling_window_group` for a structured ratio: the part's events begin a
    window late (`above`), or the whole's (`below`), so the share reaches the threshold
    only as the window fills with them. None where that cannot be derived."""

    def test(tl: Timeline) -> dict[str, Any]:
        condition, scenario, whole, fire, _quiet = _counter_ratio_knobs(spec, form, tl)
        delay = _steady(form.part.window, tl)
        above = condition.op == ">"
        late = Late(part=delay // tl.step) if above else Late(rest=delay // tl.step)
        which = f"{form.part.metric if above else form.whole.metric}'s events"
        window = int(seconds(form.part.window))
        filling = scenario(fire, whole, late)
        return _crossing_as_it_fills(
            spec, rule, filling, condition, tl, siblings, delay, window, which
        )

    return optional_group(test, tl)


def _steady(window: str, tl: Timeline) -> int:
    """The first evaluation at which a window holds nothing but the inputs."""
    return math.ceil(max(seconds(window), tl.step) / tl.evaluation) * tl.evaluation


def raw_scenarios(spec: Spec, alert: Alert) -> tuple[Condition, Scenario, Scenario | None]:
    """`[agg by (...)] (gauge{label="value"}) <op> number`: the one raw shape whose
    inputs follow from the expression alone."""
    try:
        tree = parse(alert.expr)
    except PromQLError:
        raise NotDerivable("the expression does not parse") from None
    tree = without_brackets(tree)
    op = str(getattr(tree, "op", "")).strip()
    if type(tree).__name__ != "BinaryExpr" or op not in _COMPARISONS or tree.modifier:
        raise NotDerivable("raw PromQL that is not `selector <op> number`")
    if type(tree.rhs).__name__ != "NumberLiteral":
        raise NotDerivable("raw PromQL that is not `selector <op> number`")
    selector_node, by = _selector_under(tree.lhs)
    labels = _raw_labels(spec, selector_node)
    threshold = float(tree.rhs.val)
    condition = Condition(op, threshold)
    firing_value, silent_value = _raw_values(op, repr(threshold))
    series = selector_node.name

    def scenario(value: str) -> Scenario:
        constant = Series(series, tuple(sorted(labels.items())), start_text=value)
        shown = labels if by is None else {b: labels[b] for b in by if b in labels}
        return Scenario([constant], lambda at: float(value), shown, ("constant", value, None))

    return condition, scenario(firing_value), scenario(silent_value)


def _selector_under(node: Any) -> tuple[Any, tuple[str, ...] | None]:
    kind = type(node).__name__
    if kind == "VectorSelector":
        return node, None
    if kind == "AggregateExpr" and str(node.op).strip() in _SIMPLE_AGGREGATIONS:
        modifier = node.modifier
        if modifier is not None and not str(modifier.type).endswith("By"):
            raise NotDerivable("an aggregation `without` labels")
        inner = without_brackets(node.expr)
        if type(inner).__name__ == "VectorSelector":
            return inner, tuple(modifier.labels) if modifier is not None else ()
    raise NotDerivable("raw PromQL whose inputs cannot be derived from the expression")


def _raw_labels(spec: Spec, node: Any) -> dict[str, str]:
    metric = spec.metric(node.name) if node.name else None
    if any(rule.record == node.name for rule in spec.recording_rules):
        raise NotDerivable(
            "raw PromQL over a recorded series: tested only as `record <op> number` "
            "where one recording rule records it from a structured query"
        )
    if node.name != "up" and (metric is None or metric.type is not MetricType.GAUGE):
        raise NotDerivable("raw PromQL over a series that is not a declared gauge")
    labels = (
        base_labels(spec, metric)
        if metric
        else {"job": spec.prometheus.job, "instance": spec.prometheus.instance}
    )
    for matcher in node.matchers.matchers:
        if not str(matcher.op).endswith(".Equal"):
            raise NotDerivable("raw PromQL with a matcher other than =")
        labels[matcher.name] = matcher.value
    return labels


def _raw_values(op: str, threshold: str) -> tuple[str, str]:
    """Values that make `value <op> threshold` true, then false."""
    text = threshold.removesuffix(".0")
    up, down = nudged(text, up=True), nudged(text, up=False)
    if text == "0":
        up, down = "1", "-1"
    return {
        ">": (up, down),
        ">=": (text, down),
        "<": (down, up),
        "<=": (text, up),
        "==": (text, up),
        "!=": (up, text),
    }[op]
