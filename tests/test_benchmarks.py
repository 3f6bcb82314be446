"""The synthetic specs the benchmarks time, and the front-end speed-ups they led to.

Not timed: these check that the specs are valid, realistic and reproducible, and that
each speed-up keeps behaviour. The spec of size 1,000 (5,000 alerts) is only validated
here: building it spends minutes in the targets, far beyond a test's budget.
"""

from __future__ import annotations

import dataclasses
import gc
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.synthetic import ALERTS_PER_METRIC, SIZES, SyntheticSpec, generate
from monitorgen import pipeline
from monitorgen.diagnostics import Diagnostic, Severity, SpecError
from monitorgen.model import Alert, Spec
from monitorgen.promql import inspect, parse
from monitorgen.spec.loader import load_spec_file
from monitorgen.spec.schema import validate_document
from tests.harness import require_binary

INVALID_SPECS = Path(__file__).parent / "invalid"
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _findings(result: pipeline.BuildResult) -> list[Diagnostic]:
    """Warnings and errors: a realistic spec should be lint-clean too."""
    return [d for d in result.diagnostics if d.severity >= Severity.WARNING]


@cache
def _generated(size: int) -> SyntheticSpec:
    """Each size is generated once per session (the largest takes seconds)."""
    return generate(size)


def _documents(synthetic: SyntheticSpec) -> list[dict[str, Any]]:
    return [yaml.load(text, Loader=_YAML_LOADER) for text in synthetic.files.values()]


def _all_alerts(synthetic: SyntheticSpec) -> list[dict[str, Any]]:
    return [alert for doc in _documents(synthetic) for alert in doc.get("alerts", [])]


@pytest.fixture(scope="module")
def built_100(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, dict[str, bytes]]:
    path = _generated(100).write(tmp_path_factory.mktemp("synthetic-100"))
    result = pipeline.build([path])
    assert _findings(result) == []
    (compiled,) = result.compiled
    assert compiled.spec is not None
    files = {a.path: a.content for a in result.tree[compiled.output_name]}
    return compiled.spec, files


# ---------------------------------------------------------------- the generator


def test_same_seed_gives_the_same_text_and_another_seed_another() -> None:
    first, again, other = generate(100, seed=7), generate(100, seed=7), generate(100, seed=8)
    assert first.files == again.files
    assert first.files != other.files
    assert first.shape == other.shape


@pytest.mark.parametrize("size", SIZES)
def test_sizes_hold_what_the_issue_asks(size: int) -> None:
    synthetic = _generated(size)
    shape = synthetic.shape
    assert (shape.metrics, shape.alerts, shape.panels) == (
        size,
        ALERTS_PER_METRIC * size,
        size // 2,
    )
    assert shape.slos >= 2 and shape.receivers >= 7 and shape.events >= 1
    assert len(_all_alerts(synthetic)) == shape.alerts


def test_a_large_spec_keeps_its_alerts_in_included_fragments() -> None:
    synthetic = _generated(max(SIZES))
    main = yaml.load(synthetic.files[synthetic.main], Loader=_YAML_LOADER)
    assert "alerts" not in main
    assert main["include"] == [name for name in synthetic.files if name != synthetic.main]


def test_the_spec_has_the_shape_of_real_ones() -> None:
    """Every metric type, every structured function and raw PromQL, both SLI kinds,
    variables, and a route tree nested by team and then severity."""
    (doc,) = _documents(_generated(10))
    assert {m["type"] for m in doc["metrics"]} == {"counter", "gauge", "histogram"}
    assert all(m["labels"] for m in doc["metrics"])
    functions = Counter(a["condition"]["function"] for a in doc["alerts"] if "condition" in a)
    schema_functions = {
        "rate",
        "increase",
        "ratio",
        "quantile",
        "value",
        "avg_over_time",
        "max_over_time",
        "min_over_time",
    }
    assert set(functions) == schema_functions
    assert any("expr" in a for a in doc["alerts"])
    assert {next(iter(s["sli"])) for s in doc["slos"]} == {"ratio", "latency"}
    assert all(d["variables"] for d in doc["dashboards"])
    team_route = doc["routing"]["routes"][0]
    assert team_route["matchers"][0].startswith("team=")
    assert {r["matchers"][0] for r in team_route["routes"]} >= {
        'severity="critical"',
        'severity="warning"',
    }
    receivers = {r["name"] for r in doc["receivers"]}
    assert {r for t in doc["routing"]["tests"] for r in t["receivers"]} <= receivers


def test_sizes_below_the_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(3)


# ---------------------------------------------------------------- validate and build


def test_size_10_validates_and_builds_cleanly(tmp_path: Path) -> None:
    path = _generated(10).write(tmp_path)
    result = pipeline.build([path])
    assert _findings(result) == []
    assert not result.failed()
    assert result.tree["synthetic_10"]


def test_size_100_builds_every_alert_as_a_comparing_rule(
    built_100: tuple[Spec, dict[str, bytes]],
) -> None:
    spec, files = built_100
    rules = yaml.safe_load(files["prometheus/rules.yml"])
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert {a.name for a in spec.alerts} <= set(by_name)
    for alert in spec.alerts:
        facts = inspect(by_name[alert.name]["expr"])
        assert facts.top_is_comparison, alert.name
        assert set(facts.metric_names) <= _known_series(spec), alert.name


def _known_series(spec: Spec) -> set[str]:
    series = {s for m in spec.metrics for s in m.series_names()}
    return series | {r.record for r in spec.recording_rules}


def test_size_1000_validates_cleanly_parsing_each_expression_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _generated(1000).write(tmp_path)
    monkeypatch.setattr(pipeline, "LINT_ELSEWHERE_FROM", 10**9)  # every parse in this process
    before = parse.cache_info()
    result = pipeline.build([path], render=False)
    after = parse.cache_info()
    assert _findings(result) == []
    # No expression was parsed twice: the cache holds all of them. Only the spec's own
    # PromQL (about 500 raw expressions) is parsed; what monitorgen writes is not.
    assert after.misses - before.misses == after.currsize - before.currsize > 400
    (compiled,) = result.compiled
    assert compiled.spec is not None
    assert len(compiled.spec.alerts) == ALERTS_PER_METRIC * 1000


def test_size_1000_builds_cleanly(tmp_path: Path) -> None:
    result = pipeline.build([_generated(1000).write(tmp_path)])
    assert _findings(result) == []
    assert not result.failed()
    files = {a.path: a.content.decode() for a in result.tree["synthetic_1000"]}
    # The size-100 tests parse the output; here, counting its lines is enough.
    alerts = set(re.findall(r"^  - alert: (\S+)$", files["prometheus/rules.yml"], re.M))
    assert {a.name for a in spec_alerts(result)} <= alerts
    tested = set(re.findall(r"^    alertname: (\S+)$", files["prometheus/rules.test.yml"], re.M))
    assert len(tested) > ALERTS_PER_METRIC * 1000 // 2


def spec_alerts(result: pipeline.BuildResult) -> list[Alert]:
    (compiled,) = result.compiled
    assert compiled.spec is not None
    return list(compiled.spec.alerts)


@pytest.mark.tools
def test_promtool_accepts_the_size_100_rules(
    built_100: tuple[Spec, dict[str, bytes]], tmp_path: Path
) -> None:
    promtool = require_binary("promtool")
    _spec, files = built_100
    rules = tmp_path / "rules.yml"
    rules.write_bytes(files["prometheus/rules.yml"])
    done = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.tools
def test_amtool_accepts_the_size_100_alertmanager_config(
    built_100: tuple[Spec, dict[str, bytes]], tmp_path: Path
) -> None:
    amtool = require_binary("amtool")
    _spec, files = built_100
    for path, content in files.items():
        if path.startswith("alertmanager/"):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    config = tmp_path / "alertmanager" / "alertmanager.yml"
    done = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- speed-ups keep behaviour


def _invalid_documents() -> Iterator[tuple[str, Any]]:
    for path in sorted(INVALID_SPECS.glob("*.yaml")):
        try:
            yield path.name, load_spec_file(path)
        except SpecError:
            continue  # refused before the schema


def _jsonschema_errors(document: Any) -> list[Any]:
    import jsonschema

    from monitorgen.spec import schema

    validator: jsonschema.Draft202012Validator = schema._validator()
    return list(validator.iter_errors(document))


def test_schema_fast_path_never_accepts_what_jsonschema_refuses() -> None:
    """validate_document skips jsonschema when the compiled validator accepts a
    document, so the two must agree on every document jsonschema refuses."""
    checked = 0
    for name, document in _invalid_documents():
        if _jsonschema_errors(document):
            checked += 1
            assert validate_document(document), name
    assert checked >= 10


@pytest.mark.parametrize(
    ("section", "value"),
    [
        # Python's \s matches \x1c-\x1f; Rust's does not, so only Python's `re` refuses it.
        ("prometheus", {"targets": ["host\x1c:9090"]}),
        ("prometheus", {"scrape_interval": "0s"}),
        ("prometheus", {"scrape_interval": "5m1h"}),
        ("baseline", {"tokens_per_request": -1}),
    ],
)
def test_schema_fast_path_uses_pythons_patterns_and_formats(section: str, value: Any) -> None:
    document = {"version": 1, "service": "svc", section: value}
    assert _jsonschema_errors(document)
    assert validate_document(document)


def test_schema_accepts_valid_specs_without_findings() -> None:
    for size in (10, 100):
        for document in _documents(_generated(size)):
            assert validate_document(document) == []


def test_name_lookups_return_the_first_of_duplicates(tmp_path: Path) -> None:
    path = _generated(10).write(tmp_path)
    (compiled,) = pipeline.build([path], render=False).compiled
    spec = compiled.spec
    assert spec is not None
    first, second = spec.alerts[0], dataclasses.replace(spec.alerts[1], name=spec.alerts[0].name)
    twice = dataclasses.replace(spec, alerts=(first, second, *spec.alerts[2:]))
    assert twice.alert(first.name) is first
    assert twice.alert("NoSuchAlert") is None
    receiver = spec.receivers[-1]
    assert spec.receiver(receiver.name) is receiver


def test_the_garbage_collector_is_off_while_specs_compile_and_on_again_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    check = pipeline.check_spec

    def observing(spec: Any) -> Any:
        seen.append(gc.isenabled())
        return check(spec)

    monkeypatch.setattr(pipeline, "check_spec", observing)
    assert gc.isenabled()
    pipeline.build([_generated(10).write(tmp_path)], render=False)
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:  # a caller that had it off finds it off
        pipeline.build([_generated(10).write(tmp_path)], render=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
