"""promtool tests for raw alerts on a series going missing: `absent(selector)` and
`absent_over_time(selector[window])`, the most common raw alerts there are.

Their inputs follow from the expression alone: no series at all, and one that stops.
Two groups pin them: the alert fires on a series never seen (after its `for`), and on
one that stops only once its last sample has left the lookback (`absent`, 5m in promtool)
or the window (`absent_over_time`): silent the evaluation before, firing the one after.
The evaluation exactly at the edge is left out, where Prometheus 2 still counts the
sample at the start of the range and 3 does not. The alert carries the labels of the
selector's `=` matchers, as `absent` gives them, and the value 1.
"""

from __future__ import annotations

import math
from typing import Any

from monitorgen.immutable import immutable
from monitorgen.model import Alert, Spec
from monitorgen.promql import PromQLError, parse, without_brackets
from monitorgen.rule_inputs import NotDerivable, Series, Timeline, duration_seconds
from monitorgen.rule_set import Rule
from monitorgen.targets.promtool_tests import (
    alert_check,
    duration_text,
    expected_alert,
    on_grid,
    unit_test_group,
)

_ABSENCE_FUNCTIONS = ("absent", "absent_over_time")
#: How far back an instant selector looks for a sample: promtool's default.
LOOKBACK = 300


@immutable
class Absence:
    """`function(name{labels}[window])`; `window` is 0 for `absent`."""

    function: str
    name: str
    labels: tuple[tuple[str, str], ...]
    """The selector's `=` matchers, sorted: the labels of what it returns."""
    window: int

    @property
    def span(self) -> int:
        """How long after its last sample a series reads as absent."""
        return self.window or LOOKBACK

    def selector(self) -> str:
        return Series(self.name, self.labels).selector()


def absence_of(expr: str) -> Absence | None:
    """What `expr` is as an absence test, or None when it is no `absent(...)` or
    `absent_over_time(...)` call; NotDerivable when it is one whose inputs do not follow
    from its text (a matcher other than `=`, an offset)."""
    try:
        tree = without_brackets(parse(expr))
    except PromQLError:
        return None
    if type(tree).__name__ != "Call" or tree.func.name not in _ABSENCE_FUNCTIONS:
        return None
    (argument,) = tree.args
    ranged = type(argument).__name__ == "MatrixSelector"
    selector = argument.vector_selector if ranged else argument
    if type(selector).__name__ != "VectorSelector" or not selector.name:
        raise NotDerivable(f"{tree.func.name}() of something other than a named series")
    if selector.offset or selector.at is not None or selector.matchers.or_matchers:
        raise NotDerivable(f"{tree.func.name}() of a selector with an offset, @ or `or`")
    labels: dict[str, str] = {}
    for matcher in selector.matchers.matchers:
        if not str(matcher.op).endswith(".Equal") or matcher.name in labels:
            raise NotDerivable(f"{tree.func.name}() of a selector with a matcher other than =")
        labels[matcher.name] = matcher.value
    window = int(argument.range.total_seconds()) if ranged else 0
    return Absence(tree.func.name, selector.name, tuple(sorted(labels.items())), window)


def absence_test_groups(
    spec: Spec, alert: Alert, rule: Rule, tl: Timeline
) -> list[dict[str, Any]] | None:
    """The groups of an absence alert, or None when its expression is not one."""
    absence = absence_of(alert.expr)
    if absence is None:
        return None
    if len(spec.alerts_named(alert.name)) > 1:
        raise NotDerivable(
            "another alert of the same name watches another expression, whose firing "
            "these inputs do not tell"
        )
    return [_never_seen(absence, rule, tl), _stops(absence, rule, tl)]


def _never_seen(absence: Absence, rule: Rule, tl: Timeline) -> dict[str, Any]:
    fires = on_grid(duration_seconds(rule.for_), tl)
    checks = [alert_check(fires - tl.evaluation, rule.name, [])] if fires else []
    checks.append(alert_check(fires, rule.name, [_expected(absence, rule)]))
    name = f"{rule.name} fires when {absence.selector()} has no series"
    return unit_test_group(name, [], tl, fires, checks)


def _stops(absence: Absence, rule: Rule, tl: Timeline) -> dict[str, Any]:
    """Samples until `last`, then none: absent from the first evaluation past `last` +
    span in every Prometheus, present up to the last evaluation short of it."""
    hold = on_grid(duration_seconds(rule.for_), tl)
    last = on_grid(absence.span, tl)
    edge = last + absence.span
    present = math.ceil(edge / tl.evaluation) * tl.evaluation - tl.evaluation
    gone = edge // tl.evaluation * tl.evaluation + tl.evaluation
    checks = [
        alert_check(present + hold, rule.name, []),
        alert_check(gone + hold, rule.name, [_expected(absence, rule)]),
    ]
    series = Series(absence.name, absence.labels, start_text="1")
    name = (
        f"{rule.name} fires only once {absence.selector()}'s last sample is "
        f"{duration_text(absence.span)} old"
    )
    return unit_test_group(name, [series], tl, gone + hold, checks, samples=last // tl.step)


def _expected(absence: Absence, rule: Rule) -> dict[str, Any]:
    return expected_alert(rule, dict(absence.labels), 1.0)
