"""Scrape jobs: the exporters whose metrics the spec reads, and whether the generated
prometheus.yml scrapes anything besides the service."""

from __future__ import annotations

from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import Spec
from monitorgen.promql import PromQLError, inspect
from monitorgen.semantic.promql_usage import expressions

#: How many of the metrics read are named in the finding.
_SHOWN = 3


def check(spec: Spec) -> Iterator[Diagnostic]:
    yield from _exporter_not_scraped(spec)


def _exporter_not_scraped(spec: Spec) -> Iterator[Diagnostic]:
    """Alerts and panels over another exporter's metrics, with prometheus.yml scraping
    the service alone: the series never exist there, and the alerts can never fire."""
    if spec.prometheus.scrape_jobs or not spec.external_metrics:
        return
    external = set(spec.external_metrics)
    read: set[str] = set()
    for expr in expressions(spec):
        try:
            read.update(name for name in inspect(expr.text).metric_names if name in external)
        except PromQLError:
            continue  # reported by the checks of meaning
    if not read:
        return
    names = sorted(read)
    shown = ", ".join(names[:_SHOWN]) + (
        f" and {len(names) - _SHOWN} more" if names[_SHOWN:] else ""
    )
    yield Diagnostic(
        "lint/exporter-not-scraped",
        f"queries read {shown} (metrics of another exporter), and prometheus.yml scrapes "
        f"only the service's job '{spec.prometheus.job}'",
        path=("prometheus", "scrape_jobs"),
        severity=Severity.WARNING,
        hint="add the exporter to `prometheus.scrape_jobs` (or disable this finding where "
        "another Prometheus scrapes it)",
    )
