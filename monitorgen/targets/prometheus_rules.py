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
from monitorgen.targets.base import Artifact, yaml_artifact

RULES_PATH = "prometheus/rules.yml"
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"


def render(spec: Spec) -> list[Artifact]:
    return [yaml_artifact(spec, RULES_PATH, rule_file(spec))]


def rule_file(spec: Spec) -> dict[str, Any]:
    """The rule file as data."""
    return {"groups": [group.to_dict() for group in rule_groups(spec)]}


def resource_name(spec: Spec) -> str:
    """A DNS-1123 name for Kubernetes: lowercase letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9-]+", "-", spec.name.lower()).strip("-")
    return f"{name or 'monitorgen'}-rules"


def prometheus_rule_resource(spec: Spec) -> dict[str, Any]:
    """The rules as a `PrometheusRule` for the prometheus-operator."""
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
        "spec": rule_file(spec),
    }
