"""Random and mutated specs give a clean build or a clean error, never an exception.

The mutations start from the bundled specs and break them the way people do:
delete a key, give a value the wrong type, swap two values, rename a key, copy a
list item, move a section into an environment override, or write YAML that is
not a spec at all.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitorgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED_SPECS = (
    ROOT / "specs" / "llm.yaml",
    ROOT / "tests" / "specs" / "http_api.yaml",
    ROOT / "tests" / "specs" / "queue_worker.yaml",
)
KNOWN_KEYS = (
    "name",
    "type",
    "metric",
    "labels",
    "expr",
    "condition",
    "for",
    "severity",
    "receiver",
    "routes",
    "environments",
    "include",
    "buckets",
    "where",
    "by",
    "function",
    "window",
)

Path_ = tuple[str | int, ...]


def _seed_documents() -> list[dict[str, Any]]:
    documents = []
    for path in SEED_SPECS:
        if path.is_file():
            documents.append(yaml.safe_load(path.read_text(encoding="utf-8")))
    return documents


SEEDS = _seed_documents()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["5m", "0s", "5m5m", "1y", "up", "rate(x[5m])", "$x", "", "critical"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    found: list[Path_] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _get(node: Any, path: Path_) -> Any:
    for part in path:
        node = node[part]
    return node


def _parent(document: Any, path: Path_) -> tuple[Any, str | int]:
    return _get(document, path[:-1]), path[-1]


def _delete(document: Any, path: Path_, data: st.DataObject) -> None:
    parent, key = _parent(document, path)
    del parent[key]


def _replace(document: Any, path: Path_, data: st.DataObject) -> None:
    parent, key = _parent(document, path)
    parent[key] = data.draw(values)


def _swap(document: Any, path: Path_, data: st.DataObject) -> None:
    other = data.draw(st.sampled_from(_paths(document)))
    if path[: len(other)] == other or other[: len(path)] == path:
        return  # one contains the other
    parent, key = _parent(document, path)
    other_parent, other_key = _parent(document, other)
    parent[key], other_parent[other_key] = other_parent[other_key], parent[key]


def _rename(document: Any, path: Path_, data: st.DataObject) -> None:
    parent, key = _parent(document, path)
    if isinstance(parent, dict):
        new = data.draw(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8)))
        parent[new] = parent.pop(key)


def _duplicate(document: Any, path: Path_, data: st.DataObject) -> None:
    parent, key = _parent(document, path)
    if isinstance(parent, list) and isinstance(key, int):
        parent.append(copy.deepcopy(parent[key]))


def _to_environment(document: Any, path: Path_, data: st.DataObject) -> None:
    """Override a mutated copy of a top-level section in a `staging` environment."""
    section = path[0]
    override = copy.deepcopy(document[section])
    inner = _paths(override)
    mutate_it = data.draw(st.booleans())
    if inner and mutate_it:
        target = data.draw(st.sampled_from(inner))
        parent, key = _parent(override, target)
        parent[key] = data.draw(values)
    environments = document.setdefault("environments", {})
    staging = environments.setdefault("staging", {}) if isinstance(environments, dict) else None
    if isinstance(staging, dict):  # an earlier mutation may have made either something else
        staging[section] = override


Mutation = Callable[[Any, Path_, st.DataObject], None]
MUTATIONS: tuple[Mutation, ...] = (
    _delete,
    _replace,
    _swap,
    _rename,
    _duplicate,
    _to_environment,
)


def _mutated_text(data: st.DataObject) -> str:
    document = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(document)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        data.draw(st.sampled_from(MUTATIONS))(document, path, data)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _random_text(data: st.DataObject) -> str:
    """Any text, any YAML value, or a spec head followed by random sections."""
    kind = data.draw(st.sampled_from(["text", "yaml", "spec-like"]))
    if kind == "text":
        return data.draw(st.text(max_size=200))
    if kind == "yaml":
        return yaml.safe_dump(data.draw(values), allow_unicode=True)
    document = {"version": 1, "service": "demo"}
    document.update(data.draw(st.dictionaries(st.sampled_from(KNOWN_KEYS), values, max_size=4)))
    return yaml.safe_dump(document, allow_unicode=True)


def _assert_clean_outcome(spec: Path, output: Path) -> None:
    result = CliRunner().invoke(
        main, ["build", str(spec), "-o", str(output), "--format", "json"], catch_exceptions=True
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    if result.exit_code == 0:
        assert report["ok"] is True
        assert report["written"]
        assert all((output / name).is_dir() for name in report["written"])
    else:
        assert report["ok"] is False
        assert report["diagnostics"], "a failure must say why"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


#: A mutated spec that stays valid is built with every target, which takes a moment;
#: raise MONITORGEN_FUZZ_EXAMPLES for a longer search.
EXAMPLES = int(os.environ.get("MONITORGEN_FUZZ_EXAMPLES", "50"))


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_settings(EXAMPLES)
@given(data=st.data())
def test_mutated_specs_build_or_fail_cleanly(data: st.DataObject, workdir: Path) -> None:
    spec = workdir / "mutated.yaml"
    spec.write_text(_mutated_text(data), encoding="utf-8")
    _assert_clean_outcome(spec, workdir / "out")


@_settings(2 * EXAMPLES)
@given(data=st.data())
def test_random_text_fails_cleanly(data: st.DataObject, workdir: Path) -> None:
    spec = workdir / "random.yaml"
    spec.write_text(_random_text(data), encoding="utf-8")
    _assert_clean_outcome(spec, workdir / "out")
