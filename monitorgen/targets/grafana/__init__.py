"""Grafana target: one dashboard JSON per spec dashboard, plus provisioning files.

The only package that imports grafanalib. Dashboards are built as grafanalib
objects (`build`), encoded with grafanalib's `DashboardEncoder`, then corrected
by one normalisation step (`normalize`) and written with sorted keys. grafanalib's
dashboard classes are imported when a dashboard is built, not with the package: the
dashboard lint reads its plain modules (`datasource`, `layout`, `thresholds`, and
`units`, which reads only grafanalib's table of unit ids).
"""

from __future__ import annotations

import json
from typing import Any

from monitorgen.model import Dashboard, Spec
from monitorgen.targets.base import Artifact, yaml_artifact
from monitorgen.targets.grafana.normalize import normalize
from monitorgen.targets.grafana.provisioning import dashboards_provider, datasources

DASHBOARDS_DIR = "grafana/dashboards"
PROVISIONING_DIR = "grafana/provisioning"

__all__ = ["DASHBOARDS_DIR", "dashboard_data", "dashboard_json", "render"]


def render(spec: Spec) -> list[Artifact]:
    if not spec.dashboards:
        return []
    artifacts = [
        Artifact(f"{DASHBOARDS_DIR}/{uid}.json", text.encode())
        for uid, text in dashboard_json(spec).items()
    ]
    artifacts.append(
        yaml_artifact(spec, f"{PROVISIONING_DIR}/dashboards.yaml", dashboards_provider(spec))
    )
    artifacts.append(yaml_artifact(spec, f"{PROVISIONING_DIR}/datasources.yaml", datasources(spec)))
    return artifacts


def dashboard_data(spec: Spec, dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (plain data)."""
    from grafanalib._gen import DashboardEncoder

    from monitorgen.targets.grafana.build import build_dashboard

    raw = json.loads(json.dumps(build_dashboard(spec, dashboard), cls=DashboardEncoder))
    board: dict[str, Any] = normalize(raw)
    return board


def dashboard_json(spec: Spec) -> dict[str, str]:
    """uid -> dashboard JSON text, e.g. for wrapping in Kubernetes ConfigMaps. Built once
    per spec: this target and the Kubernetes one both write it."""
    return spec.derived(
        "grafana.dashboard_json",
        lambda: {d.uid: encode(dashboard_data(spec, d)) for d in spec.dashboards},
    )


def encode(board: dict[str, Any]) -> str:
    return json.dumps(board, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
