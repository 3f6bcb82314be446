"""Prometheus server config `prometheus/prometheus.yml`: the scrape job, the rule file,
the Alertmanagers, and the remote_write of the retention aggregates (`retention:`).

Targets, intervals and Alertmanager addresses come from the spec's `prometheus`
section, so an environment (`environments: {prod: {prometheus: {targets: ...}}}`)
overrides them without touching the generated file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitorgen.model import Spec
from monitorgen.promql import format_duration, seconds
from monitorgen.retention import remote_write_config
from monitorgen.targets.base import Artifact, yaml_artifact
from monitorgen.targets.prometheus_rules import RULES_PATH

CONFIG_PATH = "prometheus/prometheus.yml"
DEFAULT_SCRAPE_TIMEOUT_SECONDS = 10.0


def render(spec: Spec) -> list[Artifact]:
    return [yaml_artifact(spec, CONFIG_PATH, config(spec))]


def scrape_timeout(interval: str) -> str:
    """Prometheus' 10s default, shortened so it never exceeds the scrape interval."""
    timeout = min(DEFAULT_SCRAPE_TIMEOUT_SECONDS, seconds(interval))
    return format_duration(timedelta(seconds=timeout))


def config(spec: Spec) -> dict[str, Any]:
    settings = spec.prometheus
    global_: dict[str, Any] = {
        "scrape_interval": settings.scrape_interval,
        "scrape_timeout": scrape_timeout(settings.scrape_interval),
        "evaluation_interval": settings.evaluation_interval,
    }
    if settings.external_labels:
        global_["external_labels"] = dict(settings.external_labels)
    data: dict[str, Any] = {
        "global": global_,
        "rule_files": [RULES_PATH.rsplit("/", 1)[-1]],
        "alerting": {
            "alertmanagers": [
                {
                    "api_version": "v2",
                    "scheme": "http",
                    "static_configs": [{"targets": list(settings.alertmanagers)}],
                }
            ]
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
    remote_write = remote_write_config(spec)
    if remote_write:
        data["remote_write"] = remote_write
    return data
