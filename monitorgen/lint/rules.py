"""Rule lint, what cloudflare pint checks offline: windows, intervals, templates, `for`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import Spec
from monitorgen.promql import PromQLError, inspect, seconds
from monitorgen.semantic.promql_usage import expressions

_TEMPLATE_VALUE = re.compile(r"\$value|\.Value")


def check(spec: Spec) -> Iterator[Diagnostic]:
    yield from _rate_windows(spec)
    yield from _evaluation_interval(spec)
    yield from _alert_labels(spec)


def _rate_windows(spec: Spec) -> Iterator[Diagnostic]:
    """A rate over less than two scrapes returns nothing at all most of the time."""
    minimum = 2 * seconds(spec.prometheus.scrape_interval)
    for expr in expressions(spec):
        if "$__" in expr.text:
            continue
        try:
            facts = inspect(expr.text)
        except PromQLError:
            continue
        for use in facts.selectors:
            if (
                use.range is not None
                and use.function in ("rate", "increase", "irate")
                and (use.range.total_seconds() < minimum)
            ):
                yield Diagnostic(
                    "lint/rate-window",
                    f"{use.function}() over {int(use.range.total_seconds())}s is less than twice "
                    f"the scrape interval ({spec.prometheus.scrape_interval})",
                    path=expr.path,
                    severity=Severity.WARNING,
                )


def _evaluation_interval(spec: Spec) -> Iterator[Diagnostic]:
    if seconds(spec.prometheus.evaluation_interval) > 300:
        yield Diagnostic(
            "lint/group-interval",
            "an evaluation interval over 5m makes alerts slow and staleness handling unreliable",
            path=("prometheus", "evaluation_interval"),
            severity=Severity.WARNING,
        )


def _alert_labels(spec: Spec) -> Iterator[Diagnostic]:
    """`$value` in a label makes every evaluation a new alert."""
    for alert in spec.alerts:
        for key, value in alert.labels:
            if _TEMPLATE_VALUE.search(value):
                yield Diagnostic(
                    "lint/value-in-label",
                    f"label '{key}' uses $value: each new value starts a new alert",
                    path=(*alert.path, "labels", key),
                )
