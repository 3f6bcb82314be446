"""Hand-written alert tests (`alerts[].tests`): series promtool can read, and what the
expected alerts need to be written out in full."""

from __future__ import annotations

import re
from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic
from monitorgen.gotemplate import VALUE_REFERENCE
from monitorgen.model import Alert, AlertTest, Path, Spec
from monitorgen.promql import PromQLError, parse
from monitorgen.rule_set import alert_rule

_NUMBER = r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|Inf|NaN)"
#: One item of promtool's expanding notation: `1`, `_`, `stale`, `0+10x30`, `5-1x4`, `_x3`.
_VALUES_ITEM = re.compile(rf"(?:_|stale|{_NUMBER})(?:(?:[-+]{_NUMBER})?x[0-9]+)?")


def check(spec: Spec) -> Iterator[Diagnostic]:
    for alert in spec.alerts:
        for test in alert.tests:
            yield from _input_series(test)
            yield from _values_needed(spec, alert, test)


def _input_series(test: AlertTest) -> Iterator[Diagnostic]:
    for index, (series, values) in enumerate(test.input_series):
        path: Path = (*test.path, "input_series", index)
        if not _is_series(series):
            yield Diagnostic(
                "alert-tests/series",
                f"'{series}' is not a series: write a name and labels, "
                'e.g. node_filesystem_avail_bytes{mountpoint="/"}',
                path=(*path, "series"),
            )
        wrong = [item for item in values.split() if not _VALUES_ITEM.fullmatch(item)]
        if wrong:
            yield Diagnostic(
                "alert-tests/values",
                f"'{wrong[0]}' is not in promtool's expanding notation",
                path=(*path, "values"),
                hint="numbers, _ (no sample), stale, or a+bxn (n steps of b from a), e.g. 0+10x30",
            )


def _is_series(text: str) -> bool:
    try:
        tree = parse(text)
    except PromQLError:
        return False
    return type(tree).__name__ == "VectorSelector" and bool(tree.name)


def _values_needed(spec: Spec, alert: Alert, test: AlertTest) -> Iterator[Diagnostic]:
    """An expected alert is written out with its labels and annotations; where they show
    $value, the test must say the value."""
    rule = alert_rule(spec, alert)
    showing = [f.key for f in (*rule.labels, *rule.annotations) if VALUE_REFERENCE.search(f.value)]
    if not showing:
        return
    for index, firing in enumerate(test.fires):
        if firing.value is None:
            yield Diagnostic(
                "alert-tests/value",
                f"the alert's {', '.join(showing)} {'shows' if len(showing) == 1 else 'show'} "
                f"$value: give `value`, the value of the expression for this series at {test.at}",
                path=(*test.path, "fires", index),
            )
