"""`@immutable` classes: values at run time, frozen to the type checker."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from monitorgen.diagnostics import Span
from monitorgen.immutable import immutable
from monitorgen.model import Label


@immutable
class _Pair:
    left: int
    right: tuple[str, ...] = ()


def test_equal_values_are_equal_and_hash_alike() -> None:
    assert _Pair(1, ("a",)) == _Pair(1, ("a",))
    assert _Pair(1) != _Pair(2)
    assert hash(_Pair(1, ("a",))) == hash(_Pair(1, ("a",)))
    assert {_Pair(1): "one"}[_Pair(1)] == "one"
    assert hash(Label("status", ("ok", "error"))) == hash(Label("status", ("ok", "error")))


def test_replace_makes_a_new_value_and_leaves_the_old_one() -> None:
    before = _Pair(1, ("a",))
    after = dataclasses.replace(before, left=2)
    assert (before.left, after.left, after.right) == (1, 2, ("a",))


def test_order_is_by_fields_when_asked() -> None:
    spans = [Span("b.yaml", 1, 1), Span("a.yaml", 3, 1), Span("a.yaml", 1, 9), Span("a.yaml", 1, 2)]
    assert sorted(spans) == [spans[3], spans[2], spans[1], spans[0]]
    with pytest.raises(TypeError):
        _ = _Pair(1) < _Pair(2)  # type: ignore[operator]


def test_the_type_checker_refuses_assignment_to_a_field(tmp_path: Path) -> None:
    program = tmp_path / "assigns.py"
    program.write_text(
        textwrap.dedent(
            """
            from monitorgen.model import Threshold
            from tests.test_immutable import _Pair

            def change(threshold: Threshold, pair: _Pair) -> None:
                threshold.value = 2.0
                pair.left = 3
            """
        )
    )
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--follow-imports=silent", str(program)]
    )
    assert status == 1, out
    assert out.count("is read-only") == 2, out
