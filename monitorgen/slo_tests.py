"""promtool test groups for the SLO rules (see `monitorgen.slo`).

Traffic is a per-sample count of failing and succeeding events. A fast burn (half
of the events fail) pages; a slow burn between the ticket and page thresholds only
opens a ticket; errors just under and just over each tier's lowest threshold; a
burst of errors after clean traffic pages through the 14.4x pair alone, from about
halfway through its long window until its short window has half cleared; traffic
without a single error series records an error ratio of 0; counters that stop moving
record nothing and alert nothing; and a missing SLI raises the absent alert once its
`for` has passed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, partial
from typing import Any

from monitorgen.immutable import immutable
from monitorgen.model import LatencySli, Metric, RatioSli, Slo, Spec
from monitorgen.promql import seconds, string_literal
from monitorgen.rule_inputs import (
    NotDerivable,
    Series,
    Timeline,
    Turn,
    base_labels,
    counter_rate,
    outside_part,
    selected_by,
)
from monitorgen.rule_set import Rule, rule_groups
from monitorgen.slo import (
    ABSENT_FOR,
    Tier,
    absent_alert,
    bucket_matcher,
    burn_windows,
    decimal_text,
    record_name,
    threshold_value,
    tiers,
    windows,
)
from monitorgen.targets.promtool_tests import (
    alert_check,
    duration_text,
    expected_alert,
    on_grid,
    optional_group,
    remembered,
    unit_test_group,
)

#: When the burn-rate checks look: every window has data by then.
CHECK_AT = 600
FAST_BURN = Fraction(1, 2)
EVENTS_PER_SAMPLE = 10000


@dataclass
class Traffic:
    """Input series for one SLI and the error ratio Prometheus records from them."""

    series: list[Series]
    error_ratio: Callable[[int, int], float | None]
    """(time, window) -> the recorded `slo:sli_error:ratio_rate<window>`."""
    labels: dict[str, str]
    """The labels the SLI keeps (the SLO's `by`)."""


def slo_test_groups(spec: Spec, slo: Slo, tl: Timeline) -> tuple[list[dict[str, Any]], list[str]]:
    if not windows(slo):
        return [], [f"SLO {slo.name}: both burn-rate tiers are off, so nothing is recorded"]
    try:
        traffic_for(spec, slo, Fraction(1), Fraction(1), tl)
    except NotDerivable as reason:
        return [], [f"SLO {slo.name}: {reason}"]
    at = math.ceil(max(CHECK_AT, 2 * tl.evaluation) / tl.evaluation) * tl.evaluation
    groups = [_fast_burn(spec, slo, tl, at)]
    slow = _slow_burn(spec, slo, tl, at)
    if slow is not None:
        groups.append(slow)
    groups.extend(_around_each_tiers_threshold(spec, slo, tl, at))
    burst = _burst_group(spec, slo, tl)
    if burst is not None:
        groups.append(burst)
    groups.append(_no_errors(spec, slo, tl, at))
    groups.append(_no_traffic(spec, slo, tl, at))
    absent = absent_alert(spec, slo)
    if absent is not None:
        groups.append(_absent(spec, slo, absent, tl))
    return groups, []


# ------------------------------------------------------------ traffic


def traffic_for(
    spec: Spec,
    slo: Slo,
    failing: Fraction,
    succeeding: Fraction,
    tl: Timeline,
    with_error_series: bool = True,
    burst: Burst | None = None,
) -> Traffic:
    """Counters for `failing` and `succeeding` events per sample; with a `burst`, as
    many events per sample throughout, failing only in the burst."""
    sli = slo.sli
    if isinstance(sli, RatioSli):
        return _ratio_traffic(spec, slo, sli, failing, succeeding, tl, with_error_series, burst)
    if isinstance(sli, LatencySli):
        return _latency_traffic(spec, slo, sli, failing, succeeding, tl, burst)
    raise NotDerivable("a raw SLI query (write its tests by hand)")


@immutable
class Burst:
    """Events fail as the traffic says after sample `start` up to sample `end`; before
    and after, as many events all succeed."""

    start: int
    end: int


def _counter(
    name: str,
    labels: tuple[tuple[str, str], ...],
    per_sample: Fraction,
    burst: Burst | None,
    outside: Fraction,
) -> Series:
    """A counter of `per_sample` events per sample; with a burst, only in the burst,
    and of `outside` per sample before and after it."""
    if burst is None or outside == per_sample:
        return Series(name, labels, step_increase=per_sample)
    turns = (Turn(burst.start, per_sample), Turn(burst.end, outside))
    return Series(name, labels, step_increase=outside, turns=turns)


def _metric(spec: Spec, name: str) -> Metric:
    metric = spec.metric(name)
    if metric is None:
        raise NotDerivable(f"metric {name} is not declared")
    return metric


def _ratio_traffic(
    spec: Spec,
    slo: Slo,
    sli: RatioSli,
    failing: Fraction,
    succeeding: Fraction,
    tl: Timeline,
    with_error_series: bool,
    burst: Burst | None = None,
) -> Traffic:
    errors_metric = _metric(spec, sli.errors.metric)
    same_metric = sli.errors.metric == sli.total.metric
    # Of one metric, an error is also an event the total counts.
    counted = (sli.errors.where, sli.total.where) if same_metric else (sli.errors.where,)
    error_labels = selected_by(base_labels(spec, errors_metric), *counted)
    shared = {b: error_labels[b] for b in slo.by}
    if same_metric:
        good_labels = outside_part(errors_metric, error_labels, *counted)
        if good_labels is None:
            raise NotDerivable("every event the total counts is an error")
        every = failing + succeeding
        good = _counter(sli.total.stored, _sorted(good_labels), succeeding, burst, every)
        totals = [good]
    else:
        total_base = {**base_labels(spec, _metric(spec, sli.total.metric)), **shared}
        total_labels = selected_by(total_base, sli.total.where)
        if any(total_labels[b] != shared[b] for b in slo.by):
            raise NotDerivable("the total selects other values of the labels the SLO is by")
        total = Series(sli.total.stored, _sorted(total_labels), step_increase=failing + succeeding)
        totals = [total]
    error = _counter(sli.errors.stored, _sorted(error_labels), failing, burst, Fraction(0))
    if same_metric and with_error_series:
        totals = [error, *totals]
    series = [*([error] if with_error_series else []), *totals]
    series = list({s.selector(): s for s in series}.values())

    def ratio(at: int, window: int) -> float | None:
        rates = [counter_rate(s, at, window, tl.step) for s in totals]
        if any(r is None for r in rates):
            return None
        whole = sum(float(r) for r in rates if r is not None)
        if not whole > 0:
            return None
        if not with_error_series:
            return 0 * whole / whole
        failed = counter_rate(error, at, window, tl.step)
        return None if failed is None else failed / whole

    return Traffic(series, ratio, shared)


def _latency_traffic(
    spec: Spec,
    slo: Slo,
    sli: LatencySli,
    slow: Fraction,
    fast: Fraction,
    tl: Timeline,
    burst: Burst | None = None,
) -> Traffic:
    metric = _metric(spec, sli.metric)
    labels = {**base_labels(spec, metric)}
    labels.update({m.label: m.values[0] for m in sli.where})
    shared = {b: labels[b] for b in slo.by}
    count = Series(f"{metric.name}_count", _sorted(labels), step_increase=slow + fast)
    le = bucket_matcher(sli.threshold).values[-1]
    bucket_labels = {**labels, "le": le}
    within = _counter(f"{metric.name}_bucket", _sorted(bucket_labels), fast, burst, slow + fast)

    def ratio(at: int, window: int) -> float | None:
        total = counter_rate(count, at, window, tl.step)
        quick = counter_rate(within, at, window, tl.step)
        if total is None or quick is None or not total > 0:
            return None
        return (total - quick) / total

    return Traffic([count, within], ratio, shared)


def _sorted(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


# ------------------------------------------------------------ expectations


def _firing_tiers(slo: Slo, traffic: Traffic, at: int) -> list[tuple[Tier, float]]:
    """The tiers whose burn condition holds at `at`, with the alert's value."""
    found = []
    for tier, conditions in _burn_conditions(slo):
        value = _burning(conditions, traffic, at)
        if value is not None:
            found.append((tier, value))
    return found


def _burning(
    conditions: tuple[tuple[float, int, int], ...], traffic: Traffic, at: int
) -> float | None:
    """The long window's ratio of the first window pair of a tier that burns at `at`,
    or None when none does."""
    for threshold, long_window, short_window in conditions:
        long = traffic.error_ratio(at, long_window)
        short = traffic.error_ratio(at, short_window)
        if long is not None and short is not None and min(long, short) > threshold:
            return long
    return None


@lru_cache(maxsize=1 << 12)
def _burn_conditions(slo: Slo) -> tuple[tuple[Tier, tuple[tuple[float, int, int], ...]], ...]:
    """Per enabled tier, each window pair's (threshold, long and short window in
    seconds): the same for the four burn tests of an SLO."""
    return tuple(
        (
            tier,
            tuple(
                (threshold_value(slo, w), int(seconds(w.long)), int(seconds(w.short)))
                for w in burn_windows(slo, tier)
            ),
        )
        for tier, _ in tiers(slo)
    )


def _expected_burns(spec: Spec, slo: Slo, traffic: Traffic, at: int) -> list[dict[str, Any]]:
    rules = _burn_rules(spec, slo)
    identity = {"slo": slo.name, "service": spec.service, **traffic.labels}
    return [
        expected_alert(rules[tier], identity, value)
        for tier, value in _firing_tiers(slo, traffic, at)
    ]


def _burn_rules(spec: Spec, slo: Slo) -> dict[Tier, Rule]:
    """The SLO's burn-rate alerts by tier, as its rule group has them (one per enabled
    tier, in tier order), instead of building each again for every test."""
    (group,) = (g for g in rule_groups(spec) if g.path == slo.path)
    burns = [rule for rule in group.rules if rule.alert == slo.alert_name]
    return {tier: rule for (tier, _), rule in zip(tiers(slo), burns, strict=True)}


def _sli_sample(spec: Spec, slo: Slo, traffic: Traffic, at: int) -> list[dict[str, Any]]:
    value = traffic.error_ratio(at, int(seconds(_checked_window(slo))))
    if value is None:
        return []
    labels = {"slo": slo.name, "service": spec.service, **traffic.labels}
    inner = ",".join(f"{k}={string_literal(v)}" for k, v in sorted(labels.items()))
    return [{"labels": f"{record_name(_checked_window(slo))}{{{inner}}}", "value": value}]


def _sli_query(spec: Spec, slo: Slo) -> str:
    return f'{record_name(_checked_window(slo))}{{slo="{slo.name}",service="{spec.service}"}}'


def _checked_window(slo: Slo) -> str:
    """The shortest window the SLO records, whose ratio the tests check (5m unless the
    page tier, which needs it, is off)."""
    return windows(slo)[0]


def _burn_group(
    spec: Spec, slo: Slo, tl: Timeline, at: int, name: str, traffic: Traffic
) -> dict[str, Any]:
    group = unit_test_group(
        name,
        traffic.series,
        tl,
        at,
        [alert_check(at, slo.alert_name, _expected_burns(spec, slo, traffic, at))],
    )
    group["promql_expr_test"] = [
        {
            "expr": _sli_query(spec, slo),
            "eval_time": duration_text(at),
            "exp_samples": _sli_sample(spec, slo, traffic, at),
        }
    ]
    return group


def _fast_burn(spec: Spec, slo: Slo, tl: Timeline, at: int) -> dict[str, Any]:
    failing, succeeding = _events(FAST_BURN)
    traffic = traffic_for(spec, slo, failing, succeeding, tl)
    fired = [tier for tier, _ in _firing_tiers(slo, traffic, at)]
    what = "pages" if Tier.PAGE in fired else "opens a ticket" if fired else "alerts nothing"
    return _burn_group(spec, slo, tl, at, f"SLO {slo.name}: a fast burn {what}", traffic)


def _events(error_share: Fraction) -> tuple[Fraction, Fraction]:
    failing = error_share * EVENTS_PER_SAMPLE
    return failing, EVENTS_PER_SAMPLE - failing


def _slow_burn(spec: Spec, slo: Slo, tl: Timeline, at: int) -> dict[str, Any] | None:
    """Errors between the highest ticket and the lowest page threshold."""
    enabled = dict(tiers(slo))
    if Tier.PAGE not in enabled or Tier.TICKET not in enabled:
        return None
    page = min(threshold_value(slo, w) for w in burn_windows(slo, Tier.PAGE))
    ticket = max(threshold_value(slo, w) for w in burn_windows(slo, Tier.TICKET))
    share = Fraction(round((page + ticket) / 2 * EVENTS_PER_SAMPLE), EVENTS_PER_SAMPLE)
    if share >= 1:  # a page threshold no error ratio reaches (a low objective)
        return None
    failing, succeeding = _events(share)
    traffic = traffic_for(spec, slo, failing, succeeding, tl)
    if [tier for tier, _ in _firing_tiers(slo, traffic, at)] != [Tier.TICKET]:
        return None
    name = f"SLO {slo.name}: a slow burn opens a ticket and does not page"
    return _burn_group(spec, slo, tl, at, name, traffic)


#: How far beside a tier's lowest burn threshold the edge tests' error ratios sit.
EDGE = Fraction(1, 100)


def _around_each_tiers_threshold(
    spec: Spec, slo: Slo, tl: Timeline, at: int
) -> list[dict[str, Any]]:
    """For each tier, errors 1% under the lowest threshold it has (where the tier starts
    to alert, under steady traffic) leave it quiet, and 1% over it the tier alerts: a
    threshold computed from another objective or factor fails one of the two. (A tier's
    higher thresholds change nothing under steady traffic, which crosses the lowest
    first.)"""
    found = []
    for tier, pairs in _burn_conditions(slo):
        lowest = min(threshold for threshold, _, _ in pairs)
        edge = _edge_pair(spec, slo, tl, at, lowest, tier)
        if edge is not None:
            found.extend(edge)
    return found


def _edge_pair(
    spec: Spec, slo: Slo, tl: Timeline, at: int, threshold: float, tier: Tier
) -> list[dict[str, Any]] | None:
    """The groups 1% under and 1% over `threshold`, or None when rounding the shares
    to whole events leaves them on one side of it."""
    events = _events_per_sample(threshold)
    groups = []
    for side, factor, alerts in (("under", 1 - EDGE, False), ("over", 1 + EDGE, True)):
        failing = round(Fraction(threshold) * factor * events)
        if not 0 < failing < events:
            return None
        traffic = traffic_for(spec, slo, Fraction(failing), Fraction(events - failing), tl)
        fired = [t for t, _ in _firing_tiers(slo, traffic, at)]
        if (tier in fired) is not alerts:
            return None
        outcome = "pages" if Tier.PAGE in fired else "opens a ticket" if fired else "alerts nothing"
        name = f"SLO {slo.name}: errors just {side} the {tier.value} threshold {outcome}"
        groups.append(_burn_group(spec, slo, tl, at, name, traffic))
    return groups


def _burst_group(spec: Spec, slo: Slo, tl: Timeline) -> dict[str, Any] | None:
    """A burst of errors at about twice the page tier's highest threshold (14.4x over
    1h and 5m), after enough clean traffic to keep the tier's other pair quiet: it
    pages once the 1h window is about half full of it, and stops paging once the 5m
    window is about half clean again, while the 1h window still burns. Steady traffic
    only ever crosses a tier's lowest threshold first: this pins the highest, the
    pair's two windows and the `and` between them. None without a page tier, or where
    the burst needs more errors than events.

    The inputs come once per evaluation when the shortest window still holds four of
    them: promtool runs every rule of the file over the whole test (some 3h40m), and
    the long windows' rates read fewer samples than at a 15s scrape."""
    sparse = Timeline(tl.evaluation, tl.evaluation)
    shortest = min(short for _, conditions in _burn_conditions(slo) for _, _, short in conditions)
    if shortest >= _FEWEST_SAMPLES * tl.evaluation:
        tl = sparse
    return optional_group(partial(_burst_test, spec, slo), tl)


def _burst_test(spec: Spec, slo: Slo, tl: Timeline) -> dict[str, Any]:
    pairs = dict(_burn_conditions(slo)).get(Tier.PAGE)
    if not pairs:
        raise NotDerivable("no page tier")
    threshold, long, short = max(pairs)
    share = _burst_share(threshold, long, tl.evaluation)
    events = _events_per_sample(threshold)
    failing = round(share * events)
    if not 0 < failing < events:
        raise NotDerivable("the burst needs more errors than events")
    # It lasts until its short window has burnt for a while past the long one's
    # crossing, and no longer: after it the long window still burns.
    crossing = Fraction(long) * Fraction(threshold) / share
    length = min(on_grid(math.ceil(crossing) + short, tl), on_grid(long, tl))
    # The clean traffic before it fills as much of the tier's other windows as keeps
    # them quiet (promtool runs every rule over the whole test: no longer than needed).
    longest = on_grid(max(window for _, window, _ in pairs), tl)
    for begins in sorted({*range(on_grid(long, tl), longest, on_grid(long, tl)), longest}):
        traffic = traffic_for(
            spec,
            slo,
            Fraction(failing),
            Fraction(events - failing),
            tl,
            burst=Burst(begins // tl.step, (begins + length) // tl.step),
        )
        # The same for every SLO of one kind of SLI, objective and traffic.
        key = (
            "burst",
            type(slo.sli).__name__,
            _burn_conditions(slo),
            tuple(series.growth for series in traffic.series),
            begins,
            length,
            tl.step,
            tl.evaluation,
        )
        checks_of = partial(_burst_checks, slo, traffic, tl, begins, begins + length, short)
        checked = remembered(spec, key, checks_of)
        if checked is not None:
            break
    else:
        raise NotDerivable("the burst sets off the tier's other windows or sits on a threshold")
    checks = [
        alert_check(at, slo.alert_name, _expected_burns(spec, slo, traffic, at)) for at in checked
    ]
    factor = next(
        w.factor for w in burn_windows(slo, Tier.PAGE) if threshold_value(slo, w) == threshold
    )
    name = (
        f"SLO {slo.name}: a {duration_text(length)} burst of errors pages while its "
        f"{duration_text(long)} and {duration_text(short)} windows both burn past "
        f"{decimal_text(factor)}x"
    )
    return unit_test_group(name, traffic.series, tl, checked[-1], checks)


def _burst_checks(
    slo: Slo, traffic: Traffic, tl: Timeline, begins: int, ends: int, short: int
) -> tuple[int, int, int, int] | None:
    """The evaluations before and at the first page, and at and after the last, when
    the burst pages in one stretch that stops within `short` after it ends, every ratio
    clear of its threshold there; else None."""
    page_conditions = dict(_burn_conditions(slo))[Tier.PAGE]

    def pages(at: int) -> bool:
        return _burning(page_conditions, traffic, at) is not None

    horizon = ends + on_grid(short, tl) + tl.evaluation
    paging = [at for at in range(begins, horizon + 1, tl.evaluation) if pages(at)]
    if not paging or paging != list(range(paging[0], paging[-1] + 1, tl.evaluation)):
        return None
    first, last = paging[0], paging[-1]
    checked = (first - tl.evaluation, first, last, last + tl.evaluation)
    if last + tl.evaluation > horizon or not all(_clear(slo, traffic, at) for at in checked):
        return None
    return checked


def _burst_share(threshold: float, length: int, evaluation: int) -> Fraction:
    """About twice the threshold, so that the long window crosses it about halfway
    through the burst, and exactly midway between two evaluations: no evaluation reads
    a ratio on the threshold."""
    halfway = max(1, round(length / evaluation / 2 - 0.5)) + Fraction(1, 2)
    return Fraction(threshold) * Fraction(length) / (halfway * evaluation)


#: Samples the shortest burn window holds at least, in the burst test.
_FEWEST_SAMPLES = 4

#: How far from every burn threshold the burst test's error ratios must be, relative.
CLEAR_OF_THRESHOLD = 1e-6


def _clear(slo: Slo, traffic: Traffic, at: int) -> bool:
    """Whether every ratio the burn conditions compare at `at` is clearly on one side of
    its threshold (rounding decides nothing)."""
    for _tier, conditions in _burn_conditions(slo):
        for threshold, long, short in conditions:
            for window in (long, short):
                ratio = traffic.error_ratio(at, window)
                if ratio is not None and abs(ratio - threshold) <= threshold * CLEAR_OF_THRESHOLD:
                    return False
    return True


def _events_per_sample(share: float) -> int:
    """A power of ten of events per sample (10,000 or more) of which `share` is 1,000
    or more: whole numbers of events, which promtool's series notation adds up exactly,
    set an error ratio within 0.1% of any share."""
    return int(10 ** max(4, math.ceil(math.log10(1000 / share))))


def _no_errors(spec: Spec, slo: Slo, tl: Timeline, at: int) -> dict[str, Any]:
    """Traffic, and not one error series: the error ratio is 0, not missing."""
    traffic = traffic_for(spec, slo, Fraction(0), Fraction(EVENTS_PER_SAMPLE), tl, False)
    name = f"SLO {slo.name}: traffic without errors records 0 and alerts nothing"
    return _burn_group(spec, slo, tl, at, name, traffic)


def _no_traffic(spec: Spec, slo: Slo, tl: Timeline, at: int) -> dict[str, Any]:
    """Counters that exist but do not move: no ratio (never NaN) and no alert."""
    idle = traffic_for(spec, slo, Fraction(0), Fraction(0), tl)
    name = f"SLO {slo.name}: no traffic records nothing and alerts nothing"
    group = _burn_group(spec, slo, tl, at, name, idle)
    absent = absent_alert(spec, slo)
    if absent is not None:
        group["alert_rule_test"].append(alert_check(at, absent.name, []))
    return group


def _absent(spec: Spec, slo: Slo, rule: Rule, tl: Timeline) -> dict[str, Any]:
    hold = int(seconds(ABSENT_FOR))
    fire_at = math.ceil(hold / tl.evaluation) * tl.evaluation
    labels = _absent_labels(slo)
    expected = expected_alert(rule, labels, 1.0)
    checks = [
        alert_check(fire_at - tl.evaluation, rule.name, []),
        alert_check(fire_at, rule.name, [expected]),
    ]
    name = f"SLO {slo.name}: a missing SLI raises {rule.name}"
    return unit_test_group(name, [], tl, fire_at, checks)


def _absent_labels(slo: Slo) -> dict[str, str]:
    """absent() returns the labels its selector fixes with `=`."""
    sli = slo.sli
    matchers = sli.total.where if isinstance(sli, RatioSli) else ()
    if isinstance(sli, LatencySli):
        matchers = sli.where
    return {m.label: m.values[0] for m in matchers if not m.is_regex}
