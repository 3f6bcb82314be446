"""docs/spec.md cannot rot: every example spec in it is valid, and every section of the
schema has an example."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from monitorgen import pipeline
from monitorgen.spec.schema import schema_text

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "spec.md"
_BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```yaml\n(?P<body>.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Example:
    line: int
    body: str
    file: str | None

    @property
    def is_spec(self) -> bool:
        return self.body.startswith("version: 1\n")


def _examples() -> list[Example]:
    text = DOC.read_text(encoding="utf-8")
    return [
        Example(text[: m.start("body")].count("\n") + 1, m["body"], m["file"])
        for m in _BLOCK.finditer(text)
    ]


EXAMPLES = _examples()
SPECS = [e for e in EXAMPLES if e.is_spec]


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fragments the examples include, written where the examples expect them."""
    folder = tmp_path_factory.mktemp("docs")
    for example in EXAMPLES:
        if example.file:
            (folder / example.file).parent.mkdir(parents=True, exist_ok=True)
            (folder / example.file).write_text(example.body, encoding="utf-8")
    return folder


def test_the_reference_has_many_examples() -> None:
    assert len(SPECS) >= 20


@pytest.mark.parametrize("example", SPECS, ids=[f"line-{e.line}" for e in SPECS])
def test_every_example_spec_is_valid(example: Example, docs_dir: Path) -> None:
    spec = docs_dir / f"example_{example.line}.yaml"
    spec.write_text(example.body, encoding="utf-8")
    for compiled in pipeline.compile_spec(spec):
        errors = [
            f"{d.span} {d.code}: {d.message}" for d in compiled.diagnostics if d.severity >= 30
        ]
        assert compiled.ok, f"docs/spec.md line {example.line}:\n" + "\n".join(errors)


def test_every_section_of_the_schema_has_an_example() -> None:
    used = set()
    for example in SPECS:
        used.update(yaml.safe_load(example.body))
    sections = set(json.loads(schema_text())["properties"])
    assert sections - used == set()


def test_every_section_of_the_schema_has_a_heading() -> None:
    headings = " ".join(re.findall(r"^##+ (.+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE))
    sections = json.loads(schema_text())["properties"]
    assert [s for s in sections if not re.search(rf"\b{s}\b", headings)] == []
