"""Small specs written on the fly, compiled through the real pipeline."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from monitorgen.diagnostics import Diagnostic
from monitorgen.model import Spec
from monitorgen.pipeline import Compiled, ExtraChecks, compile_spec

REPO = Path(__file__).resolve().parents[2]
#: The flagship and the two test specs that exercise every receiver kind.
SPEC_FILES = (
    REPO / "specs" / "llm.yaml",
    REPO / "tests" / "specs" / "http_api.yaml",
    REPO / "tests" / "specs" / "queue_worker.yaml",
)

SHOP_WITHOUT_ROUTING = """\
version: 1
service: shop
alerts:
  - name: ShopDown
    severity: critical
    summary: Shop is down
    expr: up{job="shop"} == 0
  - name: ShopSlow
    severity: warning
    summary: Shop is slow
    expr: up{job="shop"} > 5
receivers:
  - name: oncall
    webhook: [{url: "https://hooks.example.com/oncall"}]
  - name: chat
    webhook: [{url: "https://chat.example.com/hook"}]
"""
"""Two alerts and two receivers; line numbers of findings in tests count from it."""

BASE_SPEC = (
    SHOP_WITHOUT_ROUTING
    + """\
routing:
  receiver: chat
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
    - matchers: ['severity="warning"']
      receiver: chat
"""
)


def base_document() -> dict[str, Any]:
    document = yaml.safe_load(BASE_SPEC)
    assert isinstance(document, dict)
    return document


def write_spec(directory: Path, document: dict[str, Any] | str, name: str = "shop") -> Path:
    path = directory / f"{name}.yaml"
    text = textwrap.dedent(document) if isinstance(document, str) else yaml.safe_dump(document)
    path.write_text(text)
    return path


def compile_one(
    directory: Path, document: dict[str, Any] | str, extra: ExtraChecks | None = None
) -> Compiled:
    [compiled] = compile_spec(write_spec(directory, document), extra or ExtraChecks())
    return compiled


def model_of(directory: Path, document: dict[str, Any] | str) -> Spec:
    compiled = compile_one(directory, document)
    assert compiled.spec is not None, [d.message for d in compiled.diagnostics]
    return compiled.spec


def codes(diagnostics: list[Diagnostic], prefix: str = "") -> list[str]:
    return [d.code for d in diagnostics if d.code.startswith(prefix)]


def spec_models() -> list[Spec]:
    models = []
    for path in SPEC_FILES:
        for compiled in compile_spec(path):
            assert compiled.spec is not None, [d.message for d in compiled.diagnostics]
            models.append(compiled.spec)
    return models
