"""Prometheus server config `prometheus/prometheus.yml`: the service's scrape job and
the exporters' (`scrape_jobs`), the rule file, the Alertmanagers, and the remote_write
of the retention aggregates (`retention:`).

Targets, intervals and Alertmanager addresses come from the spec's `prometheus`
section, so an environment (`environments: {prod: {prometheus: {targets: ...}}}`)
overrides them without touching the generated file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitorgen.model import ScrapeJob, Spec
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
        "scrape_configs": [scrape_config(job) for job in settings.jobs()],
    }
    remote_write = remote_write_config(spec)
    if remote_write:
        data["remote_write"] = remote_write
    return data


def scrape_config(job: ScrapeJob) -> dict[str, Any]:
    """A job's `scrape_configs` entry; its own interval brings a timeout that fits it."""
    data: dict[str, Any] = {"job_name": job.job}
    if job.scrape_interval is not None:
        data["scrape_interval"] = job.scrape_interval
        data["scrape_timeout"] = scrape_timeout(job.scrape_interval)
    data["metrics_path"] = job.metrics_path
    data["scheme"] = job.scheme
    if job.credentials_file:
        data["authorization"] = {"type": "Bearer", "credentials_file": job.credentials_file}
    if job.ca_file:
        data["tls_config"] = {"ca_file": job.ca_file}
    if job.target_files:
        data["file_sd_configs"] = [{"files": list(job.target_files)}]
    if job.targets:
        group: dict[str, Any] = {"targets": list(job.targets)}
        if job.labels:
            group["labels"] = dict(job.labels)
        data["static_configs"] = [group]
    return data
