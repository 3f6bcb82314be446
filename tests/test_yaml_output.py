"""Generated YAML is written directly for plain data (`targets/yaml_block.py`), else with
libyaml's emitter; either must give exactly the bytes of PyYAML's pure-Python emitter,
so output never depends on how it was written or how PyYAML was built. The same holds
for the other shortcuts: the representer's direct path for plain types, and nesting an
already written mapping under a key (`nest_yaml`)."""

from __future__ import annotations

import dataclasses
import io
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitorgen.model import Spec
from monitorgen.pipeline import build
from monitorgen.targets.base import (
    _BLOCK_WRITER,
    STR_TAG,
    WIDTH,
    Artifact,
    _resolves_to_str,
    dump_yaml,
    library_dump,
    make_dumper,
    nest_yaml,
)
from monitorgen.targets.prometheus_rules import (
    prometheus_rule_resource,
    prometheus_rule_resource_text,
    rule_file_text,
)
from monitorgen.targets.yaml_block import BlockWriter

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


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_the_block_writer_writes_generated_documents_itself(spec: Path) -> None:
    for artifact in _yaml_documents(spec):
        data = yaml.safe_load(artifact.content)
        written = _BLOCK_WRITER.write(data)
        assert written is not None, f"{artifact.path}: declined"
        assert written == library_dump(data, PURE) == library_dump(data), artifact.path


def test_the_block_writer_writes_awkward_scalars_as_the_library_does() -> None:
    for data in [AWKWARD, {"groups": [AWKWARD, [AWKWARD, [["x"]]]]}, [[], {}, [{}], [[1]]]]:
        written = _BLOCK_WRITER.write(data)
        assert written is not None
        assert written == library_dump(data, PURE)
        assert yaml.safe_load(written) == data
    for value in RESOLVABLE:
        data = {"k": value, value or "empty": [value]}
        assert _BLOCK_WRITER.write(data) == library_dump(data, PURE)
        assert dump_yaml({value: [value]}) == library_dump({value: [value]})


def test_quoted_and_dash_led_strings_are_written_without_the_library() -> None:
    """Test names and descriptions hold ": ", and series values start with "-": the
    writer quotes the first and writes the second plain itself, as the library would."""
    texts = ["SLO a: a fast burn pages", "it's: 'quoted'", " a #b ", "-0.9+0x13", "-x", "-a: b"]
    asked: list[Any] = []

    def library(data: Any) -> str:
        asked.append(data)
        return library_dump(data)

    writer = BlockWriter(library, _resolves_to_str)
    data = {"k": texts, "m": {text.strip(): text for text in texts}}
    assert writer.write(data) == library_dump(data) == library_dump(data, PURE)
    assert asked == []
    assert writer.write({"k": ["- a", "-", "---x", "-.inf"]}) == library_dump(
        {"k": ["- a", "-", "---x", "-.inf"]}
    )
    assert asked == [["- a"], ["-"], ["---x"], ["-.inf"]]


def test_the_block_writer_declines_what_the_library_must_write() -> None:
    long_key = {"k" * 200: 1}
    assert dump_yaml(long_key).startswith("? ")
    for data in ["top-level scalar", 3, long_key, {"k": "a\u2028b"}, {1: "int key"}, {"k": (1,)}]:
        assert _BLOCK_WRITER.write(data) is None, data
    assert dump_yaml({"k": "a\u2028b"}) == library_dump({"k": "a\u2028b"}, PURE)


#: Characters that decide a scalar's style: indicators, quotes, spaces, line breaks.
_SIGNIFICANT = " :#-?'\"{}[],&*!|>%@`\\\n\t\r.~=<+0123456789abeEnNoOxyYtTfF\x85\u2028é\x07"
_strings = st.one_of(
    st.text(alphabet=_SIGNIFICANT, max_size=12),
    st.text(max_size=8),
    st.sampled_from(RESOLVABLE),
)
_scalars_st = st.one_of(
    _strings, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
)
_documents = st.recursive(
    _scalars_st,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_strings, inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_the_block_writer_writes_the_library_bytes_or_declines(data: Any) -> None:
    """Against libyaml's emitter, which wrote every file before the writer existed (the
    pure-Python emitter differs from it on characters beyond the Basic Multilingual
    Plane, which libyaml escapes, and on top-level scalars, which targets never write)."""
    written = _BLOCK_WRITER.write(data)
    if written is not None:
        assert written == library_dump(data)
    assert dump_yaml(data) == library_dump(data)


def test_random_documents_are_written_directly() -> None:
    """The property above would hold trivially if the writer declined everything."""
    for seed in range(200):
        data = _sample_document(seed)
        written = _BLOCK_WRITER.write(data)
        assert written is not None
        assert written == library_dump(data) == library_dump(data, PURE)


def _sample_document(seed: int) -> Any:
    """Nested data of awkward scalars, with keys the emitter writes as simple keys."""
    rng = random.Random(seed)
    words = [*RESOLVABLE, *(v for v in AWKWARD.values() if isinstance(v, str))]
    keys = [word for word in words if word and not {"\n", "\r"} & set(word)]

    def node(depth: int) -> Any:
        roll = rng.random()
        if depth > 3 or roll < 0.4:
            return rng.choice([*words, 7, -3, True, None, 2.5])
        if roll < 0.7:
            return [node(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(keys): node(depth + 1) for _ in range(rng.randrange(4))}

    return {"root": [node(0) for _ in range(3)]}
