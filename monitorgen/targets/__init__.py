"""Targets: one module per output kind, each a pure function from the model to files.

Where is the Alertmanager output made? `alertmanager.py`. The order here is the
order of files in a build; every target is independent of the others.
"""

from __future__ import annotations

from importlib import import_module

from monitorgen.model import Spec
from monitorgen.targets.base import Artifact

#: module name -> its render function; modules are imported only when a build runs.
TARGETS = (
    "prometheus_rules",
    "promtool_tests",
    "prometheus_config",
    "retention",
    "alertmanager",
    "grafana",
    "python_client",
    "kubernetes",
    "schedule",
)


def render_all(spec: Spec) -> list[Artifact]:
    artifacts: list[Artifact] = []
    for name in TARGETS:
        module = import_module(f"monitorgen.targets.{name}")
        artifacts.extend(module.render(spec))
    return sorted(artifacts, key=lambda a: a.path)
