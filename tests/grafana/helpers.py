"""Specs and their generated dashboards, compiled once per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from monitorgen.model import Spec
from monitorgen.pipeline import compile_spec
from monitorgen.targets.grafana import DASHBOARDS_DIR, render

ROOT = Path(__file__).resolve().parents[2]
FLAGSHIP = ROOT / "specs" / "llm.yaml"
SPEC_FILES = (
    FLAGSHIP,
    *sorted((ROOT / "tests" / "specs").glob("*.yaml")),
    *sorted((Path(__file__).parent / "specs").glob("*.yaml")),
)
SPEC_IDS = [p.relative_to(ROOT).as_posix() for p in SPEC_FILES]

Json = dict[str, Any]


@cache
def spec_of(path: Path) -> Spec:
    """The spec's base model; it must compile without errors."""
    compiled = compile_spec(path)[0]
    assert compiled.ok, [str(d) for d in compiled.diagnostics]
    assert compiled.spec is not None
    return compiled.spec


@cache
def files_of(path: Path) -> dict[str, bytes]:
    return {a.path: a.content for a in render(spec_of(path))}


def dashboards_of(path: Path) -> dict[str, Json]:
    """uid -> parsed dashboard JSON, as the Grafana target writes it."""
    prefix = f"{DASHBOARDS_DIR}/"
    return {
        name.removeprefix(prefix).removesuffix(".json"): json.loads(content)
        for name, content in files_of(path).items()
        if name.startswith(prefix)
    }


def panels(board: Json) -> Iterator[Json]:
    """Every panel that is not a row, collapsed rows' panels included."""
    for panel in board["panels"]:
        if panel["type"] == "row":
            yield from panel["panels"]
        else:
            yield panel


def panel_by_title(board: Json, title: str) -> Json:
    found = [p for p in panels(board) if p["title"] == title]
    assert len(found) == 1, f"{len(found)} panels titled {title!r}"
    return found[0]


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every node of a JSON document."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
