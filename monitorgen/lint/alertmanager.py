"""Alertmanager lint: routing that is valid but most likely not what the author meant.

- `alertmanager/unused-receiver`: a receiver no route names.
- `alertmanager/unused-time-interval`: a time interval no route uses.
- `alertmanager/inhibit-without-equal`: an inhibit rule that mutes alerts about anything.
- `alertmanager/shadowed-route`: a route an earlier sibling without `continue` always wins.
- `alertmanager/catch-all-only`: an alert no route matches, left to the default receiver.
- `alertmanager/no-grouping`: `group_by: ['...']`, one notification per alert.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

from monitorgen.diagnostics import Diagnostic, Severity, format_path
from monitorgen.lint.rules import Rules, label_lookup
from monitorgen.model import Route, RouteMatcher, Spec
from monitorgen.promql import PromQLError
from monitorgen.promql_labels import output_labels
from monitorgen.routing import (
    RoutingKey,
    alert_label_sets,
    invalid_regexes,
    match,
    matcher_matches,
    routed_labels,
    routing_key,
    walk,
)
from monitorgen.rule_set import rule_groups

#: A regex that is only literal alternatives (`critical|warning`), so its values are known.
_LITERAL_ALTERNATIVES = re.compile(r"[A-Za-z0-9_ :/-]*(\|[A-Za-z0-9_ :/-]*)*")


def check(spec: Spec) -> Iterator[Diagnostic]:
    if spec.routing is None:
        return
    yield from _unused_receivers(spec)
    yield from _unused_time_intervals(spec)
    yield from _inhibit_without_equal(spec)
    yield from _no_grouping(spec)
    if any(invalid_regexes(spec.routing)):
        return  # reported by routing.check; matching cannot be evaluated
    for route in walk(spec.routing.root):
        yield from _shadowed_children(route)
    yield from _catch_all_only(spec)


def _unused_receivers(spec: Spec) -> Iterator[Diagnostic]:
    assert spec.routing is not None
    named = {route.receiver for route in walk(spec.routing.root)}
    for receiver in spec.receivers:
        if receiver.name not in named:
            yield Diagnostic(
                "alertmanager/unused-receiver",
                f"no route sends alerts to receiver '{receiver.name}'",
                path=(*receiver.path, "name"),
                severity=Severity.WARNING,
                hint="route alerts to it, or remove it",
            )


def _unused_time_intervals(spec: Spec) -> Iterator[Diagnostic]:
    assert spec.routing is not None
    used = {
        name
        for route in walk(spec.routing.root)
        for name in (*route.mute_time_intervals, *route.active_time_intervals)
    }
    for interval in spec.routing.time_intervals:
        if interval.name not in used:
            yield Diagnostic(
                "alertmanager/unused-time-interval",
                f"no route mutes or activates on time interval '{interval.name}'",
                path=(*interval.path, "name"),
                severity=Severity.WARNING,
            )


def _inhibit_without_equal(spec: Spec) -> Iterator[Diagnostic]:
    assert spec.routing is not None
    for rule in spec.routing.inhibit_rules:
        if not rule.equal:
            yield Diagnostic(
                "alertmanager/inhibit-without-equal",
                "this inhibit rule has no 'equal': any firing source alert mutes every target "
                "alert, whatever service, instance or cluster either is about",
                path=rule.path,
                severity=Severity.WARNING,
                hint="list the labels both alerts must share, e.g. equal: [service, instance]",
            )


def _no_grouping(spec: Spec) -> Iterator[Diagnostic]:
    assert spec.routing is not None
    for route in walk(spec.routing.root):
        if route.group_by is not None and "..." in route.group_by:
            yield Diagnostic(
                "alertmanager/no-grouping",
                "group_by ['...'] sends one notification per alert: an outage that fires "
                "a hundred alerts sends a hundred messages",
                path=(*route.path, "group_by"),
                severity=Severity.WARNING,
                hint="group by the labels on-call looks at together, e.g. [alertname, service]",
            )


def _shadowed_children(parent: Route) -> Iterator[Diagnostic]:
    for later_index, later in enumerate(parent.routes):
        for earlier in parent.routes[:later_index]:
            if not earlier.continue_ and covers(earlier, later):
                yield Diagnostic(
                    "alertmanager/shadowed-route",
                    f"this route never receives an alert: the earlier route "
                    f"{format_path(earlier.path)} ({_show(earlier)}) matches every alert it "
                    "would and has no 'continue'",
                    path=later.path,
                    severity=Severity.WARNING,
                    hint="put the narrower route first, or set 'continue: true' on the earlier one",
                )
                break


def covers(earlier: Route, later: Route) -> bool:
    """True when every alert `later` matches also matches `earlier` (decided conservatively)."""
    return all(_implied(matcher, later.matchers) for matcher in earlier.matchers)


def _implied(matcher: RouteMatcher, by: tuple[RouteMatcher, ...]) -> bool:
    """Whether every label set matching all of `by` also matches `matcher`."""
    for other in by:
        if other.label != matcher.label:
            continue
        if other == matcher:
            return True
        values = _possible_values(other)
        if values is not None and all(matcher_matches(matcher, {matcher.label: v}) for v in values):
            return True
    return False


def _possible_values(matcher: RouteMatcher) -> tuple[str, ...] | None:
    """The only values a matcher lets through, when they are few and known."""
    if matcher.op == "=":
        return (matcher.value,)
    if matcher.op == "=~" and _LITERAL_ALTERNATIVES.fullmatch(matcher.value):
        return tuple(matcher.value.split("|"))
    return None


def _show(route: Route) -> str:
    return ", ".join(str(m) for m in route.matchers) or "no matchers"


def _catch_all_only(spec: Spec) -> Iterator[Diagnostic]:
    """Evaluated once per routing situation (the labels routes read), not per alert:
    thousands of alerts share a handful."""
    assert spec.routing is not None
    root = spec.routing.root
    if not root.routes:
        return  # no routes at all: the default receiver is the only one, by design
    names = routed_labels(spec.routing)
    default_only: dict[RoutingKey, bool] = {}
    carried = _series_labels(spec)
    for alert in alert_label_sets(spec):
        unset = set(names) - {name for name, _ in alert.labels}
        if unset and carried(alert.expr).intersection(unset):
            continue  # its series may bring a label a route reads: known only at run time
        key = routing_key(alert.labels, names)
        if key not in default_only:
            matched = match(spec.routing, alert.as_dict())
            default_only[key] = all(m.is_root for m in matched)
        if default_only[key]:
            yield Diagnostic(
                "alertmanager/catch-all-only",
                f"alert {alert.alertname} ({alert.severity}) matches no route and only "
                f"reaches the default receiver '{root.receiver}'",
                path=alert.path,
                severity=Severity.WARNING,
                hint="add a route for it, or disable this check if the default is intended",
            )


def _series_labels(spec: Spec) -> Callable[[str], frozenset[str]]:
    """The labels an expression's series may carry, of those the spec knows (declared
    metrics, the scrape's, recorded series); every label for a series it does not know."""
    everything = frozenset(routed_labels(spec.routing)) if spec.routing else frozenset()
    lookup = label_lookup(spec, Rules(rule_groups(spec)))

    @cache
    def carried(expr: str) -> frozenset[str]:
        try:
            labels = output_labels(expr, lookup)
        except PromQLError:
            return frozenset()
        return everything if labels.open else labels.names

    return carried
