"""Prometheus rule file: `prometheus/rules.yml` (alerting and recording rules)."""

from __future__ import annotations

from typing import Any

from monitorgen.model import Alert, RecordingRule, Spec
from monitorgen.targets.base import Artifact, yaml_artifact

RULES_PATH = "prometheus/rules.yml"


def render(spec: Spec) -> list[Artifact]:
    return [yaml_artifact(spec, RULES_PATH, rule_file(spec))]


def rule_file(spec: Spec) -> dict[str, Any]:
    """The rule file as data (also wrapped by the Kubernetes target)."""
    groups = []
    if spec.recording_rules:
        groups.append(
            _group(f"{spec.service}.recording", spec, [_recording(r) for r in spec.recording_rules])
        )
    if spec.alerts:
        groups.append(
            _group(f"{spec.service}.alerts", spec, [_alert(spec, a) for a in spec.alerts])
        )
    return {"groups": groups}


def _group(name: str, spec: Spec, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "interval": spec.prometheus.evaluation_interval, "rules": rules}


def _recording(rule: RecordingRule) -> dict[str, Any]:
    data: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
    if rule.labels:
        data["labels"] = dict(rule.labels)
    return data


def _alert(spec: Spec, alert: Alert) -> dict[str, Any]:
    data: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
    if alert.for_ != "0s":
        data["for"] = alert.for_
    if alert.keep_firing_for:
        data["keep_firing_for"] = alert.keep_firing_for
    data["labels"] = {
        "severity": alert.severity.value,
        "service": spec.service,
        **dict(alert.labels),
    }
    annotations = {"summary": alert.summary}
    if alert.description:
        annotations["description"] = alert.description
    if alert.runbook_url:
        annotations["runbook_url"] = alert.runbook_url
    annotations.update(dict(alert.annotations))
    data["annotations"] = annotations
    return data
