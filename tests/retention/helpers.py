"""Compile the specs the retention tests use and read the files they produce."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from monitorgen.model import Spec
from monitorgen.pipeline import Compiled, compile_spec
from monitorgen.targets import render_all

ROOT = Path(__file__).resolve().parents[2]
FLAGSHIP = "specs/llm.yaml"
#: A counter, a histogram, a gauge and a summary, with basic auth and long tiers.
SHOP = "tests/retention/specs/shop.yaml"
SPECS = (FLAGSHIP, SHOP)


@cache
def load_spec(relative: str) -> Spec:
    (compiled, *_environments) = compile_spec(ROOT / relative)
    assert compiled.spec is not None, compiled.diagnostics
    return compiled.spec


def compile_variant(
    relative: str, tmp_path: Path, retention: dict[str, Any] | None, **sections: Any
) -> Compiled:
    """A bundled spec with its `retention:` (and any other section) replaced; None
    removes the section."""
    document = yaml.safe_load((ROOT / relative).read_text())
    document.pop("retention", None)
    if retention is not None:
        document["retention"] = retention
    document.update(sections)
    path = tmp_path / Path(relative).name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    (compiled, *_environments) = compile_spec(path)
    return compiled


def variant_spec(
    relative: str, tmp_path: Path, retention: dict[str, Any] | None, **sections: Any
) -> Spec:
    compiled = compile_variant(relative, tmp_path, retention, **sections)
    assert compiled.spec is not None and compiled.ok, compiled.diagnostics
    return compiled.spec


def files_of(spec: Spec) -> dict[str, bytes]:
    return {artifact.path: artifact.content for artifact in render_all(spec)}


def yaml_file(spec: Spec, path: str) -> Any:
    return yaml.safe_load(files_of(spec)[path])


def write_files(spec: Spec, directory: Path) -> Path:
    """Write every generated file under `directory`; return it."""
    for path, content in files_of(spec).items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return directory


def flags_in(content: bytes) -> list[str]:
    """The flags of an args file: every line that is neither blank nor a comment."""
    lines = content.decode().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def recorded_names(rules: dict[str, Any], group_suffix: str = "") -> set[str]:
    return {
        rule["record"]
        for group in rules["groups"]
        if group["name"].endswith(group_suffix)
        for rule in group["rules"]
        if "record" in rule
    }


def retention_rules(rules: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(group name, rule) for every rule of the retention groups."""
    return [
        (group["name"], rule)
        for group in rules["groups"]
        if re.search(r"\.retention\.(hourly|daily)$", group["name"])
        for rule in group["rules"]
    ]
