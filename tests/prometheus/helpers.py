"""Compile the specs this target is tested on and write its files where tools can read them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from monitorgen.model import Spec
from monitorgen.pipeline import compile_spec
from monitorgen.targets import prometheus_config, prometheus_rules, promtool_tests

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATHS = ("specs/llm.yaml", "tests/specs/http_api.yaml", "tests/specs/queue_worker.yaml")
#: Every kind of alert condition the generated unit tests drive, in one small spec.
SHAPES = "tests/prometheus/specs/shapes.yaml"


@cache
def load_spec(relative: str) -> Spec:
    (compiled, *_environments) = compile_spec(ROOT / relative)
    assert compiled.spec is not None, compiled.diagnostics
    return compiled.spec


def spec_from_text(directory: Path, text: str, name: str = "spec") -> Spec:
    """The model of a spec written out as `text`; it must compile without errors."""
    source = directory / f"{name}.yaml"
    source.write_text(text, encoding="utf-8")
    (compiled, *_environments) = compile_spec(source)
    assert compiled.spec is not None, compiled.diagnostics
    return compiled.spec


def prometheus_files(spec: Spec) -> dict[str, bytes]:
    """The files of the three Prometheus targets, by their path in the output folder."""
    artifacts = [
        *prometheus_rules.render(spec),
        *promtool_tests.render(spec),
        *prometheus_config.render(spec),
    ]
    return {artifact.path: artifact.content for artifact in artifacts}


def write_prometheus_files(spec: Spec, directory: Path) -> Path:
    """Write the files under `directory` and return the `prometheus/` folder."""
    for path, content in prometheus_files(spec).items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return directory / "prometheus"


@cache
def rules_of(spec: Spec) -> dict[str, Any]:
    """The rule file as Prometheus reads it."""
    (artifact,) = prometheus_rules.render(spec)
    data: dict[str, Any] = yaml.safe_load(artifact.content)
    return data


def rules_by_name(spec: Spec) -> dict[str, list[dict[str, Any]]]:
    """Every rule by its alert or record name (an SLO alert has one per tier)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for group in rules_of(spec)["groups"]:
        for rule in group["rules"]:
            found.setdefault(rule.get("alert") or rule["record"], []).append(rule)
    return found
