"""Checks that make a schema-valid spec invalid: names, references, PromQL."""

from __future__ import annotations

from monitorgen.diagnostics import Diagnostic
from monitorgen.model import Spec
from monitorgen.semantic import (
    alert_tests,
    events,
    names,
    promql_usage,
    receivers,
    references,
    scrape,
)
from monitorgen.semantic import report as report_checks


def check_spec(spec: Spec) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in (
        names.check,
        references.check,
        events.check,
        promql_usage.check,
        receivers.check,
        scrape.check,
        report_checks.check,
        alert_tests.check,
    ):
        found.extend(check(spec))
    return found
