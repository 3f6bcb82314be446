"""Every Prometheus rule a spec produces, as values that remember where they came from.

The rule file, the Kubernetes resource, the generated unit tests and the rule lint
all read these groups, so they agree on each rule; every field keeps the spec path
that a finding about it should point at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from monitorgen.immutable import immutable
from monitorgen.model import Alert, Path, QueryFunction, RecordingRule, Spec
from monitorgen.panel_ids import alert_panel, panel_url


@immutable
class Field:
    """One label or annotation of a rule, and the spec field it comes from."""

    key: str
    value: str
    path: Path


@immutable
class Rule:
    """An alerting rule (`alert` set) or a recording rule (`record` set)."""

    expr: str
    path: Path
    """The spec item the rule is made from."""
    expr_path: Path
    """The spec field that shapes the expression."""
    alert: str | None = None
    record: str | None = None
    for_: str | None = None
    keep_firing_for: str | None = None
    labels: tuple[Field, ...] = ()
    annotations: tuple[Field, ...] = ()
    written_by_user: bool = False
    """The expression is the spec's own text (semantic checks already cover it)."""

    @property
    def name(self) -> str:
        return self.alert or self.record or ""

    def label_map(self) -> dict[str, str]:
        return {f.key: f.value for f in self.labels}

    def annotation_map(self) -> dict[str, str]:
        return {f.key: f.value for f in self.annotations}

    def to_dict(self) -> dict[str, Any]:
        """The rule as Prometheus, Mimir and Thanos rule files write it."""
        data: dict[str, Any] = {"alert": self.alert} if self.alert else {"record": self.record}
        data["expr"] = self.expr
        if self.for_ and self.for_ != "0s":
            data["for"] = self.for_
        if self.keep_firing_for:
            data["keep_firing_for"] = self.keep_firing_for
        if self.labels:
            data["labels"] = self.label_map()
        if self.annotations:
            data["annotations"] = self.annotation_map()
        return data


@immutable
class RuleGroup:
    name: str
    interval: str
    rules: tuple[Rule, ...]
    path: Path = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "interval": self.interval,
            "rules": [rule.to_dict() for rule in self.rules],
        }


def rule_groups(spec: Spec) -> tuple[RuleGroup, ...]:
    """All groups in file order: the spec's recording rules, the generated aggregations,
    the alerts, then one group per SLO (its SLI recordings before its alerts, so one
    evaluation sees fresh values), then the hourly and daily retention aggregates.
    Computed once per spec: lint, routing checks and several targets all read them."""
    return spec.derived("rule_groups", lambda: _build_rule_groups(spec))


def _build_rule_groups(spec: Spec) -> tuple[RuleGroup, ...]:
    from monitorgen.recording import generated_recording_rules
    from monitorgen.retention import retention_rule_groups
    from monitorgen.slo import slo_rule_group

    interval = spec.prometheus.evaluation_interval
    groups = [
        RuleGroup(
            f"{spec.service}.recording_rules",
            interval,
            tuple(_recording(rule) for rule in spec.recording_rules),
            ("recording_rules",),
        ),
        RuleGroup(
            f"{spec.service}.aggregations",
            interval,
            generated_recording_rules(spec),
            ("metrics",),
        ),
        RuleGroup(
            f"{spec.service}.alerts",
            interval,
            tuple(alert_rule(spec, alert) for alert in spec.alerts),
            ("alerts",),
        ),
    ]
    groups.extend(slo_rule_group(spec, slo) for slo in spec.slos)
    groups.extend(retention_rule_groups(spec, groups))
    return tuple(group for group in groups if group.rules)


def all_rules(spec: Spec) -> Iterator[tuple[RuleGroup, Rule]]:
    for group in rule_groups(spec):
        for rule in group.rules:
            yield group, rule


def _recording(rule: RecordingRule) -> Rule:
    key = "query" if rule.query else "expr"
    return Rule(
        expr=rule.expr,
        path=rule.path,
        expr_path=(*rule.path, key),
        record=rule.record,
        labels=tuple(Field(k, v, (*rule.path, "labels", k)) for k, v in rule.labels),
        written_by_user=rule.query is None,
    )


def alert_rule(spec: Spec, alert: Alert) -> Rule:
    """An alert with `severity` and `service` labels and the annotations an on-call
    engineer needs: summary, description, runbook and the panel that shows it."""
    path = alert.path
    labels = {
        "severity": Field("severity", alert.severity.value, (*path, "severity")),
        "service": Field("service", spec.service, ("service",)),
    }
    for key, value in alert.labels:
        labels[key] = Field(key, value, (*path, "labels", key))
    return Rule(
        expr=alert.expr,
        path=path,
        expr_path=(*path, "condition" if alert.query else "expr"),
        alert=alert.name,
        for_=alert.for_,
        keep_firing_for=alert.keep_firing_for,
        labels=tuple(labels.values()),
        annotations=tuple(_alert_annotations(spec, alert).values()),
        written_by_user=alert.query is None,
    )


def _alert_annotations(spec: Spec, alert: Alert) -> dict[str, Field]:
    path = alert.path
    found = {"summary": Field("summary", alert.summary, (*path, "summary"))}
    if alert.description:
        found["description"] = Field("description", alert.description, (*path, "description"))
    else:  # made from the summary, which is where a problem in it was written
        made = default_description(spec, alert)
        found["description"] = Field("description", made, found["summary"].path)
    if alert.runbook_url:
        runbook_path = (*path, "runbook_url")
        found["runbook_url"] = Field("runbook_url", alert.runbook_url, runbook_path)
    dashboard = dashboard_link(spec, alert)
    if dashboard:
        found["dashboard"] = Field("dashboard", dashboard, (*path, "dashboard"))
    for key, value in alert.annotations:
        found[key] = Field(key, value, (*path, "annotations", key))
    return found


def default_description(spec: Spec, alert: Alert) -> str:
    """The summary with the value, the threshold and the labels that tell the series
    apart, each unless the summary shows it already. A raw expression that is what a
    structured condition compiles to is described as that condition (a share of
    events as a percentage, with its threshold)."""
    if alert.query is None:
        from monitorgen.structured_form import structured_form

        form = structured_form(spec, alert.expr)
        if form is not None:
            alert = replace(alert, query=form.query, threshold=form.threshold)
    text = alert.summary.rstrip(".")
    if not _VALUE_IN_TEXT.search(text):
        text += f": {{{{ $value | {_value_format(alert)} }}}}"
    if alert.threshold is not None:
        text += f" (threshold {alert.threshold.comparison.value} {alert.threshold.text})"
    shown = labels_named(alert.summary)
    labels = [name for name in series_identity(spec, alert) if name not in shown]
    if labels:
        text += " for " + ", ".join(f"{name} {{{{ $labels.{name} }}}}" for name in labels)
    return text + "."


#: `$value` (or `.Value`) and `$labels.name` (or `.Labels.name`) in a template.
_VALUE_IN_TEXT = re.compile(r"(?:\$value|\.Value)\b")
_LABEL_IN_TEXT = re.compile(r"(?:\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)")


def labels_named(template: str) -> set[str]:
    """The labels a template shows: `{{ $labels.mountpoint }}` names `mountpoint`."""
    return set(_LABEL_IN_TEXT.findall(template))


def _value_format(alert: Alert) -> str:
    """How the value reads best: a share of events as a percentage, a time in seconds
    as a duration, anything else with SI prefixes."""
    query = alert.query
    if query is None or query.scale is not None:
        return "humanize"
    if query.function is QueryFunction.RATIO:
        return "humanizePercentage"
    if query.metric.endswith("_ratio") and query.function in _GAUGE_READINGS:
        return "humanizePercentage"  # a gauge of a share, 0 to 1 by convention
    seconds = query.metric.endswith("_seconds") and not query.metric.endswith("_timestamp_seconds")
    in_its_unit = query.function in _GAUGE_READINGS or query.function is QueryFunction.QUANTILE
    if seconds and in_its_unit:  # a rate or an increase counts observations, not seconds
        return "humanizeDuration"
    return "humanize"


_GAUGE_READINGS = frozenset(
    {
        QueryFunction.VALUE,
        QueryFunction.AVG_OVER_TIME,
        QueryFunction.MAX_OVER_TIME,
        QueryFunction.MIN_OVER_TIME,
    }
)


def series_identity(spec: Spec, alert: Alert) -> tuple[str, ...]:
    """The labels that tell the alert's series apart: a condition's `by`, or those a raw
    expression's result is known to keep (none when it may keep any)."""
    if alert.query is not None:
        return alert.query.by
    from monitorgen.promql import PromQLError
    from monitorgen.promql_labels import output_labels

    def lookup(name: str) -> frozenset[str] | None:
        """Series labels worth naming: the declared ones and the scraped instance."""
        if name == "up":
            return frozenset({"instance"})
        metric = spec.metric_for_series(name)
        return None if metric is None else frozenset(metric.label_names) | {"instance"}

    try:
        kept = output_labels(alert.expr, lookup)
    except PromQLError:
        return ()
    return () if kept.open else tuple(sorted(kept.names))


def dashboard_link(spec: Spec, alert: Alert) -> str | None:
    """The Grafana link that opens the panel drawing the alert, when there is one."""
    if not spec.grafana.url:
        return None
    found = alert_panel(spec, alert)
    if found is None:
        return None
    return panel_url(spec.grafana.url, found.dashboard.uid, found.panel_id)
