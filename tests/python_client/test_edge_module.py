"""Texts and names that Python source must quote, escape or rename survive exactly."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitorgen.model import Spec
from monitorgen.targets.python_client.source import LINE_LENGTH, docstring, long_str, py_str

from .conftest import SPECS, compile_model, load_module, write_module
from .exposition import families, key, samples

LONG = "edge_a_rather_long_metric_name_that_pushes_generated_lines_past_the_limit_total"
LONG_FIELD = "value_with_a_really_long_field_name_to_push_the_checks_past_the_limit"


@pytest.fixture(scope="module")
def edge_spec() -> Spec:
    return compile_model(SPECS / "edge.yaml")


@pytest.fixture(scope="module")
def edge(edge_spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_module(write_module(edge_spec, tmp_path_factory.mktemp("edge")))


def test_help_texts_survive_exactly(edge: ModuleType, edge_spec: Spec) -> None:
    registry = CollectorRegistry()
    edge.EdgeMetrics(registry=registry).record_class(self_="a")
    found = families(registry)
    for metric in edge_spec.metrics:
        name = metric.name.removesuffix("_total")
        assert found[name].documentation == metric.help


def test_keyword_and_local_names_become_parameters(edge: ModuleType) -> None:
    params = inspect.signature(edge.EdgeMetrics.record_class).parameters
    assert {"self_", "_b_", "lambda_", LONG_FIELD} <= set(params)
    registry = CollectorRegistry()
    metrics = edge.EdgeMetrics(registry=registry)
    metrics.record_class(self_="me", _b_=2, lambda_='say "hi"', **{LONG_FIELD: 0.5})
    metrics.record_class(self_="me", lambda_="back\\slash")
    metrics.record_class(self_="me", lambda_="中文")
    assert samples(registry) == {
        key(LONG, kind='say "hi"', self="me"): 2,
        key(LONG, kind="back\\slash", self="me"): 1,
        key(LONG, kind="中文", self="me"): 1,
        key("edge:ratio"): 0.5,
    }
    assert metrics.edge_ratio is not None, "a colon in a metric name becomes _ in Python"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_string_literals_read_back_as_the_text(text: str) -> None:
    assert ast.literal_eval(py_str(text)) == text
    assert ast.literal_eval("(" + long_str(text, 2) + ")") == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from([*map(chr, range(32, 127)), "\t", "\n", "é", "\x7f"])))
@example("plain text")
@example("it's \\ escaped")
def test_mostly_ascii_literals_escape_exactly_the_characters_that_need_it(text: str) -> None:
    """Printable ASCII stays as it is except the chosen quote and backslashes."""
    literal = py_str(text)
    quote = literal[0]
    assert quote == ("'" if text.count('"') > text.count("'") else '"')
    escaped = {"\\": "\\\\", quote: "\\" + quote, "\t": "\\t", "\n": "\\n", "é": "\\xe9"}
    assert literal[1:-1] == "".join(escaped.get(c, c) for c in text).replace("\x7f", "\\x7f")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1))
@example('\\"')
@example('ends in """')
@example('ends in \\"""')
@example('"""')
@example(" 00000\x1f" + "\x1b" * 7 + "\x08" * 4 + "\U00010000" * 4)  # too long after `"""`
def test_docstrings_read_back_and_fit(text: str) -> None:
    lines = docstring([text], 1)
    if not text.strip():
        assert lines == []
        return
    source = "def f():\n" + "\n".join(lines) + "\n"
    parsed = ast.parse(source).body[0]
    assert isinstance(parsed, ast.FunctionDef)
    doc = ast.get_docstring(parsed, clean=True) or ""
    assert doc.split() == text.split()
    for line in lines:
        assert len(line) <= LINE_LENGTH or " " not in line.strip()


def test_a_field_named_metrics_reaches_the_module_level_function(tmp_path: Path) -> None:
    """The module-level function keeps its default instance in a name no field has, so
    a field named `metrics` is counted, not replaced by the instance."""
    source = tmp_path / "named.yaml"
    source.write_text(
        "version: 1\nservice: named\n"
        "metrics:\n  - {name: named_items_total, type: counter, help: Items.}\n"
        "events:\n  - name: batch\n    fields: [{name: metrics, type: int}]\n"
        "    updates: [{metric: named_items_total, inc: metrics}]\n"
    )
    module = write_module(compile_model(source), tmp_path)
    script = (
        "import importlib.util, sys\n"
        "from prometheus_client import REGISTRY\n"
        "spec = importlib.util.spec_from_file_location('named', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.record_batch(metrics=3)\n"
        "print(REGISTRY.get_sample_value('named_items_total'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3.0"
