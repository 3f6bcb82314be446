"""Prometheus server config: `prometheus/prometheus.yml` (scrape job, rules, Alertmanager)."""

from __future__ import annotations

from typing import Any

from monitorgen.model import Spec
from monitorgen.targets.base import Artifact, yaml_artifact

CONFIG_PATH = "prometheus/prometheus.yml"


def render(spec: Spec) -> list[Artifact]:
    return [yaml_artifact(spec, CONFIG_PATH, config(spec))]


def config(spec: Spec) -> dict[str, Any]:
    settings = spec.prometheus
    global_: dict[str, Any] = {
        "scrape_interval": settings.scrape_interval,
        "evaluation_interval": settings.evaluation_interval,
    }
    if settings.external_labels:
        global_["external_labels"] = dict(settings.external_labels)
    return {
        "global": global_,
        "rule_files": ["rules.yml"],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": list(settings.alertmanagers)}]}]
        },
        "scrape_configs": [
            {
                "job_name": settings.job,
                "metrics_path": settings.metrics_path,
                "scheme": settings.scheme,
                "static_configs": [{"targets": list(settings.targets)}],
            }
        ],
    }
