"""Semantic checks of schema-valid specs: names, references, PromQL use, events."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitorgen import pipeline
from monitorgen.diagnostics import Diagnostic, Severity

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("tests/specs/*.yaml")])

METRICS = """\
version: 1
service: demo
external_metrics: [node_load1]
metrics:
  - name: demo_requests_total
    type: counter
    help: Requests handled.
    labels:
      - name: status
        values: [ok, error]
  - name: demo_duration_seconds
    type: histogram
    help: Request duration.
    buckets: [0.1, 0.5, 1, 5]
  - name: demo_in_flight
    type: gauge
    help: Requests in flight.
recording_rules:
  - record: demo:requests:rate5m
    expr: sum(rate(demo_requests_total[5m]))
"""


def _findings(tmp_path: Path, body: str) -> list[Diagnostic]:
    spec = tmp_path / "demo.yaml"
    spec.write_text(METRICS + body, encoding="utf-8")
    [compiled] = pipeline.compile_spec(spec)
    assert compiled.spec is not None, compiled.diagnostics  # schema-valid by construction
    return compiled.diagnostics


def _codes(found: list[Diagnostic], severity: Severity = Severity.ERROR) -> list[str]:
    return [d.code for d in found if d.severity == severity]


@pytest.mark.parametrize("spec", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_specs_have_no_semantic_errors(spec: Path) -> None:
    for compiled in pipeline.compile_spec(spec):
        assert compiled.ok, [f"{d.span} {d.code} {d.message}" for d in compiled.diagnostics]


def _alert(expr: str) -> str:
    return f"alerts:\n  - name: DemoAlert\n    severity: info\n    summary: s\n    expr: '{expr}'\n"


@pytest.mark.parametrize(
    "expr",
    [
        'sum(rate(demo_requests_total{status="error"}[5m])) > 1',
        "histogram_quantile(0.9, sum by (le) (rate(demo_duration_seconds_bucket[5m]))) > 1",
        'sum(increase(demo_duration_seconds_count{job="demo", instance="a"}[1h])) < 1',
        "demo:requests:rate5m > 10",
        "node_load1 > 4",
        "up == 0",
        "max(demo_in_flight) > 100",
        'ALERTS{alertstate="firing"} > 0',
        "absent(demo_requests_total)",
        "absent_over_time(demo_requests_total[1h])",
        "time() - max(timestamp(demo_requests_total)) > 3600",
        "changes(demo_requests_total[1h]) > 100",
    ],
    ids=[
        "counter",
        "bucket-le",
        "target-labels",
        "recorded",
        "external",
        "up",
        "gauge",
        "ALERTS",
        "absent-counter",
        "absent-over-time-counter",
        "timestamp-counter",
        "changes-counter",
    ],
)
def test_expressions_over_declared_series_are_accepted(tmp_path: Path, expr: str) -> None:
    assert _codes(_findings(tmp_path, _alert(expr))) == []


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("demo_duration_seconds_count > 1", "promql/counter-outside-rate"),
        ("sum(demo_requests_total) > 1", "promql/counter-outside-rate"),
        ('rate(demo_requests_total{route="/"}[5m]) > 1', "promql/unknown-label"),
        ("rate(demo_request_total[5m]) > 1", "promql/unknown-metric"),
        ("sum(rate(demo_requests_total[5m]) > 1", "promql/syntax"),
    ],
)
def test_expressions_that_misuse_series_are_errors(tmp_path: Path, expr: str, code: str) -> None:
    found = _findings(tmp_path, _alert(expr))
    assert code in _codes(found)
    finding = next(d for d in found if d.code == code)
    assert finding.path == ("alerts", 0, "expr")
    assert (finding.span.line, finding.span.column) == (25, 11)


def test_a_summarys_quantile_label_may_be_selected_with_a_warning(tmp_path: Path) -> None:
    """Client libraries label each of a summary's quantile series `quantile`; the
    Python client the generated module uses records none, which a warning says."""
    summary = (
        "  - {name: demo_wait_seconds, type: summary, help: Wait., labels: [{name: status}]}\n"
    )
    text = METRICS.replace("metrics:\n", "metrics:\n" + summary, 1)
    spec = tmp_path / "demo.yaml"
    spec.write_text(text + _alert('max(demo_wait_seconds{quantile="0.99"}) > 2'))
    [compiled] = pipeline.compile_spec(spec)
    assert _codes(compiled.diagnostics) == []
    [warning] = [d for d in compiled.diagnostics if d.code == "promql/summary-quantile"]
    assert warning.severity is Severity.WARNING
    assert "exposes only its _sum and _count" in warning.message
    spec.write_text(text + _alert('max(demo_wait_seconds_count{quantile="0.99"}) > 2'))
    [compiled] = pipeline.compile_spec(spec)
    assert "promql/unknown-label" in _codes(compiled.diagnostics)


def test_a_dashboard_query_that_does_not_parse_is_shown_as_written_at_its_expr(
    tmp_path: Path,
) -> None:
    """Checked with Grafana's variables filled in, but reported as the user wrote it."""
    found = _findings(
        tmp_path,
        "dashboards:\n  - uid: d\n    title: D\n    rows:\n      - title: R\n        panels:\n"
        "          - title: P\n            queries:\n"
        "              - expr: 'sum(rate(demo_requests_total{route=~\"$route\"}[$__range])'\n",
    )
    (syntax,) = [d for d in found if d.code == "promql/syntax"]
    assert syntax.path == ("dashboards", 0, "rows", 0, "panels", 0, "queries", 0, "expr")
    assert syntax.hint == 'expression: sum(rate(demo_requests_total{route=~"$route"}[$__range])'
    assert (syntax.span.line, syntax.span.column) == (29, 23)


@pytest.mark.parametrize(
    ("expr", "flagged"),
    [
        ("max(demo_in_flight)", True),
        ("max(demo_in_flight) and demo_in_flight > 3", True),
        ("absent(demo_in_flight) or max(demo_in_flight)", True),
        ("max(demo_in_flight) > 3", False),
        ("max(demo_in_flight) > bool 3", True),  # 0 or 1 for every series: fires always
        ("demo_in_flight > 3 and demo_in_flight < 10", False),
        ("demo_in_flight > 3 unless demo_in_flight > 100", False),
        ("absent(demo_in_flight == 1)", False),
        ("absent(demo_in_flight) or demo_in_flight > 3", False),
    ],
)
def test_an_alert_is_flagged_unless_every_branch_compares_or_tests_absence(
    tmp_path: Path, expr: str, flagged: bool
) -> None:
    found = _findings(tmp_path, _alert(expr))
    assert _codes(found) == []
    assert ("promql/alert-comparison" in _codes(found, Severity.WARNING)) is flagged


def test_a_structured_query_problem_is_reported_once_at_its_field(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_duration_seconds, by: [route], above: 1}\n",
    )
    assert [(d.code, d.path) for d in found if d.severity == Severity.ERROR] == [
        ("references/unknown-label", ("alerts", 0, "condition", "by", 0))
    ]


def test_a_structured_query_may_group_and_filter_by_the_scrape_labels(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_in_flight, by: [instance, job], "
        "where: {job: demo}, above: 1}\n",
    )
    assert _codes(found) == []


@pytest.mark.parametrize(
    "where",
    ["where: {status: other}", 'expr: sum(rate(demo_requests_total{status="other"}[5m])) > 1'],
)
def test_the_value_the_module_records_for_any_other_may_be_selected(
    tmp_path: Path, where: str
) -> None:
    """The module records a value outside `values` as `other`: an alert on unexpected
    statuses selects it, and its query can match."""
    condition = (
        f"    condition: {{metric: demo_requests_total, {where}, above: 1}}\n"
        if where.startswith("where")
        else f"    {where}\n"
    )
    found = _findings(
        tmp_path, "alerts:\n  - name: A\n    severity: info\n    summary: s\n" + condition
    )
    assert [d.code for d in found if d.code == "references/label-value"] == []


def test_a_label_value_outside_the_declared_values_is_a_warning(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, "
        "where: {status: timeout}, above: 0.1}\n",
    )
    assert _codes(found) == []
    [warning] = [d for d in found if d.code == "references/label-value"]
    assert warning.severity == Severity.WARNING
    assert warning.path == ("alerts", 0, "condition", "where", "status")


@pytest.mark.parametrize(
    ("expr", "warned"),
    [
        ('sum(rate(demo_requests_total{status="timeout"}[5m])) > 1', True),
        ('sum(rate(demo_requests_total{status="error"}[5m])) > 1', False),
        ('sum(rate(demo_requests_total{status=~"timeout|error"}[5m])) > 1', False),
        ('sum(rate(demo_requests_total{status=""}[5m])) > 1', False),
    ],
)
def test_a_raw_selector_for_an_undeclared_label_value_is_a_warning(
    tmp_path: Path, expr: str, warned: bool
) -> None:
    found = _findings(tmp_path, _alert(expr))
    assert _codes(found) == []
    warnings = [d for d in found if d.code == "references/label-value"]
    assert [d.path for d in warnings] == ([("alerts", 0, "expr")] if warned else [])


@pytest.mark.parametrize(
    ("threshold", "warned"),
    [
        ("above: 5", True),
        ("above: 1", True),
        ("below: 0", True),
        ("above: 0.05", False),
        ("below: 0.9", False),
        ("above: 5, scale: 100", False),
    ],
)
def test_a_ratio_threshold_no_share_reaches_is_a_warning(
    tmp_path: Path, threshold: str, warned: bool
) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, "
        f"where: {{status: error}}, {threshold}}}\n",
    )
    assert _codes(found) == []
    assert ("references/unreachable-threshold" in _codes(found, Severity.WARNING)) is warned


@pytest.mark.parametrize(
    ("part", "total", "message_part"),
    [
        ("[error]", "[ok]", "the part counts only events the total does not"),
        ("[error, ok]", "[ok]", "the ratio can exceed 1"),
    ],
)
def test_a_part_the_total_does_not_count_is_a_warning(
    tmp_path: Path, part: str, total: str, message_part: str
) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, "
        f"where: {{status: {part}}}, total_where: {{status: {total}}}, above: 0.1}}\n"
        "slos:\n  - name: availability\n    objective: 99\n    sli:\n      ratio:\n"
        f"        errors: {{metric: demo_requests_total, where: {{status: {part}}}}}\n"
        f"        total: {{metric: demo_requests_total, where: {{status: {total}}}}}\n",
    )
    assert _codes(found) == []
    warnings = [d for d in found if d.code == "references/part-outside-total"]
    assert [d.path for d in warnings] == [
        ("alerts", 0, "condition", "where", "status"),
        ("slos", 0, "sli", "ratio", "errors", "where", "status"),
    ]
    assert all(message_part in d.message and "status=error" in d.message for d in warnings)


def test_a_part_inside_its_total_is_not_flagged(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "slos:\n  - name: availability\n    objective: 99\n    sli:\n      ratio:\n"
        "        errors: {metric: demo_requests_total, where: {status: error}}\n"
        "        total: {metric: demo_requests_total, where: {status: [ok, error]}}\n",
    )
    assert "references/part-outside-total" not in [d.code for d in found]


@pytest.mark.parametrize(
    ("query", "field", "severity"),
    [
        ("{metric: demo_requests_total, function: rate, quantile: 0.99}", "quantile", "error"),
        ("{metric: demo_requests_total, total_where: {status: ok}}", "total_where", "error"),
        ("{metric: demo_duration_seconds, aggregation: max}", "aggregation", "error"),
        (
            "{metric: demo_requests_total, function: ratio, where: {status: error}, "
            "aggregation: avg}",
            "aggregation",
            "error",
        ),
        ("{metric: demo_in_flight, function: value, window: 10m}", "window", "warning"),
    ],
)
def test_a_query_field_its_function_ignores_is_reported_at_that_field(
    tmp_path: Path, query: str, field: str, severity: str
) -> None:
    """The query would compile without the field, to something else than it says."""
    condition = query[:-1] + ", above: 1}"
    found = _findings(
        tmp_path,
        f"alerts:\n  - name: A\n    severity: info\n    summary: s\n    condition: {condition}\n"
        "dashboards:\n  - uid: d\n    title: D\n    rows:\n      - title: R\n        panels:\n"
        f"          - title: P\n            queries: [{query}]\n",
    )
    unused = [d for d in found if d.code == "references/unused-field"]
    assert [(d.path, d.severity.label) for d in unused] == [
        (("alerts", 0, "condition", field), severity),
        (("dashboards", 0, "rows", 0, "panels", 0, "queries", 0, field), severity),
    ]
    assert all(f"'{field}' has no effect" in d.message for d in unused)


def test_query_fields_set_to_what_the_function_reads_are_not_flagged(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_duration_seconds, quantile: 0.99, window: 10m, above: 1}\n"
        "  - name: B\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, where: {status: error}, "
        "total_where: {status: [ok, error]}, above: 0.1}\n"
        "  - name: C\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_in_flight, function: max_over_time, aggregation: max, "
        "window: 10m, above: 5}\n",
    )
    assert "references/unused-field" not in [d.code for d in found]


@pytest.mark.parametrize(
    ("metric", "code"),
    [
        ("{name: demo_latency_milliseconds, type: histogram, help: h}", "names/base-unit"),
        ("{name: demo_size, type: gauge, help: h, unit: bytes}", "names/unit-suffix"),
    ],
)
def test_naming_conventions_that_only_warn(tmp_path: Path, metric: str, code: str) -> None:
    spec = tmp_path / "demo.yaml"
    spec.write_text(f"version: 1\nservice: demo\nmetrics:\n  - {metric}\n", encoding="utf-8")
    [compiled] = pipeline.compile_spec(spec)
    assert compiled.ok
    assert code in _codes(compiled.diagnostics, Severity.WARNING)


def test_every_semantic_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        """\
alerts:
  - name: A
    severity: info
    summary: s
    expr: rate(demo_nope_total[5m]) > 1
  - name: A
    severity: info
    summary: s
    condition: {metric: demo_in_flight, function: rate, above: 1}
events:
  - name: request
    fields: [{name: seconds, type: float}]
    updates:
      - {metric: demo_duration_seconds, observe: duration}
receivers: [{name: team, webhook: [{url: "https://x.example"}]}]
routing:
  receiver: teams
""",
    )
    errors = sorted((d.span.line, d.code) for d in found if d.severity == Severity.ERROR)
    assert errors == [
        (25, "promql/unknown-metric"),
        (26, "names/duplicate"),
        (29, "references/function"),
        (34, "events/unknown-field"),
        (37, "references/unknown-receiver"),
    ]


def test_a_finding_environments_inherit_unchanged_is_reported_once(tmp_path: Path) -> None:
    spec = tmp_path / "demo.yaml"
    spec.write_text(
        "version: 1\nservice: demo\n"
        "metrics:\n  - {name: demo_latency_milliseconds, type: histogram, help: Latency.}\n"
        "  - {name: demo_size, type: gauge, help: Size.}\n"
        "environments:\n  production: {}\n"
        "  staging:\n    metrics:\n      - {name: demo_size, unit: bytes}\n",
        encoding="utf-8",
    )
    found = pipeline.build([spec], render=False).diagnostics
    assert [(d.code, d.message.endswith("(environment staging)")) for d in found] == [
        ("names/base-unit", False),
        ("names/unit-suffix", True),
    ]


def test_alerts_may_share_a_name_when_their_severities_differ(tmp_path: Path) -> None:
    tier = "condition: {metric: demo_in_flight, above: LIMIT}"
    found = _findings(
        tmp_path,
        "alerts:\n"
        f"  - {{name: Busy, severity: warning, summary: s, {tier.replace('LIMIT', '10')}}}\n"
        f"  - {{name: Busy, severity: critical, summary: s, {tier.replace('LIMIT', '50')}}}\n"
        f"  - {{name: Busy, severity: critical, summary: s, {tier.replace('LIMIT', '90')}}}\n",
    )
    duplicates = [d for d in found if d.code == "names/duplicate"]
    assert [(d.path, d.message) for d in duplicates] == [
        (
            ("alerts", 2),
            "duplicate alert 'Busy' of severity 'critical' "
            f"(first defined at alerts[1], line {METRICS.count(chr(10)) + 3})",
        )
    ]


def test_a_duplicate_metric_is_reported_alone_and_references_read_the_first(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "demo.yaml"
    again = "  - {name: demo_requests_total, type: counter, help: Again.}\nrecording_rules:"
    spec.write_text(
        METRICS.replace("recording_rules:", again)
        + "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, "
        "where: {status: error}, above: 0.1}\n",
        encoding="utf-8",
    )
    [compiled] = pipeline.compile_spec(spec)
    errors = [d for d in compiled.diagnostics if d.severity == Severity.ERROR]
    assert [(d.code, d.path) for d in errors] == [("names/duplicate", ("metrics", 3))]


def test_a_counter_read_by_value_in_a_condition_is_reported_once(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: value, above: 5}\n",
    )
    assert [d.code for d in found if "counter-outside-rate" in d.code] == [
        "promql/counter-outside-rate"
    ]


@pytest.mark.parametrize(
    ("condition", "warned"),
    [
        ("{metric: demo_duration_seconds, quantile: 0.99, above: 5}", True),
        ("{metric: demo_duration_seconds, quantile: 0.99, above: 4.9}", False),
        ("{metric: demo_duration_seconds, quantile: 0.99, scale: 1000, above: 5000}", True),
        ("{metric: demo_duration_seconds, quantile: 0.99, scale: 1000, above: 4000}", False),
        ("{metric: demo_duration_seconds, quantile: 0.99, below: 0}", True),
    ],
)
def test_a_quantile_threshold_past_the_highest_bucket_is_a_warning(
    tmp_path: Path, condition: str, warned: bool
) -> None:
    """histogram_quantile never returns more than the highest finite bucket bound (5)."""
    found = _findings(
        tmp_path,
        f"alerts:\n  - name: A\n    severity: info\n    summary: s\n    condition: {condition}\n",
    )
    assert _codes(found) == []
    assert ("references/unreachable-threshold" in _codes(found, Severity.WARNING)) is warned


def test_a_ratio_grouped_by_the_label_its_part_selects_is_a_warning(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, where: {status: error}, "
        "by: [job, status], above: 0.1}\n",
    )
    (warning,) = [d for d in found if d.code == "references/ratio-split-by-part"]
    assert warning.path == ("alerts", 0, "condition", "by", 1)
    assert "every share is 1 or 0" in warning.message


def test_a_total_filtered_on_a_label_the_part_leaves_open_is_a_warning(tmp_path: Path) -> None:
    """Errors of every job over the requests of one job: the other jobs' errors count."""
    found = _findings(
        tmp_path,
        "slos:\n  - name: availability\n    objective: 99\n    sli:\n      ratio:\n"
        "        errors: {metric: demo_requests_total, where: {status: error}}\n"
        "        total: {metric: demo_requests_total, where: {job: api}}\n"
        "alerts:\n  - name: A\n    severity: info\n    summary: s\n"
        "    condition: {metric: demo_requests_total, function: ratio, where: {status: error}, "
        "total_where: {job: api}, above: 0.1}\n",
    )
    warnings = [d for d in found if d.code == "references/part-outside-total"]
    assert sorted((d.path, d.hint) for d in warnings) == [
        (("alerts", 0, "condition", "where"), "add job: api to the part's where"),
        (("slos", 0, "sli", "ratio", "errors", "where"), "add job: api to the part's where"),
    ]
    assert all("the total counts only job=api, the part every job" in d.message for d in warnings)


def test_a_variable_names_a_metric_that_has_its_label(tmp_path: Path) -> None:
    """`label_values(metric, label)` of a metric without the label is an empty dropdown."""
    found = _findings(
        tmp_path,
        "dashboards:\n  - uid: d\n    title: D\n    variables:\n"
        "      - {name: status, metric: demo_in_flight}\n"
        "      - {name: status, metric: demo_request_total}\n"
        "      - {name: status, metric: demo_requests_total}\n"
        "      - {name: instance, metric: demo_in_flight}\n"
        "    rows:\n      - title: R\n        panels:\n"
        "          - {title: P, queries: [{metric: demo_requests_total, by: [status]}]}\n",
    )
    errors = [(d.code, d.path) for d in found if d.code.startswith("references/")]
    assert errors == [
        ("references/unknown-label", ("dashboards", 0, "variables", 0, "name")),
        ("references/unknown-metric", ("dashboards", 0, "variables", 1, "metric")),
    ]


@pytest.mark.parametrize(
    ("condition", "verdict"),
    [
        ("{metric: demo_requests_total, below: 0}", "the alert never fires"),
        ("{metric: demo_requests_total, above: -1}", "the alert always fires"),
        ("{metric: demo_duration_seconds, above: -0.5}", "the alert always fires"),
        ("{metric: demo_requests_total, above: 0}", None),
        ("{metric: demo_in_flight, below: 0}", None),  # a gauge may go negative
    ],
)
def test_a_threshold_on_the_wrong_side_of_zero_is_a_warning(
    tmp_path: Path, condition: str, verdict: str | None
) -> None:
    found = _findings(
        tmp_path,
        f"alerts:\n  - name: A\n    severity: info\n    summary: s\n    condition: {condition}\n",
    )
    said = [d.message for d in found if d.code == "references/unreachable-threshold"]
    if verdict is None:
        assert said == []
    else:
        (message,) = said
        assert verdict in message
