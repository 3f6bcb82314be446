"""What the generated rules mean: expressions read through the PromQL parse tree,
labels, annotations, links and names checked against the spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from monitorgen.promql import format_duration, inspect, parse
from monitorgen.rule_set import rule_groups
from monitorgen.targets.prometheus_rules import prometheus_rule_resource, rule_file

from .helpers import SHAPES, SPEC_PATHS, load_spec, rules_by_name, rules_of, spec_from_text

LLM = "specs/llm.yaml"
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")
#: What Prometheus, Mimir and Thanos all accept in a rule group and a rule.
PORTABLE_GROUP_KEYS = {"name", "interval", "rules"}
PORTABLE_RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


def only(rules: dict[str, list[dict[str, Any]]], name: str) -> dict[str, Any]:
    (rule,) = rules[name]
    return rule


def comparison(expr: str) -> tuple[Any, str, float]:
    """(left side, operator, threshold) of `left <op> number`."""
    tree = parse(expr)
    assert type(tree).__name__ == "BinaryExpr"
    assert type(tree.rhs).__name__ == "NumberLiteral"
    return tree.lhs, str(tree.op).strip(), tree.rhs.val


def unparen(node: Any) -> Any:
    while type(node).__name__ == "ParenExpr":
        node = node.expr
    return node


def test_a_structured_rate_alert_aggregates_by_the_declared_labels() -> None:
    rule = only(rules_by_name(load_spec(LLM)), "HighTokenUsage")
    left, op, threshold = comparison(rule["expr"])
    assert (op, threshold) == (">", 10000)
    assert rule["expr"].endswith("> 10000")
    assert (str(left.op).strip(), list(left.modifier.labels)) == ("sum", ["task_type"])
    call = left.expr
    assert call.func.name == "rate"
    (matrix,) = call.args
    assert (matrix.vector_selector.name, matrix.range.total_seconds()) == ("llm_tokens_total", 300)


def test_a_ratio_alert_divides_two_sums_over_the_same_window() -> None:
    """`(part or 0 * whole) / whole`: a part with no series yet is a share of 0."""
    rule = only(rules_by_name(load_spec(LLM)), "HighErrorRate")
    left, op, threshold = comparison(rule["expr"])
    assert (op, threshold) == (">", 0.05)
    division = unparen(left)
    assert str(division.op).strip() == "/"
    either = unparen(division.lhs)
    assert str(either.op).strip() == "or"
    zero_times = either.rhs
    assert (str(zero_times.op).strip(), zero_times.lhs.val) == ("*", 0)
    assert str(zero_times.rhs) == str(division.rhs)
    part, whole = inspect(str(either.lhs)), inspect(str(division.rhs))
    assert part.aggregations == whole.aggregations == (("sum", ("task_type",)),)
    (errors,) = part.selectors
    assert ("status", "=~", "error|timeout") in errors.labels
    assert inspect(str(division.rhs)).selectors[0].labels == ()
    ranges = {s.range.total_seconds() for s in (*part.selectors, *whole.selectors) if s.range}
    assert ranges == {300}


def test_a_quantile_alert_keeps_le_in_the_inner_sum() -> None:
    rule = only(rules_by_name(load_spec(LLM)), "HighLatency")
    left, op, threshold = comparison(rule["expr"])
    assert (left.func.name, op, threshold) == ("histogram_quantile", ">", 5)
    quantile, inner = left.args
    assert quantile.val == 0.95
    assert set(inner.modifier.labels) == {"le", "task_type"}


@pytest.mark.parametrize(
    ("alert", "aggregation", "function"),
    [("Freezing", "min", "min_over_time"), ("Warm", "avg", "avg_over_time")],
)
def test_a_gauge_over_time_aggregates_as_its_function_unless_told(
    alert: str, aggregation: str, function: str
) -> None:
    """Replicas reporting one gauge: their lowest minimum, not the sum of minimums."""
    spec = load_spec(SHAPES)
    (query,) = (a.query for a in spec.alerts if a.name == alert)
    assert query is not None and query.function.value == function
    left, _, _ = comparison(only(rules_by_name(spec), alert)["expr"])
    assert (str(left.op).strip(), left.expr.func.name) == (aggregation, function)


def test_thresholds_are_written_as_the_spec_states_them() -> None:
    rules = rules_by_name(load_spec("tests/specs/http_api.yaml"))
    assert only(rules, "HttpSlowRequests")["expr"].endswith("> 1.5")
    assert only(rules, "HttpHighErrorRate")["expr"].endswith("> 0.05")
    assert only(rules_by_name(load_spec(LLM)), "QualityDegradation")["expr"].endswith("< 0.8")


def test_raw_promql_passes_through_unchanged() -> None:
    spec = load_spec("tests/specs/queue_worker.yaml")
    rules = rules_by_name(spec)
    for name in ("JobFailuresHigh", "NoRecentSuccess"):
        alert = spec.alert(name)
        assert alert is not None
        assert only(rules, name)["expr"] == alert.expr


@pytest.mark.parametrize("spec_path", SPEC_PATHS)
def test_every_alert_carries_severity_service_and_the_annotations_on_call_needs(
    spec_path: str,
) -> None:
    spec = load_spec(spec_path)
    rules = rules_by_name(spec)
    for alert in spec.alerts:
        rule = only(rules, alert.name)
        assert rule["labels"]["severity"] == alert.severity.value
        assert rule["labels"]["service"] == spec.service
        assert {k: rule["labels"][k] for k, _ in alert.labels} == dict(alert.labels)
        assert rule["annotations"]["summary"] == alert.summary
        assert rule["annotations"]["description"] == alert.description
        assert rule["annotations"]["runbook_url"] == alert.runbook_url
        assert rule.get("for", "0s") == alert.for_


def test_an_alert_links_to_the_panel_that_draws_it() -> None:
    rules = rules_by_name(load_spec("tests/specs/queue_worker.yaml"))
    link = "https://grafana.example.com/d/billing-worker?viewPanel={}"
    # Rows: Throughput (1: panels 2, 3), Backlog (4: panels 5, 6), Duration (7: panel 8).
    assert only(rules, "QueueBacklog")["annotations"]["dashboard"] == link.format(5)
    assert only(rules, "NoRecentSuccess")["annotations"]["dashboard"] == link.format(6)
    assert only(rules, "SlowJobs")["annotations"]["dashboard"] == link.format(8)
    assert "dashboard" not in only(rules, "WorkerStalled")["annotations"]


@pytest.mark.parametrize("spec_path", SPEC_PATHS)
def test_groups_and_rules_use_only_fields_every_ruler_accepts(spec_path: str) -> None:
    spec = load_spec(spec_path)
    groups = rules_of(spec)["groups"]
    assert len({g["name"] for g in groups}) == len(groups)
    for group in groups:
        assert set(group) == PORTABLE_GROUP_KEYS
        assert group["interval"] == spec.prometheus.evaluation_interval
        for rule in group["rules"]:
            assert set(rule) <= PORTABLE_RULE_KEYS
            assert ("alert" in rule) != ("record" in rule)


@pytest.mark.parametrize("spec_path", SPEC_PATHS)
def test_generated_recordings_are_named_level_metric_operations(spec_path: str) -> None:
    spec = load_spec(spec_path)
    (group,) = [g for g in rules_of(spec)["groups"] if g["name"].endswith(".aggregations")]
    for rule in group["rules"]:
        level, metric, operations = rule["record"].split(":")
        assert RECORD_NAME.match(rule["record"])
        facts = inspect(rule["expr"])
        by = facts.aggregations[-1][1] if facts.aggregations else ()
        if "histogram_quantile" in facts.functions:
            by = tuple(label for label in by if label != "le")
        kept = [*by, *rule.get("labels", {})]
        assert level == "_".join(kept), rule
        assert not metric.endswith("_total")
        windows = {format_duration(s.range) for s in facts.selectors if s.range}
        assert any(operations.endswith(w) for w in windows) or "histogram_quantile" in operations


def test_the_aggregations_cover_token_rates_cost_per_hour_and_latency_quantiles() -> None:
    rules = rules_by_name(load_spec(LLM))
    tokens = only(rules, "job_task_type_token_type_model:llm_tokens:rate5m")
    assert inspect(tokens["expr"]).aggregations == (
        ("sum", ("job", "task_type", "token_type", "model")),
    )
    per_hour = only(rules, "job_task_type:llm_cost_usd_per_hour:rate5m")
    product = parse(per_hour["expr"])
    assert (str(product.op).strip(), product.rhs.val) == ("*", 3600)
    assert inspect(str(product.lhs)).aggregations == (("sum", ("job", "task_type")),)
    quantiles = rules["job_quantile:llm_latency_seconds:histogram_quantile_rate5m"]
    assert sorted(r["labels"]["quantile"] for r in quantiles) == ["0.5", "0.99"]
    for rule in quantiles:
        (source,) = inspect(rule["expr"]).selectors
        assert source.name == "job_task_type_model_le:llm_latency_seconds_bucket:rate5m"


def test_alerts_keep_their_own_expressions_rather_than_recorded_series() -> None:
    """An alert reads raw series so it needs no other group to have run first."""
    for spec_path in SPEC_PATHS:
        spec = load_spec(spec_path)
        for alert in spec.alerts:
            names = inspect(only(rules_by_name(spec), alert.name)["expr"]).metric_names
            assert not any(":" in name for name in names)


def test_the_prometheus_rule_resource_wraps_the_same_groups() -> None:
    spec = load_spec("tests/specs/http_api.yaml")
    resource = prometheus_rule_resource(spec)
    assert (resource["apiVersion"], resource["kind"]) == (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
    )
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", resource["metadata"]["name"])
    assert resource["metadata"]["labels"]["app.kubernetes.io/name"] == "http_api"
    assert resource["spec"] == rule_file(spec)


def test_output_is_deterministic() -> None:
    spec = load_spec(LLM)
    assert rule_file(spec) == rule_file(spec)
    assert repr(rule_file(spec)) == repr(rule_file(load_spec(LLM)))


def test_an_alert_without_description_states_value_threshold_and_series() -> None:
    from dataclasses import replace

    from monitorgen.rule_set import alert_rule

    spec = load_spec("tests/specs/http_api.yaml")
    structured, raw = spec.alert("HttpSlowRequests"), spec.alert("HttpTargetDown")
    assert structured is not None and raw is not None
    described = alert_rule(spec, replace(structured, description="")).annotation_map()
    assert described["description"] == (
        "Requests are slow: {{ $value | humanizeDuration }} (threshold > 1.5) "
        "for route {{ $labels.route }}."
    )
    ratio = spec.alert("HttpHighErrorRate")
    assert ratio is not None
    described = alert_rule(spec, replace(ratio, description="")).annotation_map()
    assert "{{ $value | humanizePercentage }} (threshold > " in described["description"]
    described = alert_rule(spec, replace(raw, description="")).annotation_map()
    assert described["description"] == (
        "The API cannot be scraped: {{ $value | humanize }} "
        "for instance {{ $labels.instance }}, job {{ $labels.job }}."
    )


def test_a_default_description_leaves_out_what_the_summary_already_shows() -> None:
    from dataclasses import replace

    from monitorgen.rule_set import alert_rule

    spec = load_spec("tests/specs/http_api.yaml")
    structured = spec.alert("HttpSlowRequests")
    assert structured is not None
    summary = "{{ $labels.route }} answers in {{ $value | humanizeDuration }}"
    described = alert_rule(spec, replace(structured, summary=summary, description=""))
    assert described.annotation_map()["description"] == f"{summary} (threshold > 1.5)."


def test_a_default_description_shows_a_ratio_gauge_as_a_percentage(tmp_path: Path) -> None:
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: disk\n"
        "metrics:\n  - {name: disk_used_ratio, type: gauge, help: Share of the disk in use.}\n"
        "alerts:\n  - name: DiskFull\n    severity: warning\n    summary: The disk fills up.\n"
        "    condition: {metric: disk_used_ratio, above: 0.9}\n",
    )
    (group,) = [g for g in rule_groups(spec) if g.path == ("alerts",)]
    (rule,) = group.rules
    assert rule.annotation_map()["description"] == (
        "The disk fills up: {{ $value | humanizePercentage }} (threshold > 0.9)."
    )


def test_a_raw_expression_a_condition_compiles_to_is_described_as_that_condition(
    tmp_path: Path,
) -> None:
    """5.1% of requests failing read "51m" through humanize, with no threshold."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: edge\n"
        "metrics:\n  - name: edge_requests_total\n    type: counter\n    help: Requests.\n"
        "    labels: [{name: code, values: [2xx, 5xx]}, pop]\n"
        "alerts:\n  - name: EdgeErrors\n    severity: warning\n    summary: 5xx at the edge.\n"
        '    expr: (sum by (pop) (rate(edge_requests_total{code="5xx"}[5m])) or 0 * sum by '
        "(pop) (rate(edge_requests_total[5m]))) / sum by (pop) (rate(edge_requests_total[5m]))"
        " > 0.05\n",
    )
    (group,) = [g for g in rule_groups(spec) if g.path == ("alerts",)]
    (rule,) = group.rules
    assert rule.annotation_map()["description"] == (
        "5xx at the edge: {{ $value | humanizePercentage }} (threshold > 0.05) "
        "for pop {{ $labels.pop }}."
    )


@pytest.mark.parametrize(
    ("condition", "guarded"),
    [
        ("{metric: g_runs_total, where: {status: ok}, below: 1}", True),
        ("{metric: g_runs_total, function: increase, where: {status: ok}, below: 1}", True),
        ("{metric: g_runs_total, where: {status: ok}, above: 1}", False),  # no events: quiet
        ("{metric: g_runs_total, below: 1}", False),  # no where: nothing to count as 0
        ("{metric: g_runs_total, by: [job_name], where: {job_name: a}, below: 1}", False),
        ("{metric: g_level, where: {status: ok}, below: 1}", False),  # a gauge reads levels
    ],
)
def test_only_a_below_on_events_a_where_picks_gets_the_zero_guard(
    tmp_path: Path, condition: str, guarded: bool
) -> None:
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: g\n"
        "metrics:\n  - {name: g_runs_total, type: counter, help: R., labels: [status, job_name]}\n"
        "  - {name: g_level, type: gauge, help: L., labels: [status]}\n"
        f"alerts:\n  - {{name: G, severity: warning, summary: s, condition: {condition}}}\n",
    )
    (alert,) = spec.alerts
    assert (" or 0 * " in alert.expr) == guarded
