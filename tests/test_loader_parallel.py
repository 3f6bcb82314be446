"""Include files parsed in a forked child: the same document, places and problems as
parsing every file in one process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitorgen.diagnostics import SpecError
from monitorgen.spec import loader
from monitorgen.spec.loader import SpecList, SpecMap, load_spec_file

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

ALERTS = """\
alerts:
{items}
dashboards:
  - uid: d{n}
    rows: [{{title: Row, panels: [{{title: P, queries: [{{expr: "up"}}]}}]}}]
"""

ALERT = """\
  - name: Alert{n}x{i}
    severity: warning
    summary: "Alert {i} of part {n}: {{{{ $labels.job }}}}"
    description: |
      A block scalar
        keeps its indent
    for: 5m
    condition: {{metric: m{i}, above: {threshold}, where: {{code: ['500', '503']}}}}
    labels: {{team: core, page: {page}, weight: {weight}, missing: ~, hex: 0x1F}}
"""


def _part(n: int, count: int = 12) -> str:
    items = "".join(
        ALERT.format(n=n, i=i, threshold=i * 0.5, page=str(i % 2 == 0).lower(), weight=i * 10**15)
        for i in range(count)
    )
    return ALERTS.format(items=items.rstrip("\n"), n=n)


def _spec(folder: Path, parts: dict[str, str], head: str = "") -> Path:
    names = ", ".join(parts)
    main = folder / "main.yaml"
    main.write_text(f"include: [{names}]\n{head}version: 1\nservice: svc\n" + _part(99, 20))
    for name, text in parts.items():
        (folder / name).write_text(text)
    return main


def _same(a: Any, b: Any, path: tuple[str | int, ...] = ()) -> None:
    """Equal values of equal types, each container with the same spans."""
    assert type(a) is type(b), path
    if isinstance(a, SpecMap):
        assert list(a) == list(b), path
        assert (a.span, a.key_spans, a.value_spans) == (b.span, b.key_spans, b.value_spans), path
        for key in a:
            _same(a[key], b[key], (*path, key))
    elif isinstance(a, SpecList):
        assert (len(a), a.span, a.item_spans) == (len(b), b.span, b.item_spans), path
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, (*path, index))
    else:
        assert a == b, path


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any amount of included text goes to a child; the names of files it parsed."""
    monkeypatch.setattr(loader, "PARSE_ELSEWHERE_FROM", 1)
    monkeypatch.setattr(loader, "_can_fork", lambda: True)
    names: list[str] = []
    take = loader._IncludesElsewhere.take

    def recording(self: loader._IncludesElsewhere, target: Path) -> SpecMap | None:
        found = take(self, target)
        if found is not None:
            names.append(target.name)
        return found

    monkeypatch.setattr(loader._IncludesElsewhere, "take", recording)
    yield names


def _serially(spec: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as serial:
        serial.setattr(loader, "_can_fork", lambda: False)
        return _outcome(spec)


def _outcome(spec: Path) -> Any:
    try:
        return load_spec_file(spec)
    except SpecError as exc:
        return [(d.code, d.message, d.span, d.path, d.related) for d in exc.diagnostics]


def test_includes_parsed_in_a_child_are_the_same_document_with_the_same_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str]
) -> None:
    spec = _spec(tmp_path, {f"part{n}.yaml": _part(n) for n in range(4)})
    document = load_spec_file(spec)
    assert taken == ["part2.yaml", "part3.yaml"]  # the last ones, less text than is left here
    assert len(document["alerts"]) == 4 * 12 + 20
    assert document["alerts"][-1]["name"] == "Alert99x19"
    _same(document, _serially(spec, monkeypatch))


def test_problems_of_includes_parsed_in_a_child_are_reported_at_once_and_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str]
) -> None:
    parts = {
        "ok.yaml": _part(1, 40),
        "dup.yaml": _part(2) + "alerts: []\n",
        "nan.yaml": _part(3).replace("above: 1.0", "above: .nan"),
        "date.yaml": _part(4) + "when: !!timestamp 2001-12-14\n",
        "broken.yaml": _part(5) + "  - [unclosed\n",
        "fine.yaml": _part(6),
    }
    spec = _spec(tmp_path, parts)
    found = _outcome(spec)
    assert taken == ["fine.yaml"]  # the child read all but ok.yaml; the others are read here
    assert [(Path(where.file).name, code) for code, _, where, _, _ in found] == [
        ("dup.yaml", "yaml/duplicate-key"),
        ("nan.yaml", "yaml/not-finite"),
        ("broken.yaml", "yaml/syntax"),
    ]
    assert found == _serially(spec, monkeypatch)


def test_a_timestamp_the_child_cannot_send_is_read_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str]
) -> None:
    spec = _spec(
        tmp_path, {"a.yaml": _part(1), "b.yaml": _part(2) + "when: !!timestamp 2001-12-14\n"}
    )
    document = load_spec_file(spec)
    assert taken == []
    assert str(document["when"]) == "2001-12-14"
    _same(document, _serially(spec, monkeypatch))


def _fork_fails() -> int:
    raise OSError("no more processes")


def _child_dies(targets: list[Path], cache: object) -> Any:
    os._exit(3)


def _child_garbles(targets: list[Path], cache: object) -> Any:
    return {str(target): (target.name, b"\x00garbage") for target in targets}


def _child_sends_nonsense(targets: list[Path], cache: object) -> Any:
    return ["not", "a", "mapping"]


@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("os.fork", _fork_fails),
        ("_parsed_elsewhere", _child_dies),
        ("_parsed_elsewhere", _child_garbles),
        ("_parsed_elsewhere", _child_sends_nonsense),
    ],
    ids=["fork-fails", "child-dies", "child-garbles", "child-sends-nonsense"],
)
def test_without_a_working_child_everything_is_parsed_here(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    taken: list[str],
    name: str,
    replacement: Any,
) -> None:
    spec = _spec(tmp_path, {f"part{n}.yaml": _part(n) for n in range(4)})
    target: Any = os if name == "os.fork" else loader
    monkeypatch.setattr(target, name.removeprefix("os."), replacement)
    document = load_spec_file(spec)
    assert taken == []
    _same(document, _serially(spec, monkeypatch))


def test_a_small_spec_is_loaded_without_a_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(tmp_path, {f"part{n}.yaml": _part(n) for n in range(4)})
    monkeypatch.setattr(loader, "_can_fork", lambda: True)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked for a small spec"))
    assert len(load_spec_file(spec)["alerts"]) == 4 * 12 + 20


def test_the_child_is_stopped_and_reaped_when_the_spec_itself_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str]
) -> None:
    children: list[int] = []
    fork = os.fork

    def recording() -> int:
        child = fork()
        if child:
            children.append(child)
        return child

    monkeypatch.setattr(os, "fork", recording)
    spec = _spec(tmp_path, {f"part{n}.yaml": _part(n) for n in range(4)}, head="a: [\n")
    found = _outcome(spec)
    assert [code for code, *_ in found] == ["yaml/syntax"]
    assert len(children) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(children[0], os.WNOHANG)  # already reaped
    assert taken == []


@pytest.mark.parametrize(("cpus", "forks"), [(1, False), (2, True), (8, True)])
def test_a_child_is_started_only_with_a_second_cpu(
    monkeypatch: pytest.MonkeyPatch, cpus: int, forks: bool
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)), raising=False)
    assert loader._can_fork() is forks
