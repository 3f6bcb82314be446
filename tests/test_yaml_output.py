"""Generated YAML is written with libyaml's emitter for speed; it must give exactly the
bytes of PyYAML's pure-Python emitter, so output never depends on how PyYAML was built.
The same holds for the two other shortcuts: the representer's direct path for plain
types, and nesting an already written mapping under a key (`nest_yaml`)."""

from __future__ import annotations

import dataclasses
import io
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen.model import Spec
from monitorgen.pipeline import build
from monitorgen.targets.base import STR_TAG, WIDTH, Artifact, dump_yaml, make_dumper, nest_yaml
from monitorgen.targets.prometheus_rules import (
    prometheus_rule_resource,
    prometheus_rule_resource_text,
    rule_file_text,
)

SPECS = [
    Path("specs/llm.yaml"),
    Path("tests/specs/http_api.yaml"),
    Path("tests/specs/queue_worker.yaml"),
]
PURE = make_dumper(yaml.SafeDumper)


@cache
def _built(spec: Path) -> tuple[Spec, list[Artifact]]:
    result = build([spec])
    (compiled,) = result.compiled
    assert compiled.spec is not None
    (tree,) = result.tree.values()
    return compiled.spec, tree


def _yaml_documents(spec: Path) -> list[Artifact]:
    documents = [a for a in _built(spec)[1] if a.path.endswith((".yml", ".yaml"))]
    assert documents
    return documents


def _library_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(STR_TAG, data, style="|" if "\n" in data else None)


class LibraryDumper(yaml.SafeDumper):
    """Every object through PyYAML's own representer, as before the direct path."""

    def ignore_aliases(self, data: object) -> bool:
        return True


LibraryDumper.add_representer(str, _library_str)
#: Strings whose style or line breaks depend on their content.
AWKWARD = {
    "multi": "line one\nline two\n",
    "blank_lines": "first\n\n\nafter two blank lines",
    "indented": "  leading spaces\n    deeper\nback",
    "starts_with_break": "\nafter a break",
    "trailing_space": "single quoted\n\nbecause of the space ",
    "space_before_break": "double quoted \nbecause of the space",
    "carriage_return": "a\rb",
    "quote": 'it\'s "quoted" {{ $value }}',
    "colon": "09:00",
    "unicode": "naïve — ü",
    "empty": "",
    "number_like": "1e6",
    "bool_like": "yes",
    "list": ["a: b", "- c", "#hash", "", "multi\n\nline"],
    "nested": {"deeper": {"items": [{"k": "v\n"}, []], "none": {}}},
    "scalars": [1, 2.5, float("inf"), True, None, -0.0],
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_fast_and_pure_emitters_write_the_same_bytes(spec: Path) -> None:
    for artifact in _yaml_documents(spec):
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


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_the_direct_representer_path_writes_what_the_library_writes(spec: Path) -> None:
    for artifact in _yaml_documents(spec):
        data = yaml.safe_load(artifact.content)
        assert dump_yaml(data) == dump_yaml(data, LibraryDumper), artifact.path
    assert dump_yaml(AWKWARD) == dump_yaml(AWKWARD, LibraryDumper)


@pytest.mark.parametrize("dumper", [None, PURE], ids=["libyaml", "pure"])
def test_nesting_written_yaml_gives_the_bytes_of_a_nested_dump(
    dumper: type[yaml.SafeDumper] | None,
) -> None:
    def dump(data: object) -> str:
        return dump_yaml(data) if dumper is None else dump_yaml(data, dumper)

    for data in [AWKWARD, {"groups": [AWKWARD, {"rules": [AWKWARD]}]}, {"a": "b"}]:
        nested = nest_yaml("spec", dump(data))
        assert nested == dump({"spec": data})
        assert yaml.safe_load(nested or "") == {"spec": data}


def test_nesting_declines_what_it_cannot_shift() -> None:
    assert nest_yaml("spec", dump_yaml({})) is None
    for text in ["a\u2028b", "a\u2029\nb"]:
        # written raw, with an indented line after them that a shift by lines would miss
        assert text[1] in dump_yaml({"k": text})
        assert nest_yaml("spec", dump_yaml({"k": text})) is None
    for text in ["a\x85b", "x\n\x85y\n"]:
        assert nest_yaml("spec", dump_yaml({"k": text})) == dump_yaml({"spec": {"k": text}})
    near_width = ("x " * WIDTH)[: WIDTH - 1]  # its last space lands on the last column
    assert dump_yaml({"k": near_width}).count("\n") == 1
    assert dump_yaml({"spec": {"k": near_width}}).count("\n") > 2, "two columns more fold it"
    assert nest_yaml("spec", dump_yaml({"k": near_width})) is None
    shorter = near_width[:-4]
    assert nest_yaml("spec", dump_yaml({"k": shorter})) == dump_yaml({"spec": {"k": shorter}})


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_the_prometheus_rule_resource_is_written_as_a_full_dump_would(spec: Path) -> None:
    model, tree = _built(spec)
    text = prometheus_rule_resource_text(model)
    assert text == dump_yaml(prometheus_rule_resource(model))
    (written,) = [a.content for a in tree if a.path == "kubernetes/prometheus-rule.yaml"]
    assert written.decode().endswith(text)


def test_a_rule_file_nesting_declines_is_written_in_full() -> None:
    model, _ = _built(SPECS[1])
    first, *rest = model.alerts
    odd = dataclasses.replace(model, alerts=(dataclasses.replace(first, summary="a\u2028b"), *rest))
    assert nest_yaml("spec", rule_file_text(odd)) is None
    text = prometheus_rule_resource_text(odd)
    assert text == dump_yaml(prometheus_rule_resource(odd))
    groups = yaml.safe_load(text)["spec"]["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == first.name]
    assert rule["annotations"]["summary"] == "a\u2028b"


#: Scalars each implicit resolver claims, and near misses.
RESOLVABLE = [
    *["", "~", "null", "Null", "nul", "yes", "No", "on", "OFF", "true", "False", "y", "n"],
    *["0", "-1", "+12", "0x1F", "0o17", "0b101", "1_000", "1:30", "190:20:30", "12e03"],
    *["1e6", "-.5", ".inf", "-.Inf", ".NaN", "3.14", "6.8523015e+5", "1.", "."],
    *["2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43", "1999-1-1"],
    *["<<", "<", "=", "==", "!", "&a", "*a", "- a", "-", "? x", ": y", "#x", "@x", "`x"],
    *["sum(rate(x[5m]))", "{{ $value }}", "09:00", "5m", "0.5", "naïve", "1e6 x"],
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_scalar_tags_are_those_the_library_resolves(spec: Path) -> None:
    ours: Any = make_dumper(yaml.SafeDumper)(io.StringIO())
    library: Any = yaml.SafeDumper(io.StringIO())
    scalars = list(RESOLVABLE)
    for artifact in _yaml_documents(spec):
        scalars.extend(_scalars(yaml.safe_load(artifact.content)))
    for value in scalars:
        for implicit in [(True, False), (False, True), (True, True), (False, False)]:
            expected = library.resolve(yaml.ScalarNode, value, implicit)
            assert ours.resolve(yaml.ScalarNode, value, implicit) == expected, value
    assert ours.resolve(yaml.ScalarNode, "true", (True, False)) == "tag:yaml.org,2002:bool"
    for kind in (yaml.MappingNode, yaml.SequenceNode):
        assert ours.resolve(kind, [], True) == library.resolve(kind, [], True)


def _scalars(data: object) -> list[str]:
    if isinstance(data, dict):
        return [text for key, value in data.items() for text in (str(key), *_scalars(value))]
    if isinstance(data, list):
        return [text for item in data for text in _scalars(item)]
    return [str(data)]
