"""Generated YAML is written with libyaml's emitter for speed; it must give exactly the
bytes of PyYAML's pure-Python emitter, so output never depends on how PyYAML was built."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitorgen.pipeline import build
from monitorgen.targets.base import dump_yaml, make_dumper

SPECS = [
    Path("specs/llm.yaml"),
    Path("tests/specs/http_api.yaml"),
    Path("tests/specs/queue_worker.yaml"),
]
PURE = make_dumper(yaml.SafeDumper)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_fast_and_pure_emitters_write_the_same_bytes(spec: Path) -> None:
    result = build([spec])
    (tree,) = result.tree.values()
    documents = [a for a in tree if a.path.endswith((".yml", ".yaml"))]
    assert documents
    for artifact in documents:
        data = yaml.safe_load(artifact.content)
        assert dump_yaml(data) == dump_yaml(data, PURE), artifact.path


def test_awkward_strings_round_trip_identically() -> None:
    data = {
        "multi": "line one\nline two\n",
        "quote": 'it\'s "quoted" {{ $value }}',
        "colon": "09:00",
        "unicode": "naïve — ü",
        "empty": "",
        "number_like": "1e6",
        "list": ["a: b", "- c", "#hash"],
    }
    fast, pure = dump_yaml(data), dump_yaml(data, PURE)
    assert fast == pure
    assert yaml.safe_load(fast) == data
