"""Alertmanager lint: routing that is valid but most likely not what the author meant.

- `alertmanager/unused-receiver`: a receiver no route names.
- `alertmanager/unused-time-interval`: a time interval no route uses.
- `alertmanager/inhibit-without-equal`: an inhibit rule that mutes alerts about anything.
- `alertmanager/shadowed-route`: a route an earlier sibling without `continue` always wins.
- `alertmanager/catch-all-only`: an alert no route matches, left to the default receiver.
- `alertmanager/no-grouping`: `group_by: ['...']`, one notification per alert.
- `alertmanager/inhibit-never-equal`: an inhibit rule whose `equal` names a label the
  spec's source alerts carry and its target alerts never do (or the reverse): a missing
  label is empty, so the values never match and the rule never mutes.
- `alertmanager/critical-only-at-times`: critical alerts whose every route is muted or
  active at times only: outside those times they reach nobody.
- `alertmanager/turned-off-alert`: a route, an inhibit rule or a routing test naming an
  alert (`alertname`) that `enabled: false` leaves out of this spec or environment.
- `alertmanager/misspelt-alertname`: an `alertname` no alert of the spec has, close to
  one it has. (Names far from every alert are left alone: Alertmanager also routes
  alerts of other sources, such as Watchdog.)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache

from monitorgen.diagnostics import Diagnostic, Severity, format_path
from monitorgen.lint.rules import Rules, label_lookup
from monitorgen.model import Path, Route, RouteMatcher, Routing, Spec
from monitorgen.promql import PromQLError
from monitorgen.promql_labels import output_labels
from monitorgen.routing import (
    AlertLabels,
    MatchedRoute,
    RoutingKey,
    alert_label_sets,
    invalid_regexes,
    match,
    matcher_matches,
    notifies_at,
    routed_labels,
    routing_key,
    walk,
)
from monitorgen.rule_set import rule_groups
from monitorgen.slo import absent_alert_name

#: A regex that is only literal alternatives (`critical|warning`), so its values are known.
_LITERAL_ALTERNATIVES = re.compile(r"[A-Za-z0-9_ :/-]*(\|[A-Za-z0-9_ :/-]*)*")


def check(spec: Spec) -> Iterator[Diagnostic]:
    if spec.routing is None:
        return
    yield from _unused_receivers(spec)
    yield from _unused_time_intervals(spec)
    yield from _inhibit_without_equal(spec)
    yield from _no_grouping(spec)
    yield from _alertnames_named(spec)
    if any(invalid_regexes(spec.routing)):
        return  # reported by routing.check; matching cannot be evaluated
    for route in walk(spec.routing.root):
        yield from _shadowed_children(route)
    yield from _catch_all_only(spec)
    yield from _inhibit_never_equal(spec)
    yield from _critical_only_at_times(spec)


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


def _alertnames_named(spec: Spec) -> Iterator[Diagnostic]:
    """Alert names in matchers and routing tests that no alert of the spec has: one
    turned off here, or a near miss of one it has. (Names an environment's alerts have
    are left alone: every environment shares the routing.)"""
    assert spec.routing is not None
    alerting = {rule.alert for group in rule_groups(spec) for rule in group.rules if rule.alert}
    turned_off = _turned_off_names(spec)
    candidates = sorted(alerting)
    near: dict[str, list[str]] = {}
    for name, path, what in _alertnames(spec.routing):
        if name in alerting or name in spec.alerts_of_environments:
            continue
        if name in turned_off:
            yield Diagnostic(
                "alertmanager/turned-off-alert",
                f"{what} names alert '{name}', which {turned_off[name]} leaves out of this spec",
                path=path,
                severity=Severity.WARNING,
                hint="remove the reference, or turn the alert back on",
            )
            continue
        if name not in near:  # a routing test per team repeats a few names many times
            near[name] = difflib.get_close_matches(name, candidates, n=1, cutoff=0.85)
        close = near[name]
        if close:
            yield Diagnostic(
                "alertmanager/misspelt-alertname",
                f"{what} names alert '{name}', which no alert of the spec is: "
                f"did you mean '{close[0]}'?",
                path=path,
                severity=Severity.WARNING,
                hint="an alert from another source may keep the name: disable this finding",
            )


def _turned_off_names(spec: Spec) -> dict[str, str]:
    """Each name of an alert the spec could have but turns off, and what turns it off:
    an alert's switch, or an SLO's `alerting` (every burn tier off, or `absent: false`)."""
    found = {
        off.name: "`enabled: false`" for off in spec.alerts_turned_off if not off.names_nothing
    }
    for slo in spec.slos:
        alerting = f"the `alerting` of SLO {slo.name}"
        found.setdefault(slo.alert_name, alerting)
        found.setdefault(absent_alert_name(slo), alerting)
    return found


def _alertnames(routing: Routing) -> Iterator[tuple[str, Path, str]]:
    """Each alert name a route or inhibit matcher lets through, or a routing test sends:
    the name, the path of the matcher (or test label), and what names it."""
    for route in walk(routing.root):
        for index, matcher in enumerate(route.matchers):
            for name in _alertnames_matched(matcher):
                yield name, (*route.path, "matchers", index), "this route"
    for rule in routing.inhibit_rules:
        for side in ("source", "target"):
            for index, matcher in enumerate(getattr(rule, side)):
                for name in _alertnames_matched(matcher):
                    yield name, (*rule.path, side, index), f"this inhibit rule's {side}"
    for test in routing.tests:
        for label, value in test.labels:
            if label == "alertname":
                yield value, (*test.path, "labels", "alertname"), "this routing test"


def _alertnames_matched(matcher: RouteMatcher) -> tuple[str, ...]:
    if matcher.label != "alertname":
        return ()
    return _possible_values(matcher) or ()


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
    """One finding per severity, at its first alert, naming them all: routing a whole
    severity to the default receiver is often meant, and a finding per alert would
    bury the others. Routes are evaluated once per routing situation (the labels
    routes read), not per alert: thousands of alerts share a handful."""
    assert spec.routing is not None
    root = spec.routing.root
    if not root.routes:
        return  # no routes at all: the default receiver is the only one, by design
    names = routed_labels(spec.routing)
    default_only: dict[RoutingKey, bool] = {}
    carried = _series_labels(spec)
    by_severity: dict[str, list[AlertLabels]] = {}
    for alert in alert_label_sets(spec):
        unset = set(names) - {name for name, _ in alert.labels}
        if unset and carried(alert.expr).intersection(unset):
            continue  # its series may bring a label a route reads: known only at run time
        key = routing_key(alert.labels, names)
        if key not in default_only:
            matched = match(spec.routing, alert.as_dict())
            default_only[key] = all(m.is_root for m in matched)
        if default_only[key]:
            by_severity.setdefault(alert.severity, []).append(alert)
    for severity, alerts in by_severity.items():
        yield Diagnostic(
            "alertmanager/catch-all-only",
            f"{severity} alerts match no route and only reach the default receiver "
            f"'{root.receiver}': {_names(alerts)}",
            path=alerts[0].path,
            severity=Severity.WARNING,
            hint="add a route for them, or disable this check if the default is intended",
        )


def _inhibit_never_equal(spec: Spec) -> Iterator[Diagnostic]:
    """Judged on the spec's own alerts, when both sides of a rule match some (sources
    may come from elsewhere; then nothing is said)."""
    assert spec.routing is not None
    if not any(rule.equal for rule in spec.routing.inhibit_rules):
        return
    alerts = alert_label_sets(spec)
    presence = _label_presence(spec)
    for rule in spec.routing.inhibit_rules:
        sources = [a for a in alerts if _may_match(rule.source, a, presence)]
        targets = [a for a in alerts if _may_match(rule.target, a, presence)]
        if not rule.equal or not sources or not targets:
            continue
        for label in rule.equal:
            in_sources = {presence(a, label) for a in sources}
            in_targets = {presence(a, label) for a in targets}
            if None in in_sources | in_targets or len(in_sources | in_targets) != 2:
                continue
            if len(in_sources) == 1 and len(in_targets) == 1:
                carrying, lacking = (sources, targets) if True in in_sources else (targets, sources)
                yield Diagnostic(
                    "alertmanager/inhibit-never-equal",
                    f"this inhibit rule never mutes: '{label}' is on every "
                    f"{_side(carrying, sources)} alert ({_names(carrying)}) and on no "
                    f"{_side(lacking, sources)} alert ({_names(lacking)}), and a missing "
                    "label is empty, so the values are never equal",
                    path=(*rule.path, "equal"),
                    severity=Severity.WARNING,
                    hint=f"drop '{label}' from 'equal', or list labels both sides carry",
                )
                break


def _side(alerts: list[AlertLabels], sources: list[AlertLabels]) -> str:
    return "source" if alerts is sources else "target"


def _names(alerts: list[AlertLabels]) -> str:
    names = list(dict.fromkeys(a.alertname for a in alerts))
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


Presence = Callable[[AlertLabels, str], "bool | None"]


def _label_presence(spec: Spec) -> Presence:
    """Whether an alert arrives with a label: set by the rule (or an external label),
    carried by every series of its expression, or neither; None when its series may
    carry labels the spec does not know."""
    lookup = label_lookup(spec, Rules(rule_groups(spec)))

    @cache
    def output(expr: str) -> tuple[frozenset[str], bool]:
        try:
            found = output_labels(expr, lookup)
        except PromQLError:
            return frozenset(), True
        return found.names, found.open

    def presence(alert: AlertLabels, label: str) -> bool | None:
        if label in alert.as_dict():
            return True
        names, is_open = output(alert.expr)
        if label in names:
            return True
        return None if is_open else False

    return presence


def _may_match(matchers: tuple[RouteMatcher, ...], alert: AlertLabels, presence: Presence) -> bool:
    """Whether an alert matches, counting a matcher on a label its series may bring (a
    value known only at run time) as a match."""
    labels = alert.as_dict()
    for matcher in matchers:
        if matcher.label not in labels and presence(alert, matcher.label) is not False:
            continue
        if not matcher_matches(matcher, labels):
            return False
    return True


def _critical_only_at_times(spec: Spec) -> Iterator[Diagnostic]:
    """Once per route, naming the critical alerts it leaves unsent at times."""
    routing = spec.routing
    assert routing is not None
    if not any(_timed(route) for route in walk(routing.root)):
        return
    names = routed_labels(routing)
    stranded: dict[Path, tuple[Route, datetime, list[str]]] = {}
    unsent: dict[RoutingKey, tuple[Route, datetime] | None] = {}
    for alert in alert_label_sets(spec):
        if alert.severity != "critical":
            continue
        key = routing_key(alert.labels, names)
        if key not in unsent:
            unsent[key] = _unsent_at_times(routing, match(routing, alert.as_dict()))
        found = unsent[key]
        if found is not None:
            route, when = found
            stranded.setdefault(route.path, (route, when, []))[2].append(alert.alertname)
    for route, when, alertnames in stranded.values():
        shown = list(dict.fromkeys(alertnames))
        yield Diagnostic(
            "alertmanager/critical-only-at-times",
            f"critical alerts ({', '.join(shown[:3])}{' ...' if len(shown) > 3 else ''}) "
            f"reach no receiver at times (on {when:%A at %H:%M} UTC, say): every route they "
            "match is muted then or not active, and Alertmanager does not fall back to "
            "another route",
            path=route.path,
            severity=Severity.WARNING,
            hint="route them on with 'continue: true' to a route that is never muted, "
            "or accept that they wait for the interval",
        )


def _timed(route: Route) -> bool:
    return bool(route.mute_time_intervals or route.active_time_intervals)


#: Time intervals are checked every quarter of an hour over nine weeks: every weekday
#: and time of day, and two months' days.
_SAMPLE_STEP = timedelta(minutes=15)
_SAMPLE_STEPS = 9 * 7 * 24 * 4
_SAMPLE_START = datetime(2026, 1, 1, tzinfo=UTC)


def _unsent_at_times(
    routing: Routing, matched: list[MatchedRoute]
) -> tuple[Route, datetime] | None:
    """The first route an alert is matched to and a time none of its routes notifies,
    when every route is timed and there is such a time."""
    if not matched or not all(_timed(m.route) for m in matched):
        return None
    for step in range(_SAMPLE_STEPS):
        when = _SAMPLE_START + step * _SAMPLE_STEP
        if not any(notifies_at(routing, m, when) for m in matched):
            return matched[0].route, when
    return None


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
