"""Alertmanager route evaluation: which receivers an alert's labels reach.

Follows Alertmanager's dispatcher. A route matches when all of its matchers match (a
missing label has the value ""; regexes are anchored). Its children are tried in order
and the first that matches ends the search unless it has `continue`; a matching route
none of whose children match is itself the result. A route without a receiver or
grouping takes its parent's; time intervals are not inherited, and they never change
where an alert goes, only when it is sent.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache

from monitorgen.diagnostics import Diagnostic
from monitorgen.immutable import immutable
from monitorgen.model import (
    InhibitRule,
    Path,
    Route,
    RouteMatcher,
    Routing,
    Spec,
    TimeInterval,
)
from monitorgen.promql import regex_refused
from monitorgen.re2 import NotRe2, translated
from monitorgen.rule_set import all_rules

Labels = Mapping[str, str]

#: Alertmanager's own defaults for a root route that leaves them out.
DEFAULT_TIMING = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}


class InvalidRegex(ValueError):
    """A `=~` or `!~` matcher whose value does not compile."""


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """`pattern` in Alertmanager's (RE2) syntax as a Python regex, matched whole."""
    try:
        return re.compile(translated(pattern).python, re.ASCII)
    except (re.error, NotRe2) as err:
        raise InvalidRegex(f"{pattern!r}: {err}") from err


def matcher_matches(matcher: RouteMatcher, labels: Labels) -> bool:
    value = labels.get(matcher.label, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = _compiled(matcher.value).fullmatch(value) is not None
    return found if matcher.op == "=~" else not found


def route_matches(route: Route, labels: Labels) -> bool:
    return all(matcher_matches(m, labels) for m in route.matchers)


@immutable
class MatchedRoute:
    """A route an alert ends at, with the settings it inherited from its ancestors."""

    route: Route
    receiver: str
    group_by: tuple[str, ...]
    group_wait: str
    group_interval: str
    repeat_interval: str
    depth: int

    @property
    def is_root(self) -> bool:
        return self.depth == 0


def _resolved(route: Route, parent: MatchedRoute | None) -> MatchedRoute:
    def pick(own: str | None, key: str) -> str:
        if own:
            return own
        return getattr(parent, key) if parent else DEFAULT_TIMING[key]

    inherited_group_by = parent.group_by if parent else ()
    return MatchedRoute(
        route=route,
        receiver=route.receiver or (parent.receiver if parent else ""),
        group_by=route.group_by if route.group_by is not None else inherited_group_by,
        group_wait=pick(route.group_wait, "group_wait"),
        group_interval=pick(route.group_interval, "group_interval"),
        repeat_interval=pick(route.repeat_interval, "repeat_interval"),
        depth=parent.depth + 1 if parent else 0,
    )


def match(routing: Routing, labels: Labels) -> list[MatchedRoute]:
    """The routes an alert with `labels` is notified through, in route-tree order."""
    return _match(routing.root, labels, None)


def _match(route: Route, labels: Labels, parent: MatchedRoute | None) -> list[MatchedRoute]:
    if not route_matches(route, labels):
        return []
    here = _resolved(route, parent)
    found: list[MatchedRoute] = []
    for child in route.routes:
        matched = _match(child, labels, here)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [here]


def receivers(routing: Routing, labels: Labels) -> tuple[str, ...]:
    """Receiver names in the order Alertmanager (and `amtool config routes test`) gives."""
    return tuple(m.receiver for m in match(routing, labels))


# --- time intervals ----------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def interval_active(interval: TimeInterval, when: datetime) -> bool:
    """Whether `when` falls in the interval: every field it sets must match (as in
    Alertmanager: `times` end exclusive, ranges `a:b` inclusive, negative days of the
    month count from its end, in `location` or UTC)."""
    local = _localised(when, interval.location)
    minute = local.hour * 60 + local.minute
    month_days = calendar.monthrange(local.year, local.month)[1]
    checks = (
        not interval.times
        or any(_clock(t.start) <= minute < _clock(t.end) for t in interval.times),
        _in_ranges(_sunday_first(local.weekday()), interval.weekdays, _weekday),
        _in_ranges(local.day, interval.days_of_month, lambda v: _day(int(v), month_days)),
        _in_ranges(local.month, interval.months, _month),
        _in_ranges(local.year, interval.years, int),
    )
    return all(checks)


def _localised(when: datetime, location: str | None) -> datetime:
    if location == "Local":
        return when.astimezone()
    if not location:
        return when.astimezone(UTC)
    from zoneinfo import ZoneInfo  # the time zone database: only for a spec that names one

    return when.astimezone(ZoneInfo(location))


def _sunday_first(monday_first: int) -> int:
    """Alertmanager numbers weekdays from Sunday (0), so `sunday:saturday` is a week."""
    return (monday_first + 1) % 7


def _weekday(text: str) -> int:
    if text.lower() not in WEEKDAYS:
        raise ValueError("not a weekday name")
    return _sunday_first(WEEKDAYS.index(text.lower()))


def _day_of_month(text: str) -> int:
    day = int(text)
    if not (1 <= day <= 31 or -31 <= day <= -1):
        raise ValueError("days of the month are 1 to 31, or -31 to -1 counting from its end")
    return day


def _month_number(text: str) -> int:
    month = _month(text)
    if not 1 <= month <= 12:
        raise ValueError("months are 1 to 12")
    return month


def _year(text: str) -> int:
    if not text.isdigit():
        raise ValueError("not a year")
    return int(text)


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _day(day: int, month_days: int) -> int:
    return month_days + day + 1 if day < 0 else day


def _month(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.lower() not in MONTHS:
        raise ValueError("not a month name")
    return MONTHS.index(text.lower()) + 1


def _in_ranges(value: int, ranges: tuple[str, ...], parse: Callable[[str], int]) -> bool:
    if not ranges:
        return True
    for item in ranges:
        start, _, end = item.partition(":")
        if parse(start) <= value <= parse(end or start):
            return True
    return False


def notifies_at(routing: Routing, matched: MatchedRoute, when: datetime) -> bool:
    """Whether a matched route sends notifications at `when` (mute and active intervals)."""
    intervals = {interval.name: interval for interval in routing.time_intervals}
    route = matched.route
    if any(interval_active(intervals[name], when) for name in route.mute_time_intervals):
        return False
    active = route.active_time_intervals
    return not active or any(interval_active(intervals[name], when) for name in active)


def receivers_at(routing: Routing, labels: Labels, when: datetime) -> tuple[str, ...]:
    """The receivers actually notified at `when`: matched routes not muted then."""
    return tuple(m.receiver for m in match(routing, labels) if notifies_at(routing, m, when))


# --- inhibition --------------------------------------------------------------------------


def inhibits(rule: InhibitRule, source: Labels, target: Labels) -> bool:
    """Whether firing `source` mutes `target` under `rule`, as Alertmanager decides.

    A label missing from both counts as equal. An alert that matches both sides of a
    rule is only muted by a source that does not match the target side itself.
    """
    if not all(matcher_matches(m, target) for m in rule.target):
        return False
    if not all(matcher_matches(m, source) for m in rule.source):
        return False
    if any(source.get(name, "") != target.get(name, "") for name in rule.equal):
        return False
    two_sided = all(matcher_matches(m, target) for m in rule.source)
    return not (two_sided and all(matcher_matches(m, source) for m in rule.target))


def inhibited(rules: Sequence[InhibitRule], target: Labels, firing: Sequence[Labels]) -> bool:
    """Whether any of the `firing` alerts mutes `target` under any rule."""
    return any(inhibits(rule, source, target) for rule in rules for source in firing)


def walk(route: Route) -> Iterator[Route]:
    yield route
    for child in route.routes:
        yield from walk(child)


# --- the alerts a spec sends -------------------------------------------------------------


@immutable
class AlertLabels:
    """The labels one alerting rule of the spec arrives with at Alertmanager."""

    alertname: str
    severity: str
    labels: tuple[tuple[str, str], ...]
    path: Path
    """The spec item the rule is made from (an alert or an SLO)."""
    expr: str = ""
    """The rule's expression, whose series may add labels of their own."""

    def as_dict(self) -> dict[str, str]:
        return dict(self.labels)


def alert_label_sets(spec: Spec) -> tuple[AlertLabels, ...]:
    """Every alerting rule the spec generates (its alerts, SLO burn-rate tiers and
    absent-SLI alerts), with the labels Prometheus sends; listed once per spec for the
    lint and the amtool routing checks.

    Prometheus adds its external labels to every alert it sends, unless the alert
    already has a label of that name.
    """
    return spec.derived("routing.alert_label_sets", lambda: tuple(_alert_label_sets(spec)))


def _alert_label_sets(spec: Spec) -> list[AlertLabels]:
    external = dict(spec.prometheus.external_labels)
    found = []
    for _group, rule in all_rules(spec):
        if rule.alert is None:
            continue
        labels = {**external, **rule.label_map(), "alertname": rule.alert}
        severity = labels.get("severity", "")
        found.append(
            AlertLabels(rule.alert, severity, tuple(sorted(labels.items())), rule.path, rule.expr)
        )
    return found


# --- routing tests -----------------------------------------------------------------------


@immutable
class RoutingCase:
    """Labels and the receivers they must reach, in route-tree order.

    `expected` is None for a case generated from an alert: its expectation is this
    module's own evaluation, which `amtool config routes test` must then agree with.
    """

    title: str
    labels: tuple[tuple[str, str], ...]
    expected: tuple[str, ...] | None
    path: Path


def routing_cases(spec: Spec) -> list[RoutingCase]:
    """The spec's `routing.tests`, then one case per alerting rule the spec generates."""
    if spec.routing is None:
        return []
    cases = test_cases(spec)
    for alert in alert_label_sets(spec):
        title = f"alert {alert.alertname} ({alert.severity})"
        cases.append(RoutingCase(title, alert.labels, None, alert.path))
    return cases


def test_cases(spec: Spec) -> list[RoutingCase]:
    """The spec's `routing.tests` alone."""
    if spec.routing is None:
        return []
    return [
        RoutingCase(f"routing test {index + 1}", test.labels, test.receivers, test.path)
        for index, test in enumerate(spec.routing.tests)
    ]


def routed_labels(routing: Routing) -> tuple[str, ...]:
    """Every label name a route matcher reads: routing depends on these alone."""
    return tuple(sorted({m.label for route in walk(routing.root) for m in route.matchers}))


RoutingKey = tuple[tuple[str, str | None], ...]


def routing_key(labels: tuple[tuple[str, str], ...], names: tuple[str, ...]) -> RoutingKey:
    """The part of a label set the route tree can see: cases with equal keys route alike."""
    values = dict(labels)
    return tuple((name, values.get(name)) for name in names)


def show_labels(labels: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def check(spec: Spec) -> Iterator[Diagnostic]:
    """Invalid regexes and time intervals, then every `routing.tests` entry the route
    tree fails."""
    if spec.routing is None:
        return
    yield from invalid_time_intervals(spec.routing)
    yield from _mixed_grouping(spec.routing)
    broken = list(invalid_regexes(spec.routing))
    yield from broken
    if broken:
        return
    for case in test_cases(spec):
        assert case.expected is not None
        reached = receivers(spec.routing, dict(case.labels))
        if reached != case.expected:
            yield Diagnostic(
                "routing/test-failed",
                f"{case.title}: {show_labels(case.labels)} should reach "
                f"{', '.join(case.expected)} but reaches {', '.join(reached)}",
                path=(*case.path, "receivers"),
                hint="receivers are listed in route-tree order, as Alertmanager notifies them",
            )


def invalid_time_intervals(routing: Routing) -> Iterator[Diagnostic]:
    """What Alertmanager would refuse: an unknown time zone, a range ending before it starts."""
    for interval in routing.time_intervals:
        if interval.location not in (None, "Local"):
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(interval.location)
            except (ZoneInfoNotFoundError, ValueError):
                yield Diagnostic(
                    "routing/unknown-location",
                    f"'{interval.location}' is not a time zone name",
                    path=(*interval.path, "location"),
                    hint="use an IANA name such as Europe/Berlin or America/New_York",
                )
        yield from _calendar_problems(interval)
        for index, times in enumerate(interval.times):
            if _clock(times.start) >= _clock(times.end):
                yield Diagnostic(
                    "routing/time-range",
                    f"the time range {times.start}-{times.end} ends before it starts",
                    path=(*interval.path, "times", index),
                    hint=f"split a range over midnight in two: {times.start}-24:00 and "
                    f"00:00-{times.end}",
                )


_CALENDAR_FIELDS: tuple[tuple[str, Callable[[str], int]], ...] = (
    ("weekdays", _weekday),
    ("days_of_month", _day_of_month),
    ("months", _month_number),
    ("years", _year),
)


def _calendar_problems(interval: TimeInterval) -> Iterator[Diagnostic]:
    """Values and `start:end` ranges amtool refuses (a range must not end before it
    starts; weeks start on Sunday), and months past 12, which it silently keeps."""
    for field, read in _CALENDAR_FIELDS:
        for index, item in enumerate(getattr(interval, field)):
            problem = _range_problem(item, read)
            if problem is not None:
                yield Diagnostic(
                    "routing/time-interval",
                    f"{field} '{item}': {problem}",
                    path=(*interval.path, field, index),
                )


def _range_problem(item: str, read: Callable[[str], int]) -> str | None:
    first, _, last = item.partition(":")
    try:
        start, end = read(first), read(last or first)
    except ValueError as error:
        return _why(error)
    if read is _day_of_month and start < 0 < end:
        return "a range cannot start counting from the month's end and end from its start"
    if read is _day_of_month and (start < 0) != (end < 0):
        return None  # 1:-1, from the first to the last day
    if start > end:
        week = " (weeks start on Sunday)" if read is _weekday else ""
        return f"the range ends before it starts{week}"
    return None


def _why(error: ValueError) -> str:
    """What a reader refused; int()'s complaint about a text that is no number, plainly."""
    message = str(error)
    return "not a number" if message.startswith("invalid literal") else message


def _mixed_grouping(routing: Routing) -> Iterator[Diagnostic]:
    """`group_by: ['...']` groups by every label; Alertmanager refuses it beside others."""
    for route in walk(routing.root):
        if route.group_by and "..." in route.group_by and len(route.group_by) > 1:
            yield Diagnostic(
                "routing/group-by",
                "group_by '...' (every label) cannot stand beside other labels: "
                "Alertmanager refuses the config",
                path=(*route.path, "group_by"),
                hint="keep either ['...'] or the list of labels",
            )


def invalid_regexes(routing: Routing) -> Iterator[Diagnostic]:
    for route in walk(routing.root):
        for index, matcher in enumerate(route.matchers):
            yield from _regex_problem(matcher, (*route.path, "matchers", index))
    for rule in routing.inhibit_rules:
        for key, matchers in (("source", rule.source), ("target", rule.target)):
            for index, matcher in enumerate(matchers):
                yield from _regex_problem(matcher, (*rule.path, key, index))


def _regex_problem(matcher: RouteMatcher, path: Path) -> Iterator[Diagnostic]:
    if matcher.op not in ("=~", "!~"):
        return
    try:
        refused = regex_refused(translated(matcher.value).rust)
    except NotRe2:
        refused = True
    if refused:
        yield Diagnostic(
            "routing/invalid-regex",
            f"matcher {matcher} is not a regex Alertmanager accepts (Go's RE2 syntax, "
            "which has no lookahead, lookbehind or backreferences)",
            path=path,
            hint="list the values to match, or use != / !~ for the ones to leave out",
        )
        return
    try:
        _compiled(matcher.value)
    except InvalidRegex as err:
        yield Diagnostic(
            "routing/invalid-regex",
            f"matcher {matcher}: Alertmanager accepts it, but monitorgen evaluates routes "
            f"with Python's re, which cannot: {err}",
            path=path,
        )
