"""Unique names, Prometheus naming conventions and histogram buckets."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import Metric, MetricType, Path, Spec
from monitorgen.slo import absent_alert_name

#: Non-base units and the base unit Prometheus recommends instead.
NON_BASE_UNITS = {
    "milliseconds": "seconds",
    "ms": "seconds",
    "microseconds": "seconds",
    "minutes": "seconds",
    "hours": "seconds",
    "kilobytes": "bytes",
    "megabytes": "bytes",
    "percent": "ratio",
}
RESERVED_LABELS = {MetricType.HISTOGRAM: "le", MetricType.SUMMARY: "quantile"}


def check(spec: Spec) -> Iterator[Diagnostic]:
    yield from duplicates("metric", ((m.name, m.path) for m in spec.metrics))
    yield from duplicates(
        "alert", ((f"{a.name}' of severity '{a.severity.value}", a.path) for a in spec.alerts)
    )
    yield from duplicates("SLO", ((s.name, s.path) for s in spec.slos))
    yield from duplicates("event", ((e.name, e.path) for e in spec.events))
    yield from duplicates("dashboard uid", ((d.uid, d.path) for d in spec.dashboards))
    yield from duplicates("receiver", ((r.name, r.path) for r in spec.receivers))
    yield from duplicates(
        "recording rule",
        ((f"{r.record}{dict(r.labels)}", r.path) for r in spec.recording_rules),
    )
    if spec.routing:
        intervals = spec.routing.time_intervals
        yield from duplicates("time interval", ((t.name, t.path) for t in intervals))
    for dashboard in spec.dashboards:
        for row in dashboard.rows:
            yield from duplicates("panel title", ((p.title, p.path) for p in row.panels))
    for metric in spec.metrics:
        yield from _metric_conventions(metric)
    yield from _alert_name_clashes(spec)
    yield from _owned_labels(spec)
    yield from _records_of_scraped_names(spec)
    yield from _turned_off_nothing(spec)


def duplicates(kind: str, items: Iterable[tuple[str, Path]]) -> Iterator[Diagnostic]:
    """A finding for each item named like an earlier one, naming where that one is."""
    first: dict[str, Path] = {}
    for name, path in items:
        if name in first:
            yield Diagnostic(
                "names/duplicate",
                f"duplicate {kind} '{name}'",
                path=path,
                first_defined_at=first[name],
            )
        else:
            first[name] = path


def _metric_conventions(metric: Metric) -> Iterator[Diagnostic]:
    name_path = (*metric.path, "name")
    if metric.type is MetricType.COUNTER and not metric.name.endswith("_total"):
        yield Diagnostic(
            "names/counter-suffix",
            f"counter '{metric.name}' must end in _total",
            path=name_path,
            hint=f"rename it to {metric.name}_total",
        )
    if metric.type is not MetricType.COUNTER and metric.name.endswith("_total"):
        yield Diagnostic(
            "names/total-suffix",
            f"{metric.type.value} '{metric.name}' ends in _total, which is reserved for counters",
            path=name_path,
        )
    for unit, base in NON_BASE_UNITS.items():
        if f"_{unit}" in metric.name or metric.unit == unit:
            yield Diagnostic(
                "names/base-unit",
                f"'{metric.name}' uses {unit}; Prometheus metrics use base units ({base})",
                path=name_path,
                severity=Severity.WARNING,
            )
    if metric.unit and metric.unit not in NON_BASE_UNITS and f"_{metric.unit}" not in metric.name:
        yield Diagnostic(
            "names/unit-suffix",
            f"'{metric.name}' has unit '{metric.unit}' but its name does "
            f"not contain _{metric.unit}",
            path=name_path,
            severity=Severity.WARNING,
        )
    yield from _label_names(metric)
    yield from _buckets(metric)


def _label_names(metric: Metric) -> Iterator[Diagnostic]:
    seen: set[str] = set()
    reserved = RESERVED_LABELS.get(metric.type)
    for index, label in enumerate(metric.labels):
        path = (*metric.path, "labels", index)
        if label.name in seen:
            yield Diagnostic("names/duplicate", f"duplicate label '{label.name}'", path=path)
        seen.add(label.name)
        if label.name.startswith("__"):
            yield Diagnostic(
                "names/reserved-label",
                f"label '{label.name}' starts with __, which is reserved for Prometheus",
                path=path,
            )
        if label.name == reserved:
            yield Diagnostic(
                "names/reserved-label",
                f"label '{label.name}' is reserved on a {metric.type.value}",
                path=path,
            )


def _buckets(metric: Metric) -> Iterator[Diagnostic]:
    if metric.buckets and metric.type is not MetricType.HISTOGRAM:
        yield Diagnostic(
            "names/buckets",
            f"buckets are only for histograms, '{metric.name}' is a {metric.type.value}",
            path=(*metric.path, "buckets"),
        )
        return
    for index in range(1, len(metric.buckets)):
        if metric.buckets[index] <= metric.buckets[index - 1]:
            yield Diagnostic(
                "names/buckets-order",
                f"histogram buckets must be strictly ascending: {metric.buckets[index]:g} "
                f"follows {metric.buckets[index - 1]:g}",
                path=(*metric.path, "buckets", index),
            )


def _alert_name_clashes(spec: Spec) -> Iterator[Diagnostic]:
    slo_alerts = {s.alert_name: s for s in spec.slos}
    for alert in spec.alerts:
        if alert.name in slo_alerts:
            yield Diagnostic(
                "names/duplicate",
                f"alert '{alert.name}' has the name of SLO "
                f"'{slo_alerts[alert.name].name}''s burn-rate alert",
                path=(*alert.path, "name"),
            )


#: Alert labels monitorgen sets from other fields, which routing, inhibition and the
#: generated tests read: a `labels` entry would silently replace them.
_ALERT_LABELS = {
    "severity": "the alert's `severity` field",
    "service": "the spec's `service`",
    "alertname": "Prometheus, from the alert's name",
}
_SLO_LABELS = {
    **_ALERT_LABELS,
    "severity": "`alerting.page.severity` and `alerting.ticket.severity`",
    "slo": "the SLO's name",
    "slo_tier": "monitorgen (page or ticket)",
}


def _owned_labels(spec: Spec) -> Iterator[Diagnostic]:
    for alert in spec.alerts:
        owned = {**_ALERT_LABELS, **_grouped(alert.query.by if alert.query else ())}
        yield from _overrides(alert.labels, owned, (*alert.path, "labels"))
    for rule in spec.recording_rules:
        grouped = _grouped(rule.query.by if rule.query else ())
        yield from _overrides(rule.labels, grouped, (*rule.path, "labels"))
    for slo in spec.slos:
        owned = {**_SLO_LABELS, **_grouped(slo.by)}
        yield from _overrides(slo.labels, owned, (*slo.path, "alerting", "labels"))
        for tier, setting in (("page", slo.page), ("ticket", slo.ticket)):
            path = (*slo.path, "alerting", tier, "labels")
            yield from _overrides(setting.labels, owned, path)


def _grouped(by: tuple[str, ...]) -> dict[str, str]:
    """Labels a query keeps apart: one value for them all would give every group one
    labelset, which Prometheus refuses to evaluate."""
    kept = (
        "the query's `by`, one series per value (one value for all of them makes "
        "a labelset Prometheus refuses to evaluate)"
    )
    return dict.fromkeys(by, kept)


def _overrides(
    labels: tuple[tuple[str, str], ...], owned: dict[str, str], path: Path
) -> Iterator[Diagnostic]:
    for key, _ in labels:
        if key in owned:
            yield Diagnostic(
                "names/owned-label",
                f"label '{key}' comes from {owned[key]}: setting it here would silently replace it",
                path=(*path, key),
            )


def _records_of_scraped_names(spec: Spec) -> Iterator[Diagnostic]:
    """A recording rule writing under a scraped series' name mixes its samples into that
    series: every query of the metric then reads both."""
    external = set(spec.external_metrics)
    for rule in spec.recording_rules:
        metric = spec.metric_for_series(rule.record)
        if metric is None and rule.record not in external:
            continue
        owner = f"metric '{metric.name}'" if metric else "an external metric"
        yield Diagnostic(
            "names/record-shadows-metric",
            f"recording rule '{rule.record}' records under the name of {owner}: its samples "
            "would mix with the scraped ones",
            path=(*rule.path, "record"),
            hint="name recordings level:metric:operations, e.g. job:"
            f"{rule.record.removesuffix('_total')}:rate5m",
        )


def _turned_off_nothing(spec: Spec) -> Iterator[Diagnostic]:
    """An `enabled: false` item whose name no alert has: most likely a misspelt name
    (or severity), which leaves on the alert it was meant to turn off."""
    tiers: dict[str, set[str]] = {}
    for alert in spec.alerts:
        tiers.setdefault(alert.name, set()).add(alert.severity.value)
    known = sorted({*tiers, *(o.name for o in spec.alerts_turned_off if not o.names_nothing)})
    for off in spec.alerts_turned_off:
        if not off.names_nothing:
            continue
        hint: str | None
        slo_hint = _slo_alert_hint(spec, off.name)
        if slo_hint is not None:
            hint = slo_hint
        elif off.name in tiers:
            hint = (
                f"its severity is {' or '.join(sorted(tiers[off.name]))}: give that, or no "
                "severity to turn off every tier"
            )
        else:
            close = difflib.get_close_matches(off.name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
        severity = f" with severity {off.severity.value}" if off.severity else ""
        yield Diagnostic(
            "names/turns-off-nothing",
            f"no alert of `alerts` is named '{off.name}'{severity}, so `enabled: false` "
            "turns nothing off",
            path=(*off.path, "name"),
            severity=Severity.WARNING,
            hint=hint,
        )


def _slo_alert_hint(spec: Spec, name: str) -> str | None:
    """How to turn off an alert an SLO makes, which no `alerts` item can."""
    for slo in spec.slos:
        if name == slo.alert_name:
            return (
                f"it is SLO {slo.name}'s burn-rate alert: set `enabled: false` on its "
                "`alerting` tier (page or ticket)"
            )
        if name == absent_alert_name(slo):
            return f"it is SLO {slo.name}'s absent alert: set `alerting: {{absent: false}}`"
    return None
