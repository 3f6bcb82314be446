"""Prometheus rule file `prometheus/rules.yml`, and the same rules as a
prometheus-operator `PrometheusRule` resource.

Groups carry only `name`, `interval` and `rules`, and rules only the standard
fields, so the file loads unchanged in Grafana Mimir and Thanos rulers too.
"""

from __future__ import annotations

import re
from typing import Any

from monitorgen.model import Spec
from monitorgen.rule_set import rule_groups
from monitorgen.targets.base import Artifact, commented_header, dump_yaml, nest_yaml

RULES_PATH = "prometheus/rules.yml"
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"


def render(spec: Spec) -> list[Artifact]:
    return [Artifact(RULES_PATH, (commented_header(spec) + rule_file_text(spec)).encode())]


def rule_file(spec: Spec) -> dict[str, Any]:
    """The rule file as data."""
    return {"groups": [group.to_dict() for group in rule_groups(spec)]}


def rule_file_text(spec: Spec) -> str:
    """The rule file as YAML (without the header), written once per spec: the
    `PrometheusRule` resource nests the same text."""
    return spec.derived("prometheus_rules.text", lambda: dump_yaml(rule_file(spec)))


def resource_name(spec: Spec) -> str:
    """A DNS-1123 name for Kubernetes: lowercase letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9-]+", "-", spec.name.lower()).strip("-")
    return f"{name or 'monitorgen'}-rules"


def prometheus_rule_resource(spec: Spec) -> dict[str, Any]:
    """The rules as a `PrometheusRule` for the prometheus-operator."""
    return {**_resource_head(spec), "spec": rule_file(spec)}


def prometheus_rule_resource_text(spec: Spec) -> str:
    """`prometheus_rule_resource` as YAML, its `spec` nested from the rule file's text
    rather than written a second time."""
    nested = nest_yaml("spec", rule_file_text(spec))
    if nested is None:
        return dump_yaml(prometheus_rule_resource(spec))
    return dump_yaml(_resource_head(spec)) + nested


def _resource_head(spec: Spec) -> dict[str, Any]:
    return {
        "apiVersion": OPERATOR_API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {
            "name": resource_name(spec),
            "labels": {
                "app.kubernetes.io/name": spec.service,
                "app.kubernetes.io/managed-by": "monitorgen",
            },
        },
    }
