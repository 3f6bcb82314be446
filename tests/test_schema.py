"""The JSON Schema: strict, valid, and turned into findings that say what is wrong and where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitorgen.diagnostics import Diagnostic
from monitorgen.spec.loader import load_spec_file, parse_yaml
from monitorgen.spec.schema import (
    SECRET_FIELDS,
    _conforms_remembered,
    _PythonPattern,
    schema_text,
    validate_document,
)

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("tests/specs/*.yaml")])
SCHEMA: dict[str, Any] = json.loads(schema_text())

HEAD = "version: 1\nservice: demo\n"


def _findings(body: str) -> list[Diagnostic]:
    return validate_document(parse_yaml(HEAD + body, "spec.yaml"))


def _one(body: str) -> Diagnostic:
    found = _findings(body)
    assert len(found) == 1, found
    return found[0]


def _objects(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema of a mapping with known keys; an `if` only tests a value."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            if key != "if":
                yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}/{index}")


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_section_with_known_keys_refuses_unknown_ones() -> None:
    loose = [
        where for where, node in _objects(SCHEMA) if node.get("additionalProperties") is not False
    ]
    assert loose == []


def test_every_definition_is_used() -> None:
    text = schema_text()
    unused = [name for name in SCHEMA["$defs"] if f'"#/$defs/{name}"' not in text]
    assert unused == []


@pytest.mark.parametrize("spec", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_specs_are_schema_valid(spec: Path) -> None:
    assert validate_document(load_spec_file(spec)) == []


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["30s", "5m", "1h30m", "7d", "2w", "1y", "1d12h", "500ms", "90m"])
def test_prometheus_durations_are_accepted(value: str) -> None:
    assert _findings(f"prometheus: {{scrape_interval: {value}}}\n") == []


@pytest.mark.parametrize(
    ("value", "code", "reason"),
    [
        ("'5 minutes'", "schema/pattern", "is not a duration"),
        ("5", "schema/type", "is a number, expected a string"),
        ("5M", "schema/pattern", "is not a duration"),
        ("30m1h", "schema/format", "units go from largest to smallest"),
        ("5m5m", "schema/format", "units go from largest to smallest"),
        ("0s", "schema/format", "must be greater than 0"),
        ("0h0m", "schema/format", "must be greater than 0"),
        ("99999999999y", "schema/format", "within about 290 years"),
    ],
)
def test_bad_durations_say_why(value: str, code: str, reason: str) -> None:
    finding = _one(f"prometheus:\n  scrape_interval: {value}\n")
    assert (finding.code, finding.path) == (code, ("prometheus", "scrape_interval"))
    assert (finding.span.line, finding.span.column) == (4, 20)
    assert reason in finding.message
    if code == "schema/type":  # a bare number: the unit is what is missing, not quotes
        assert finding.hint == f"a duration needs its unit: {value}s, {value}m or {value}h"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{url: 'https://x.example'}", "expected a list, got a mapping"),
        ("[[]]", "expected a mapping, got a list"),
        ("[null]", "the value is empty, expected a mapping"),
        ("\n      -", "the value is empty, expected a mapping"),
    ],
    ids=["mapping", "list", "null", "bare-dash"],
)
def test_a_mapping_or_list_of_the_wrong_kind_says_what_was_expected(
    value: str, message: str
) -> None:
    finding = _one(f"receivers:\n  - name: team\n    webhook: {value}\n")
    assert finding.code == "schema/type"
    assert finding.message == message


ALERT = """\
metrics: [{name: demo_up, type: gauge, help: Up.}]
alerts:
  - name: DemoDown
    severity: critical
    summary: Down.
    expr: demo_up == 0
"""


@pytest.mark.parametrize("field", ["for", "keep_firing_for"])
def test_alerts_may_fire_at_once_with_a_zero_duration(field: str) -> None:
    assert _findings(ALERT + f"    {field}: 0s\n") == []
    assert _one(ALERT + f"    {field}: 0m5m\n").code == "schema/format"


def test_a_text_accepted_in_one_place_is_still_checked_in_a_stricter_one() -> None:
    # The validator remembers its answer per text; the answer belongs to one check.
    repeated = ALERT + "    for: 0s\n" + "prometheus: {scrape_interval: 0s}\n"
    for _ in range(2):
        finding = _one(repeated)
        assert (finding.code, finding.path) == ("schema/format", ("prometheus", "scrape_interval"))
    labels = "metrics: [{name: 'demo:up', type: gauge, help: Up., labels: [ok, 'demo:up']}]\n"
    assert _one(labels).path == ("metrics", 0, "labels", 1)  # a metric name, not a label name


@pytest.mark.parametrize("lenient_first", [True, False])
def test_remembered_answers_belong_to_their_check(lenient_first: bool) -> None:
    metric = _PythonPattern({}, "^[a-zA-Z_:][a-zA-Z0-9_:]*$", "")
    label = _PythonPattern({}, "^[a-zA-Z_][a-zA-Z0-9_]*$", "")
    for _ in range(2):
        if lenient_first:
            assert _conforms_remembered("duration-or-zero", "0s")
            metric.validate("demo:up")
        assert not _conforms_remembered("duration", "0s")
        with pytest.raises(ValueError, match="does not match"):
            label.validate("demo:up")
        assert _conforms_remembered("duration-or-zero", "0s")
        metric.validate("demo:up")


def test_routing_may_send_at_once_but_never_repeat_at_once() -> None:
    routing = "receivers: [{name: r}]\nrouting:\n  receiver: r\n  group_wait: 0s\n"
    assert _findings(routing) == []
    finding = _one(routing + "  repeat_interval: 0s\n")
    assert finding.path == ("routing", "repeat_interval")


# -- messages --------------------------------------------------------------------------------


def test_an_unknown_key_suggests_the_close_one() -> None:
    finding = _one(ALERT + "    sumary: typo\n")
    assert finding.code == "schema/unknown-key"
    assert finding.path == ("alerts", 0, "sumary")
    assert (finding.span.line, finding.span.column) == (9, 5)
    assert finding.hint == "did you mean 'summary'?"
    assert "expected one of: annotations, condition," in finding.message


def test_an_unknown_key_far_from_any_known_one_gets_no_guess() -> None:
    finding = _one("zzzzzz: 1\n")
    assert finding.code == "schema/unknown-key"
    assert finding.hint is None


@pytest.mark.parametrize("key", sorted(SECRET_FIELDS))
def test_secret_keys_are_refused_with_the_file_alternative(key: str) -> None:
    webhook = "receivers:\n  - name: r\n    webhook:\n      - url: https://x.example\n"
    found = _findings(webhook + f"        {key}: s3cret\n")
    secret = [f for f in found if f.code == "secrets/plaintext"]
    assert len(secret) == 1
    assert secret[0].path == ("receivers", 0, "webhook", 0, key)
    assert secret[0].hint is not None and SECRET_FIELDS[key] in secret[0].hint
    assert "s3cret" not in secret[0].message


def test_a_wrong_enum_value_lists_the_choices_and_the_closest() -> None:
    finding = _one(ALERT.replace("severity: critical", "severity: critcal"))
    assert finding.code == "schema/enum"
    assert finding.message == (
        "'critcal' is not one of: critical, warning, info; did you mean 'critical'?"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    condition: {metric: demo_up, below: 1}\n", "give only one of 'expr' or 'condition'"),
        (None, "needs one of 'expr' or 'condition'"),
    ],
    ids=["both", "neither"],
)
def test_expr_and_condition_are_exclusive(extra: str | None, message: str) -> None:
    body = ALERT + extra if extra else ALERT.replace("    expr: demo_up == 0\n", "")
    finding = _one(body)
    assert (finding.code, finding.path) == ("schema/oneOf", ("alerts", 0))
    assert message in finding.message


def test_a_missing_required_key_is_named() -> None:
    finding = _one(ALERT.replace("    summary: Down.\n", ""))
    assert (finding.code, finding.message) == ("schema/required", "missing required key 'summary'")


def test_the_version_must_be_1() -> None:
    finding = validate_document(parse_yaml("version: 2\nservice: demo\n", "s.yaml"))[0]
    assert (finding.code, finding.message) == ("schema/const", "2 is not supported, expected 1")


def test_every_independent_problem_is_reported_at_once() -> None:
    found = _findings(
        "prometheus: {scrape_interval: 1 minute}\n"  # line 3
        "metrics:\n"
        "  - {name: demo-up, type: gauge, help: Up.}\n"  # line 5
        "alerts:\n"
        "  - {name: A, severity: urgent, summary: s, expr: up}\n"  # line 7
        "receivers: [{name: r, email: [{to: a@b, password: x}]}]\n"  # line 8
        "titel: Demo\n"  # line 9
    )
    assert sorted((f.span.line, f.code) for f in found) == [
        (3, "schema/pattern"),
        (5, "schema/pattern"),
        (7, "schema/enum"),
        (8, "secrets/plaintext"),
        (9, "schema/unknown-key"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "alerts: [{name: 9Bad, severity: warning, summary: s, expr: up > 1}]\n",
            "'9Bad' is not a valid name here (letters, digits and _, starting with a letter)",
        ),
        (
            "pricing: {currency: usd, models: {}}\n",
            "'usd' is not a currency code of three capital letters (USD, EUR)",
        ),
    ],
    ids=["alert-name", "currency"],
)
def test_a_pattern_is_explained_in_words(body: str, message: str) -> None:
    assert _one(body).message == message


def test_every_problem_of_an_item_that_may_be_text_or_a_mapping_is_reported() -> None:
    """A label, a variable or a retained series may be a name or a mapping: a mapping is
    checked as a mapping, and each of its problems is reported, not just the first."""
    found = _findings(
        "metrics:\n"
        "  - name: demo_requests_total\n    type: counter\n    help: R.\n"
        '    labels: [status, "2bad", {name: 9x, values: ok, max_values: x}]\n'  # line 7
        "retention:\n  series: [{metric: 5, by: task_type, extra: 1}]\n"  # line 9
        "dashboards:\n  - uid: d\n    title: D\n"
        "    variables: [task_type, {name: 5, multi: maybe, include_all: 3}]\n"  # line 13
        "    rows: [{title: R, panels: [{title: P, queries: [{expr: up}]}]}]\n"
    )
    assert sorted((f.span.line, ".".join(map(str, f.path)), f.code) for f in found) == [
        (7, "metrics.0.labels.1", "schema/pattern"),
        (7, "metrics.0.labels.2.max_values", "schema/type"),
        (7, "metrics.0.labels.2.name", "schema/pattern"),
        (7, "metrics.0.labels.2.values", "schema/type"),
        (9, "retention.series.0.by", "schema/type"),
        (9, "retention.series.0.extra", "schema/unknown-key"),
        (9, "retention.series.0.metric", "schema/type"),
        (13, "dashboards.0.variables.1.include_all", "schema/type"),
        (13, "dashboards.0.variables.1.multi", "schema/type"),
        (13, "dashboards.0.variables.1.name", "schema/type"),
    ]


@pytest.mark.parametrize(
    ("query", "key", "expected"),
    [
        ("{metric: demo_up, above: 3}", "above", "aggregation, by, function, legend, metric"),
        ("{expr: demo_up, legnd: x}", "legnd", "expr, legend"),
    ],
    ids=["structured", "raw"],
)
def test_a_panel_query_is_checked_as_the_kind_its_required_key_names(
    query: str, key: str, expected: str
) -> None:
    """A query with `metric` is structured and one with `expr` raw: the stray key is the
    problem, not the key that tells them apart."""
    finding = _one(
        "dashboards:\n  - uid: d\n    title: D\n    rows:\n      - title: R\n        panels:\n"
        f"          - title: P\n            queries: [{query}]\n"
    )
    assert finding.code == "schema/unknown-key"
    assert finding.path[-1] == key
    assert f"expected one of: {expected}" in finding.message


def test_a_misspelt_required_key_is_reported_once_as_the_unknown_key() -> None:
    """`sevrity` is one mistake: not also a missing `severity`."""
    found = _findings(
        "metrics: [{name: demo_up, type: gauge, help: Up.}]\nalerts:\n"
        "  - {name: A, sevrity: critical, summary: s, expr: demo_up == 0}\n"
        "  - {name: B, summary: s, expr: demo_up == 0}\n"
    )
    assert [(d.code, d.path, d.hint) for d in found] == [
        ("schema/unknown-key", ("alerts", 0, "sevrity"), "did you mean 'severity'?"),
        ("schema/required", ("alerts", 1), None),
    ]


def test_an_environment_may_not_include_choose_layers_or_nest() -> None:
    """Those act when the spec is read: in an environment they would be ignored."""
    found = _findings(
        "environments:\n  staging:\n    include: [extra.yaml]\n    layers: [infrastructure]\n"
        "    environments: {nested: {}}\n  Prod: {}\n"
    )
    assert sorted((d.span.line, d.span.column, d.code, d.path) for d in found) == [
        (5, 5, "schema/not", ("environments", "staging", "include")),
        (6, 5, "schema/not", ("environments", "staging", "layers")),
        (7, 5, "schema/not", ("environments", "staging", "environments")),
        (8, 3, "schema/pattern", ("environments", "Prod")),
    ]
