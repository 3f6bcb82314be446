"""The `report:` section: a schedule cron and systemd both understand, and trace
entries for the report to count."""

from __future__ import annotations

from collections.abc import Iterator

from monitorgen.cron import CronError, parse_cron
from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import LLM_CALL, Spec


def check(spec: Spec) -> Iterator[Diagnostic]:
    report = spec.report
    if report is None:
        return
    try:
        parse_cron(report.schedule)
    except CronError as exc:
        yield Diagnostic(
            "report/schedule",
            f"schedule '{report.schedule}' is not usable: {exc}",
            path=(*report.path, "schedule"),
            hint="write five fields, e.g. '0 1 * * *' for 01:00 every day",
        )
    if not any(event.name == LLM_CALL and event.trace for event in spec.events):
        yield Diagnostic(
            "report/no-trace",
            f"the daily report counts '{LLM_CALL}' trace entries, "
            f"but no traced event is named '{LLM_CALL}'",
            path=report.path,
            severity=Severity.WARNING,
            hint=f"declare an event '{LLM_CALL}' (trace is on by default) or drop report:",
        )
