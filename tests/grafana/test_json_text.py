"""The dashboard writer's shortcuts give what the json library and grafanalib give."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grafanalib._gen import DashboardEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from monitorgen.targets.grafana.build import build_dashboard
from monitorgen.targets.grafana.json_text import dumps_indented
from monitorgen.targets.grafana.normalize import drop_nulls
from monitorgen.targets.grafana.plain import plain_data

from .helpers import SPEC_FILES, SPEC_IDS, spec_of

#: Any code point, lone surrogates and control characters included.
_TEXT = st.text(st.characters(blacklist_categories=()), max_size=12)
_STRINGS = st.one_of(_TEXT, st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\u2028", "é€😀"]))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and the infinities included
    st.sampled_from([0.0, -0.0, 1e16, 1e-7, 2.5]),
    _STRINGS,
)


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    """A str subclass: encoded as a string."""


_ODD_SCALARS = st.sampled_from([Level.LOW, Name("n"), True, 10**30])
_OTHER_KEYS = st.one_of(st.integers(-3, 3), st.booleans(), st.none(), st.floats(allow_nan=False))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_STRINGS, children, max_size=5),
        st.dictionaries(_OTHER_KEYS, children, max_size=3),  # keys json.dumps converts
    )


_JSON_DATA = st.recursive(st.one_of(_SCALARS, _ODD_SCALARS), _containers, max_leaves=40)


def _outcome(encode: Any, value: Any) -> str:
    try:
        return repr(encode(value))
    except (TypeError, ValueError) as exc:
        return type(exc).__name__


def _reference_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


@settings(max_examples=400, deadline=None)
@given(_JSON_DATA)
def test_indented_text_is_json_dumps_text(value: Any) -> None:
    assert _outcome(dumps_indented, value) == _outcome(_reference_text, value)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [{}], "d": [[]]},
        {"b": 1, "a": {"y": [1, 2.5, None, True], "x": "é\n\u2028"}},
        [float("nan"), float("inf"), float("-inf"), -0.0],
        {"one": "\ud800"},  # a lone surrogate, written as it is
        {1: "a", "1": "b"},  # converted keys that collide
        {"a": 1, 2: "b"},  # keys that cannot be sorted together
    ],
)
def test_indented_text_of_edge_cases(value: Any) -> None:
    assert _outcome(dumps_indented, value) == _outcome(_reference_text, value)


def test_an_object_json_cannot_encode_fails_as_in_json_dumps() -> None:
    with pytest.raises(TypeError):
        dumps_indented({"a": [{"b": object()}]})


# ---------------------------------------------------------------- plain data


class Obj:
    """Stands for a grafanalib object: its JSON is what `to_json_data()` returns."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def to_json_data(self) -> Any:
        return self.payload

    def __repr__(self) -> str:
        return f"Obj({self.payload!r})"


_WITH_OBJECTS = st.recursive(
    st.one_of(_SCALARS, _ODD_SCALARS),
    lambda children: st.one_of(_containers(children), children.map(Obj)),
    max_leaves=40,
)


def _through_encoder(value: Any) -> Any:
    return drop_nulls(json.loads(json.dumps(value, cls=DashboardEncoder)))


def _containers_in(value: Any) -> Iterator[int]:
    """The ids of every dict and list in `value`, inside objects too."""
    if isinstance(value, Obj):
        yield from _containers_in(value.payload)
    elif isinstance(value, (dict, list, tuple)):
        yield id(value)
        for item in value.values() if isinstance(value, dict) else value:
            yield from _containers_in(item)


@settings(max_examples=400, deadline=None)
@given(_WITH_OBJECTS)
def test_plain_data_is_the_encoder_round_trip_without_nulls(value: Any) -> None:
    assert _outcome(plain_data, value) == _outcome(_through_encoder, value)


@settings(max_examples=200, deadline=None)
@given(_WITH_OBJECTS)
def test_plain_data_never_shares_a_container_with_its_input(value: Any) -> None:
    try:
        result = plain_data(value)
    except (TypeError, ValueError):
        return
    assert not set(_containers_in(result)) & set(_containers_in(value))


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_real_dashboards_through_both_paths(path: Path) -> None:
    spec = spec_of(path)
    for dashboard in spec.dashboards:
        objects = build_dashboard(spec, dashboard)
        data = plain_data(objects)
        assert json.dumps(data) == json.dumps(_through_encoder(objects))
        assert dumps_indented(data) == _reference_text(data)
