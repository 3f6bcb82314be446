"""Grafana provisioning files: where the dashboards are loaded from, and the data sources
they query (the Prometheus one with the uid every panel's default points at)."""

from __future__ import annotations

from typing import Any

from monitorgen.model import Spec

#: Where the dashboards folder is mounted in the Grafana container or host.
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
PROMETHEUS_UID = "prometheus"
ALERTMANAGER_UID = "alertmanager"


def dashboards_provider(spec: Spec) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "name": f"monitorgen-{spec.name}",
        "orgId": 1,
        "type": "file",
        "folder": spec.grafana.folder,
        # Removed from the spec, removed from Grafana.
        "disableDeletion": False,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 30,
        "options": {"path": f"{DASHBOARDS_MOUNT}/{spec.name}", "foldersFromFilesStructure": False},
    }
    return {"apiVersion": 1, "providers": [provider]}


def datasources(spec: Spec) -> dict[str, Any]:
    prometheus = {
        "name": "Prometheus",
        "type": "prometheus",
        "uid": PROMETHEUS_UID,
        "access": "proxy",
        "url": spec.prometheus.url,
        "isDefault": True,
        "editable": False,
        # $__rate_interval is four scrape intervals: Grafana must know the real one.
        "jsonData": {
            "timeInterval": spec.prometheus.scrape_interval,
            "httpMethod": "POST",
        },
    }
    sources = [prometheus]
    if spec.prometheus.alertmanagers:
        sources.append(_alertmanager(spec.prometheus.alertmanagers[0]))
    return {"apiVersion": 1, "datasources": sources}


def _alertmanager(address: str) -> dict[str, Any]:
    url = address if "://" in address else f"http://{address}"
    return {
        "name": "Alertmanager",
        "type": "alertmanager",
        "uid": ALERTMANAGER_UID,
        "access": "proxy",
        "url": url,
        "editable": False,
        "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
    }
