"""Hand-written alert tests (`alerts[].tests`): series promtool can read and the spec
knows, a time the alert can fire at, and what the expected alerts need to be written
out in full."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic
from monitorgen.gotemplate import VALUE_REFERENCE, TemplateError, parse_template, render
from monitorgen.model import Alert, AlertTest, MetricType, Path, Spec
from monitorgen.promql import PromQLError, parse
from monitorgen.rule_inputs import duration_seconds
from monitorgen.rule_set import Field, alert_rule
from monitorgen.semantic.promql_usage import known_series

_NUMBER = r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|Inf|NaN)"
#: One item of promtool's expanding notation: `1`, `_`, `stale`, `0+10x30`, `5-1x4`, `_x3`.
_VALUES_ITEM = re.compile(rf"(?:_|stale|{_NUMBER})(?:(?:[-+]{_NUMBER})?x[0-9]+)?")


def check(spec: Spec) -> Iterator[Diagnostic]:
    known: frozenset[str] | None = None
    for alert in spec.alerts:
        if not alert.tests:
            continue
        known = known if known is not None else known_series(spec)
        templated = _templated_fields(spec, alert)
        for test in alert.tests:
            yield from _input_series(spec, test, known)
            yield from _firing_time(alert, test)
            yield from _written_out(alert, test, templated)


def _input_series(spec: Spec, test: AlertTest, known: frozenset[str]) -> Iterator[Diagnostic]:
    for index, (series, values) in enumerate(test.input_series):
        path: Path = (*test.path, "input_series", index)
        name, labels = _series_parts(series)
        if name is None:
            yield Diagnostic(
                "alert-tests/series",
                f"'{series}' is not a series: write a name and labels, "
                'e.g. node_filesystem_avail_bytes{mountpoint="/"}',
                path=(*path, "series"),
            )
        elif name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            yield Diagnostic(
                "alert-tests/series",
                f"'{name}' is no series this spec declares, records or lists as external: "
                "the alert never reads it",
                path=(*path, "series"),
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        else:
            yield from _series_labels(spec, name, labels, (*path, "series"))
        wrong = [item for item in values.split() if not _VALUES_ITEM.fullmatch(item)]
        if wrong:
            yield Diagnostic(
                "alert-tests/values",
                f"'{wrong[0]}' is not in promtool's expanding notation",
                path=(*path, "values"),
                hint="numbers, _ (no sample), stale, or a+bxn (n steps of b from a), e.g. 0+10x30",
            )


def _series_parts(text: str) -> tuple[str | None, tuple[str, ...]]:
    """The series' name and label names, or None for a text that is no series."""
    try:
        tree = parse(text)
    except PromQLError:
        return None, ()
    if type(tree).__name__ != "VectorSelector" or not tree.name:
        return None, ()
    return str(tree.name), tuple(m.name for m in tree.matchers.matchers if m.name != "__name__")


def _series_labels(
    spec: Spec, name: str, labels: tuple[str, ...], path: Path
) -> Iterator[Diagnostic]:
    """A declared metric's series carries its labels and the scrape's; a test series
    with another label is one the alert's selectors may never match as intended."""
    metric = spec.metric_for_series(name)
    if metric is None:
        return  # recorded or external: its labels are not declared here
    allowed = {*metric.label_names, "job", "instance"}
    if name.endswith("_bucket"):
        allowed.add("le")
    if metric.type is MetricType.SUMMARY and name == metric.name:
        allowed.add("quantile")
    for label in labels:
        if label not in allowed:
            close = difflib.get_close_matches(label, sorted(allowed), n=1)
            yield Diagnostic(
                "alert-tests/series",
                f"{metric.name} has no label '{label}' (labels: {', '.join(sorted(allowed))})",
                path=path,
                hint=f"did you mean '{close[0]}'?" if close else None,
            )


def _firing_time(alert: Alert, test: AlertTest) -> Iterator[Diagnostic]:
    """The input series start at time 0: an alert holding for `for` cannot fire earlier."""
    if test.fires and duration_seconds(test.at) < duration_seconds(alert.for_):
        yield Diagnostic(
            "alert-tests/at",
            f"the alert fires only once its condition has held for {alert.for_}, "
            f"and the series start at 0: at {test.at} it cannot fire yet",
            path=(*test.path, "at"),
            hint=f"test at {alert.for_} or later, or expect fires: []",
        )


def _templated_fields(spec: Spec, alert: Alert) -> list[tuple[str, Field]]:
    """(how to name it, field) of the alert's labels and annotations with templates."""
    rule = alert_rule(spec, alert)
    found = []
    for field in (*rule.labels, *rule.annotations):
        if "{{" not in field.value:
            continue
        made = field.key == "description" and not alert.description
        name = f"{field.key} (monitorgen writes one: it has none)" if made else field.key
        found.append((name, field))
    return found


def _written_out(
    alert: Alert, test: AlertTest, templated: list[tuple[str, Field]]
) -> Iterator[Diagnostic]:
    """An expected alert is written out with its labels and annotations, expanded as
    Prometheus would: where they show $value, the test must say the value, and they
    may use no more than values, labels and the humanize functions."""
    showing = [name for name, field in templated if VALUE_REFERENCE.search(field.value)]
    for index, firing in enumerate(test.fires):
        path = (*test.path, "fires", index)
        if firing.value is None and showing:
            yield Diagnostic(
                "alert-tests/value",
                f"the alert's {', '.join(showing)} {'shows' if len(showing) == 1 else 'show'} "
                f"$value: give `value`, the value of the expression for this series at {test.at}",
                path=path,
            )
            continue
        value = math.nan if firing.value is None else firing.value
        for name, field in templated:
            try:
                expanded = render(parse_template(field.value), value, dict(firing.labels))
            except TemplateError:
                continue  # the template lint reports it at the field
            if expanded is None:
                yield Diagnostic(
                    "alert-tests/template",
                    f"the alert's {name} uses more than $value, $labels and the humanize "
                    "functions, so monitorgen cannot write out the alert this test expects",
                    path=path,
                    hint="test this alert with promtool test files of your own",
                )
                break
