"""Grafana target: one dashboard JSON per spec dashboard, plus provisioning files.

The only package that imports grafanalib. Dashboards are built as grafanalib
objects (`build`), turned into JSON data as grafanalib's `DashboardEncoder` would
(`plain`), corrected by one normalisation step (`normalize`) and written with sorted
keys (`json_text`). grafanalib's dashboard classes are imported when a dashboard is
built, not with the package: the dashboard lint reads its plain modules (`datasource`,
`layout`, `thresholds`, and `units`, which reads only grafanalib's table of unit ids).
"""

from __future__ import annotations

from typing import Any

from monitorgen.model import Dashboard, Spec
from monitorgen.targets.base import Artifact, yaml_artifact
from monitorgen.targets.grafana.json_text import dumps_indented
from monitorgen.targets.grafana.normalize import fix_in_place
from monitorgen.targets.grafana.plain import plain_data
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
    from monitorgen.targets.grafana.build import build_dashboard

    board: dict[str, Any] = fix_in_place(plain_data(build_dashboard(spec, dashboard)))
    return board


def dashboard_json(spec: Spec) -> dict[str, str]:
    """uid -> dashboard JSON text, e.g. for wrapping in Kubernetes ConfigMaps. Built once
    per spec: this target and the Kubernetes one both write it."""
    return spec.derived(
        "grafana.dashboard_json",
        lambda: {d.uid: encode(dashboard_data(spec, d)) for d in spec.dashboards},
    )


def encode(board: dict[str, Any]) -> str:
    """`json.dumps(board, sort_keys=True, indent=2, ensure_ascii=False)` and a line break."""
    return dumps_indented(board) + "\n"
