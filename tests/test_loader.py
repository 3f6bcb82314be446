"""The YAML loader: positions, strict scalars, refusals, includes and environment overlays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitorgen.diagnostics import Diagnostic, SpecError
from monitorgen.spec.loader import (
    MAX_NESTING_DEPTH,
    SpecList,
    SpecMap,
    _StrictLoader,
    key_span_of,
    load_spec_file,
    overlay,
    parse_yaml,
    span_of,
)


def _problems(text: str) -> list[Diagnostic]:
    with pytest.raises(SpecError) as caught:
        parse_yaml(text, "spec.yaml")
    return caught.value.diagnostics


def _where(item: Diagnostic) -> tuple[int, int, str]:
    return item.span.line, item.span.column, item.code


# -- positions -------------------------------------------------------------------------------

NESTED = """\
version: 1
alerts:
  - name: A
    for: 5m
  - {name: B, for: 1h}
"""


def test_every_value_and_key_knows_its_line_and_column() -> None:
    document = parse_yaml(NESTED, "spec.yaml")
    assert isinstance(document, SpecMap)
    assert isinstance(document["alerts"], SpecList)
    at = {
        path: (span_of(document, path).line, span_of(document, path).column)
        for path in [("version",), ("alerts",), ("alerts", 0), ("alerts", 0, "for"), ("alerts", 1)]
    }
    assert at == {
        ("version",): (1, 10),
        ("alerts",): (3, 3),
        ("alerts", 0): (3, 5),
        ("alerts", 0, "for"): (4, 10),
        ("alerts", 1): (5, 5),
    }
    flow_for = key_span_of(document, ("alerts", 1, "for"))
    assert (flow_for.file, flow_for.line, flow_for.column) == ("spec.yaml", 5, 15)


def test_positions_far_along_a_long_line_and_far_down_a_long_file() -> None:
    lines = "".join(f"k{n}: 1\n" for n in range(5_000))
    document = parse_yaml(lines + "b: [" + "x, " * 25_000 + "y]\n", "s.yaml")
    last = span_of(document, ("b", 25_000))
    assert (last.line, last.column) == (5_001, 4 + 3 * 25_000 + 1)
    key = key_span_of(document, ("k4999",))
    assert (key.line, key.column) == (5_000, 1)


def test_a_missing_path_falls_back_to_its_deepest_existing_parent() -> None:
    document = parse_yaml(NESTED, "spec.yaml")
    assert span_of(document, ("alerts", 0, "summary")) == span_of(document, ("alerts", 0))
    assert span_of(document, ("alerts", 7)) == span_of(document, ("alerts",))


def test_scalars_follow_yaml_1_2_not_yaml_1_1() -> None:
    document = parse_yaml(
        "a: on\nb: yes\nc: 2024-01-02\nd: true\ne: 1.5\nf: '5'\ng: null\n"
        "h: 1e6\ni: 2.5e-3\nj: 18:00\nk: 1_000\nl: -7\nm: 0x1F\nn: .infinity\n",
        "s.yaml",
    )
    assert dict(document) == {
        "a": "on",
        "b": "yes",
        "c": "2024-01-02",
        "d": True,
        "e": 1.5,
        "f": "5",
        "g": None,
        "h": 1e6,
        "i": 0.0025,
        "j": "18:00",  # YAML 1.1 reads 1080 (base 60)
        "k": "1_000",
        "l": -7,
        "m": 31,
        "n": ".infinity",
    }
    assert isinstance(document["l"], int)


def test_numbers_that_are_not_finite_are_refused_at_each_place() -> None:
    found = _problems("a: .nan\nb: [1, -.inf, 1e400]\nc: !!float .inf\nd: .nan\n")
    assert [(_where(p), p.path) for p in found] == [
        ((1, 4, "yaml/not-finite"), ("a",)),
        ((2, 8, "yaml/not-finite"), ("b", 1)),
        ((2, 15, "yaml/not-finite"), ("b", 2)),
        ((3, 4, "yaml/not-finite"), ("c",)),
        ((4, 4, "yaml/not-finite"), ("d",)),
    ]
    assert found[0].message.startswith("'.nan' is not a finite number")


def test_integers_too_large_for_a_float_are_refused_and_quoted_by_their_start() -> None:
    """Checks and targets compare numbers with floats: 10**400 made them raise."""
    huge = "1" + "0" * 400
    found = _problems(f"a: {huge}\nb: [1, -{huge}]\nc: {10**308}\n")
    assert [(_where(p), p.path) for p in found] == [
        ((1, 4, "yaml/not-finite"), ("a",)),
        ((2, 8, "yaml/not-finite"), ("b", 1)),
    ]
    assert found[0].message.startswith("'10000000000000000000... (401 characters)' is not")


# -- refusals --------------------------------------------------------------------------------


def test_every_duplicate_key_is_reported_with_the_first_one() -> None:
    problems = _problems("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert sorted(_where(p) for p in problems) == [
        (4, 3, "yaml/duplicate-key"),
        (5, 1, "yaml/duplicate-key"),
    ]
    duplicate_a = next(p for p in problems if p.path == ("a",))
    assert "first defined at line 1" in duplicate_a.message
    assert [(s.line, s.column) for s in duplicate_a.related] == [(1, 1)]


def test_aliases_are_refused_once_per_anchor_but_plain_anchors_are_harmless() -> None:
    assert parse_yaml("a: &x 1\nb: 2\n", "s.yaml") == {"a": 1, "b": 2}
    problems = _problems("a: &x [1]\nb: [*x, *x]\nc: *x\nd: &y 2\ne: *y\n")
    assert [_where(p) for p in problems] == [(2, 5, "yaml/alias"), (5, 4, "yaml/alias")]


def test_an_alias_is_reported_with_the_other_problems_of_the_file() -> None:
    """Refusing an alias does not stop the reading: its other problems come at once."""
    problems = _problems("a: &x 1\nb: *x\nc: .nan\n")
    assert sorted(_where(p) for p in problems) == [(2, 4, "yaml/alias"), (3, 4, "yaml/not-finite")]


def test_billion_laughs_is_refused_without_expanding() -> None:
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, 30):
        levels.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    problems = _problems("\n".join(levels) + "\n")  # 9**30 strings if it were expanded
    assert len(problems) == 29
    assert {p.code for p in problems} == {"yaml/alias"}


def test_nesting_is_bounded() -> None:
    fits = "x: " + "[" * (MAX_NESTING_DEPTH - 1) + "]" * (MAX_NESTING_DEPTH - 1) + "\n"
    assert isinstance(parse_yaml(fits, "s.yaml"), SpecMap)
    too_deep = "x: " + "[" * 400 + "]" * 400 + "\n"
    [problem] = _problems(too_deep)
    assert _where(problem) == (1, 3 + MAX_NESTING_DEPTH, "yaml/depth")
    # Far deeper, libyaml's own bound may speak first; either way it is a finding.
    [problem] = _problems("x: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert problem.code in ("yaml/depth", "yaml/syntax")


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("", "yaml/empty", (1, 1)),
        ("# only a comment\n", "yaml/empty", (1, 1)),
        ("- a\n- b\n", "yaml/top-level", (1, 1)),
        ("42\n", "yaml/top-level", (1, 1)),
        ("a: [1, 2\n", "yaml/syntax", (2, 1)),
        ("a: 1\n b: 2\n", "yaml/syntax", (2, 3)),
        ("a: !!python/object:os.system x\n", "yaml/syntax", (1, 4)),
        ("? [a, b]\n: 1\n", "yaml/key", (1, 3)),
        ("version: 1\x00\nservice: x\n", "yaml/syntax", (1, 11)),
        ('a: 1\nb: "x\x07y"\n', "yaml/syntax", (2, 6)),
    ],
    ids=[
        *("empty", "comment", "list", "scalar", "unclosed", "indent", "python-tag", "list-key"),
        *("nul", "bell"),
    ],
)
def test_what_is_not_a_spec_document(text: str, code: str, where: tuple[int, int]) -> None:
    [problem] = _problems(text)
    assert (problem.code, (problem.span.line, problem.span.column)) == (code, where)


def test_keys_yaml_reads_as_other_types_are_named_as_written() -> None:
    data = parse_yaml("true: 1\nnull: 2\n1.5: 3\n", "spec.yaml")
    assert list(data) == ["true", "null", "1.5"]


def test_a_control_character_is_named_by_its_code_point() -> None:
    [problem] = _problems("a: 1\x07\n")
    assert problem.message == (
        "invalid YAML: the character U+0007 is not allowed (of the control characters, "
        "YAML takes only tab and line breaks)"
    )


def test_a_single_value_for_a_spec_is_quoted_not_named_by_its_python_type() -> None:
    [problem] = _problems("hello\n")
    assert problem.message.endswith("not the single value 'hello'")


SECOND_DOCUMENT = "invalid YAML: a spec file holds one YAML document, and a second one starts here"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a: &x 1\nb: &x 2\n", [(2, 4, "yaml/syntax", "invalid YAML: second occurrence")]),
        ("a: 1\n---\nb: 2\n", [(2, 1, "yaml/syntax", SECOND_DOCUMENT)]),
        # Anchors count per document, and only the first document is read for them.
        (
            "a: &x 1\n---\nb: &x 2\n",
            [(2, 1, "yaml/syntax", SECOND_DOCUMENT)],
        ),
        (
            "a: &x 1\nb: &x 2\n---\nc: 3\n",
            [(2, 4, "yaml/syntax", "invalid YAML: second occurrence")],
        ),
        # The whole stream is read for broken syntax and aliases before anything else.
        (
            "a: &x 1\nb: &x 2\n---\nc: [\n",
            [(5, 1, "yaml/syntax", "invalid YAML: did not find expected node content")],
        ),
        ("a: &x 1\nb: &x 2\n---\nc: *x\n", [(4, 4, "yaml/alias", None)]),
        (
            "a: !!python/name:os x\na: [\n",
            [(3, 1, "yaml/syntax", "invalid YAML: did not find expected node content")],
        ),
        ("a: *x\nb: 1\nb: 2\n", [(1, 4, "yaml/alias", None), (3, 1, "yaml/duplicate-key", None)]),
        (
            "x: *a\n" + "y: " + "[" * 70 + "]" * 70 + "\n",
            [(1, 4, "yaml/alias", None), (2, 67, "yaml/depth", None)],
        ),
        (
            "a: &x 1\nb: &x 2\nc: 1\nc: 2\n",
            [(2, 4, "yaml/syntax", "invalid YAML: second occurrence")],
        ),
        ("", [(1, 1, "yaml/empty", None)]),
        ("--- !!str\n...\n", [(1, 5, "yaml/top-level", None)]),
    ],
    ids=[
        "repeated-anchor",
        "two-documents",
        "anchor-again-in-second-document",
        "repeated-anchor-before-second-document",
        "syntax-in-second-document",
        "alias-in-second-document",
        "syntax-before-unknown-tag",
        "alias-with-duplicate-key",
        "aliases-and-depth",
        "repeated-anchor-before-duplicate-key",
        "no-document",
        "tagged-empty-document",
    ],
)
def test_which_refusal_speaks_first(
    text: str, found: list[tuple[int, int, str, str | None]]
) -> None:
    problems = _problems(text)
    assert [_where(p) for p in problems] == [(line, col, code) for line, col, code, _ in found]
    for problem, (_, _, _, message) in zip(problems, found, strict=True):
        assert message is None or problem.message == message


def test_a_value_that_is_not_kept_is_still_refused_for_aliases_but_not_reported_otherwise() -> None:
    # Neither the value of a repeated key nor a list written as a key is kept, so what
    # is wrong inside them is not a finding of its own; an alias anywhere still is.
    problems = _problems("a: 1\na: {b: 1, b: 2, c: !!int x}\n? [a]\n: {d: 1, d: 2}\n")
    assert [_where(p) for p in problems] == [(2, 1, "yaml/duplicate-key"), (3, 3, "yaml/key")]
    assert [_where(p) for p in _problems("a: 1\na: [*x]\n")] == [
        (2, 5, "yaml/alias"),
        (2, 1, "yaml/duplicate-key"),
    ]


def test_tags_and_repeated_texts_keep_their_own_values() -> None:
    document = parse_yaml(
        "a: 5\nb: '5'\nc: !!str 5\ne: 5\nf: !!float 5\ng: null\nh: ''\ni: !!null ''\n"
        "5: 5\nnull: ~\n",
        "s.yaml",
    )
    assert dict(document) == {
        "a": 5,
        "b": "5",
        "c": "5",
        "e": 5,
        "f": 5.0,
        "g": None,
        "h": "",
        "i": None,
        "5": 5,
        "null": None,  # the key as written
    }
    assert isinstance(document["f"], float)
    assert [type(document[k]) for k in "ae"] == [int, int]


def test_an_unknown_tag_is_reported_at_its_scalar_with_its_path() -> None:
    [problem] = _problems("a:\n  - x\n  - !nope y\nb: !!binary 'x!'\n<<: z\n")[:1]
    assert (_where(problem), problem.path) == ((3, 5, "yaml/syntax"), ("a", 1))
    found = _problems("a:\n  - x\n  - !nope y\nb: !!binary 'x!'\n<<: z\n")
    assert [(_where(p), p.path) for p in found] == [
        ((3, 5, "yaml/syntax"), ("a", 1)),
        ((4, 4, "yaml/syntax"), ("b",)),
        ((5, 1, "yaml/syntax"), ()),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int abc\n", "'abc' cannot be read as !!int"),
        ("a: !!float x\n", "'x' cannot be read as !!float"),
        ("a: !!timestamp foo\n", "'foo' cannot be read as !!timestamp"),
        ("a: !!bool x\n", "'x' cannot be read as !!bool"),
    ],
)
def test_a_scalar_its_explicit_tag_cannot_read_is_reported_not_raised(
    text: str, message: str
) -> None:
    [problem] = _problems("b:\n  - 1\n" + text)
    assert (_where(problem), problem.path) == ((3, 4, "yaml/syntax"), ("a",))
    assert problem.message == message


# -- positions agree with libyaml's composer ---------------------------------------------------

_WORDS = st.sampled_from(
    ["a", "on", "yes", "no", "1e6", "18:00", "0x1F", "null", "~", "true", "", "a b", "-", "x: y"]
)
_SCALARS = (
    _WORDS
    | st.text(max_size=12)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
_DOCUMENTS = st.dictionaries(
    _WORDS | st.text(min_size=1, max_size=8),
    st.recursive(
        _SCALARS,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(_WORDS | st.text(min_size=1, max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    ),
    min_size=1,
    max_size=5,
)


def _composed_marks(node: yaml.Node, path: tuple[str | int, ...] = ()) -> Iterator[Any]:
    """(path, is_key, line, column) of every node libyaml's composer makes."""
    yield path, False, node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _StrictLoader("").construct_object(key_node)
            child = (*path, key if isinstance(key, str) else str(key))
            yield child, True, key_node.start_mark.line + 1, key_node.start_mark.column + 1
            yield from _composed_marks(value_node, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _composed_marks(item, (*path, index))


def _with_string_keys(value: Any) -> Any:
    """As the loader gives keys: `1e6:` is the number 1000000.0, named "1000000.0"."""
    if isinstance(value, dict):
        return {
            str(k) if not isinstance(k, str) else k: _with_string_keys(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_with_string_keys(item) for item in value]
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_DOCUMENTS, flow=st.sampled_from([None, True, False]), width=st.sampled_from([20, 80]))
def test_values_and_positions_are_those_of_libyaml_composing_the_same_text(
    data: dict[str, Any], flow: bool | None, width: int
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, width=width, allow_unicode=True)
    expected = _with_string_keys(yaml.load(text, Loader=_StrictLoader))
    document = parse_yaml(text, "s.yaml")
    assert document == expected
    tree = yaml.compose(text, Loader=_StrictLoader)
    assert tree is not None
    for path, is_key, line, column in _composed_marks(tree):
        span = key_span_of(document, path) if is_key else span_of(document, path)
        assert (span.file, span.line, span.column) == ("s.yaml", line, column), (path, is_key)


def test_a_file_that_is_not_utf8_is_placed_at_the_bad_byte(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes("version: 1\ntitle: Ünïcode ok\nname: Caf".encode() + b"\xe9\n")
    with pytest.raises(SpecError) as caught:
        load_spec_file(spec)
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.span.line, problem.span.column) == ("io/encoding", 3, 10)


# -- includes --------------------------------------------------------------------------------


def _files(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / next(iter(files))


def test_includes_merge_mappings_concatenate_lists_and_the_including_file_wins(
    tmp_path: Path,
) -> None:
    spec = _files(
        tmp_path,
        {
            "main.yaml": "include: [a.yaml, b.yaml]\ntitle: Main\n"
            "metrics: [{name: m3}]\nprometheus: {job: main}\n",
            "a.yaml": "title: A\nmetrics: [{name: m1}]\nprometheus: {job: a, scheme: https}\n",
            "b.yaml": "metrics: [{name: m2}]\n",
        },
    )
    document = load_spec_file(spec)
    assert document["title"] == "Main"
    assert [m["name"] for m in document["metrics"]] == ["m1", "m2", "m3"]
    assert dict(document["prometheus"]) == {"job": "main", "scheme": "https"}
    assert span_of(document, ("metrics", 0)).file.endswith("a.yaml")
    assert span_of(document, ("prometheus", "scheme")).file.endswith("a.yaml")
    assert span_of(document, ("metrics", 2)).file.endswith("main.yaml")


def test_nested_includes_resolve_relative_to_the_file_that_names_them(tmp_path: Path) -> None:
    spec = _files(
        tmp_path,
        {
            "main.yaml": "include: [parts/a.yaml]\n",
            "parts/a.yaml": "include: [b.yaml]\nmetrics: [{name: a}]\n",
            "parts/b.yaml": "metrics: [{name: b}]\n",
        },
    )
    assert [m["name"] for m in load_spec_file(spec)["metrics"]] == ["b", "a"]


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"main.yaml": "include: [nope.yaml]\n"}, "include/missing"),
        ({"main.yaml": "include: [main.yaml]\n"}, "include/cycle"),
        ({"main.yaml": "include: [a.yaml]\n", "a.yaml": "include: [main.yaml]\n"}, "include/cycle"),
        ({"main.yaml": "include: ['bad\\0name']\n"}, "include/missing"),
        ({"main.yaml": "include: ['" + "x" * 5000 + "']\n"}, "include/missing"),
        ({"main.yaml": "include: ['.']\n"}, "include/missing"),
    ],
    ids=["missing", "self", "cycle", "nul", "too-long", "folder"],
)
def test_include_problems_are_reported_not_raised(
    tmp_path: Path, files: dict[str, str], code: str
) -> None:
    spec = _files(tmp_path, files)
    with pytest.raises(SpecError) as caught:
        load_spec_file(spec)
    [problem] = caught.value.diagnostics
    assert problem.code == code
    assert problem.path == ("include", 0)
    assert problem.span.line == 1


def test_an_included_folder_is_said_to_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    spec = _files(tmp_path, {"main.yaml": "include: [parts, nope.yaml]\n"})
    with pytest.raises(SpecError) as caught:
        load_spec_file(spec)
    folder, missing = caught.value.diagnostics
    assert folder.message.startswith("included file 'parts' is a folder")
    assert missing.message == "included file 'nope.yaml' does not exist"


def test_every_broken_include_is_reported_at_once(tmp_path: Path) -> None:
    spec = _files(
        tmp_path,
        {
            "main.yaml": "include: [gone.yaml, bad.yaml]\n",
            "bad.yaml": "a: 1\na: 2\n",
        },
    )
    with pytest.raises(SpecError) as caught:
        load_spec_file(spec)
    found = sorted((Path(p.span.file).name, p.code) for p in caught.value.diagnostics)
    assert found == [("bad.yaml", "yaml/duplicate-key"), ("main.yaml", "include/missing")]


# -- environment overlays ----------------------------------------------------------------------

BASE = """\
alerts:
  - {name: A, severity: warning, for: 5m}
  - {name: B, severity: info}
prometheus: {job: app, targets: ["a:1", "b:2"]}
"""


def _overlay(override: str) -> SpecMap:
    result = overlay(parse_yaml(BASE, "base.yaml"), parse_yaml(override, "env.yaml"))
    assert isinstance(result, SpecMap)
    return result


def test_named_items_merge_by_name_and_new_names_are_added() -> None:
    result = _overlay("alerts: [{name: A, for: 1m}, {name: C, severity: critical}]\n")
    assert [dict(a) for a in result["alerts"]] == [
        {"name": "A", "severity": "warning", "for": "1m"},
        {"name": "B", "severity": "info"},
        {"name": "C", "severity": "critical"},
    ]
    assert span_of(result, ("alerts", 0, "for")).file == "env.yaml"
    assert span_of(result, ("alerts", 0, "severity")).file == "base.yaml"


def test_mappings_merge_and_unnamed_lists_are_replaced() -> None:
    result = _overlay('prometheus: {targets: ["c:3"]}\n')
    assert dict(result["prometheus"]) == {"job": "app", "targets": ["c:3"]}


def test_an_empty_list_replaces_instead_of_keeping_everything() -> None:
    assert _overlay("alerts: []\n")["alerts"] == []


@pytest.mark.parametrize(
    "override",
    ["alerts: [{name: [A]}]\n", "alerts: [{name: 1}]\n", "alerts: [{name: A}, 3]\n"],
    ids=["list-name", "number-name", "unnamed-item"],
)
def test_items_without_a_string_name_replace_the_list(override: str) -> None:
    replaced = _overlay(override)["alerts"]
    assert replaced == parse_yaml(override, "env.yaml")["alerts"]


TIERED = """\
alerts:
  - {name: A, severity: warning, for: 10m}
  - {name: A, severity: critical, for: 5m}
  - {name: B, severity: info}
"""


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "alerts: [{name: A, for: 1m}]\n",
            [("A", "warning", "1m"), ("A", "critical", "1m"), ("B", "info", None)],
        ),
        (
            "alerts: [{name: A, severity: critical, for: 1m}]\n",
            [("A", "warning", "10m"), ("A", "critical", "1m"), ("B", "info", None)],
        ),
        (
            "alerts: [{name: A, severity: info, for: 1h}, {name: B, severity: warning}]\n",
            [
                ("A", "warning", "10m"),
                ("A", "critical", "5m"),
                ("B", "warning", None),
                ("A", "info", "1h"),
            ],
        ),
    ],
    ids=["every-tier", "one-tier", "new-tier-and-unshared-name"],
)
def test_an_override_of_a_name_alerts_share_picks_the_tier_by_severity(
    override: str, expected: list[tuple[str, str, str | None]]
) -> None:
    """A shared name is told apart by severity; a name not shared may change it."""
    result = overlay(parse_yaml(TIERED, "base.yaml"), parse_yaml(override, "env.yaml"))
    assert isinstance(result, SpecMap)
    assert [(a["name"], a["severity"], a.get("for")) for a in result["alerts"]] == expected


@pytest.mark.parametrize(
    ("override", "kept"),
    [
        ("alerts: [{name: A, expr: 'up == 0'}]\n", {"expr": "up == 0"}),
        (
            "alerts: [{name: A, condition: {below: 1}}]\n",
            {"condition": {"metric": "m", "below": 1}},
        ),
    ],
    ids=["expr-replaces-condition", "below-replaces-above"],
)
def test_an_override_setting_one_of_exclusive_keys_replaces_the_others(
    override: str, kept: dict[str, object]
) -> None:
    """A spec mapping holds one of `expr`/`condition`/`query`, `above`/`below`, and an
    SLI's `ratio`/`latency`/`raw`: switching from one to another is a replacement."""
    base = "alerts:\n  - {name: A, severity: warning, condition: {metric: m, above: 5}}\n"
    result = overlay(parse_yaml(base, "base.yaml"), parse_yaml(override, "env.yaml"))
    assert isinstance(result, SpecMap)
    (alert,) = result["alerts"]
    assert {k: v for k, v in alert.items() if k in ("expr", "condition")} == kept


def test_an_override_of_an_alerts_expression_leaves_out_the_tests_written_for_the_old_one() -> None:
    """An alert's own tests state what its expression does: an environment that changes
    the expression keeps them only if it gives them again."""
    base = (
        "alerts:\n  - name: A\n    severity: warning\n    expr: up == 0\n"
        "    tests: [{name: down, series: {up: '0x10'}, at: 5m, fires: [{}]}]\n"
    )
    for override, kept in (
        ("alerts: [{name: A, condition: {metric: m, above: 1}}]\n", False),
        ("alerts: [{name: A, expr: 'up < 1'}]\n", False),
        ("alerts: [{name: A, for: 5m}]\n", True),
        ("alerts: [{name: A, expr: 'up < 1', tests: []}]\n", True),
    ):
        result = overlay(parse_yaml(base, "base.yaml"), parse_yaml(override, "env.yaml"))
        assert isinstance(result, SpecMap)
        (alert,) = result["alerts"]
        assert ("tests" in alert) is kept, override
