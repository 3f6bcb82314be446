"""Raw PromQL that a structured condition compiles to is read back as that condition,
and anything else is left raw."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.synthetic import generate
from monitorgen.model import Alert, Spec
from monitorgen.pipeline import compile_spec
from monitorgen.promql import compile_query, with_threshold
from monitorgen.rule_inputs import NotDerivable
from monitorgen.structured_form import structured_form
from monitorgen.targets.promtool_tests import alert_test_groups, timeline

from .helpers import SHAPES, SPEC_PATHS, load_spec


def _compiled_back(spec: Spec, expr: str) -> str | None:
    form = structured_form(spec, expr)
    if form is None:
        return None
    metric = spec.metric(form.query.metric)
    assert metric is not None
    return with_threshold(compile_query(form.query, metric), form.threshold)


def _structured_alerts(tmp_path: Path) -> list[tuple[Spec, Alert]]:
    specs = [load_spec(path) for path in (*SPEC_PATHS, SHAPES)]
    (synthetic, *_) = compile_spec(generate(100).write(tmp_path))
    assert synthetic.spec is not None
    specs.append(synthetic.spec)
    return [(spec, alert) for spec in specs for alert in spec.alerts if alert.query is not None]


def test_every_structured_condition_is_read_back_from_its_expression(tmp_path: Path) -> None:
    pairs = _structured_alerts(tmp_path)
    assert len(pairs) > 400
    for spec, alert in pairs:
        form = structured_form(spec, alert.expr)
        assert form is not None, alert.expr
        assert form.query == alert.query, alert.expr
        assert alert.threshold is not None and form.labels == ()
        assert (form.threshold.comparison, form.threshold.value) == (
            alert.threshold.comparison,
            alert.threshold.value,
        )
        assert _compiled_back(spec, alert.expr) == alert.expr


@pytest.mark.parametrize(
    "expr",
    [
        'sum(rate(shapes_events_total{kind="good"}[5m])) by (shard) > 1e1',
        'sum by(shard)(rate(shapes_events_total{kind="good"}[5m]))>10',
        '(sum by (shard) (rate(shapes_events_total{kind="good"}[5m]))) > 10',
        "max(shapes_temperature_celsius) > 30",
        "sum(increase(shapes_events_total[300s])) < 5",
        "sum(rate(shapes_events_total[5m])) * 60 > 100",
        '(sum(rate(shapes_events_total{kind="bad"}[5m])))'
        " / (sum(rate(shapes_events_total[5m]))) > 0.1",
        "histogram_quantile(0.9, sum by (le) (rate(shapes_wait_seconds_bucket[5m]))) * 1000 > 250",
        "histogram_quantile(0.9, sum by (job, le) (rate(shapes_wait_seconds_bucket[5m]))) > 1",
        'sum(rate(shapes_events_total{kind="bad"}[5m]))'
        " / (sum(rate(shapes_events_total[5m])) > 0) > 0.1",
        '(sum(rate(shapes_events_total{kind="bad"}[5m])) or 0 * sum(rate(shapes_events_total[5m])))'
        " / (sum(rate(shapes_events_total[5m])) > 0) > 0.1",
    ],
)
def test_how_the_expression_is_spaced_or_bracketed_does_not_matter(expr: str) -> None:
    spec = load_spec(SHAPES)
    assert structured_form(spec, expr) is not None


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("rate(shapes_events_total[5m]) > 1", "per series, not aggregated"),
        ("sum(rate(shapes_events_total[5m])) >= 1", "a comparison a condition lacks"),
        ("sum(rate(shapes_events_total[5m])) > bool 1", "a 0/1 result, not a filter"),
        ('sum(rate(shapes_events_total{kind!="good"}[5m])) > 1', "a negative matcher"),
        ('sum(rate(shapes_events_total{kind=~"g.*"}[5m])) > 1', "a pattern, not values"),
        ("sum(rate(shapes_events_total[5m] offset 1h)) > 1", "an offset"),
        ("sum without (kind) (rate(shapes_events_total[5m])) > 1", "without, not by"),
        ("topk(3, rate(shapes_events_total[5m])) > 1", "an aggregation with a parameter"),
        ("sum(rate(undeclared_total[5m])) > 1", "an undeclared metric"),
        ("sum(rate(shapes_temperature_celsius[5m])) > 1", "rate over a gauge"),
        ("max(shapes_events_total) > 1", "a counter's raw value"),
        (
            "sum(rate(shapes_events_total[5m])) / sum(rate(shapes_wait_seconds_count[5m])) > 1",
            "a ratio of two metrics",
        ),
        (
            'sum(rate(shapes_events_total{kind="bad"}[5m]))'
            " / sum(rate(shapes_events_total[1m])) > 1",
            "a ratio over two windows",
        ),
        ("sum(rate(shapes_events_total[5m])) * 2 * 3 > 1", "two scales"),
        ("1 < sum(rate(shapes_events_total[5m]))", "the threshold first"),
        ("histogram_quantile(0.9, sum(rate(shapes_wait_seconds_bucket[5m]))) > 1", "no le"),
        ("sum((rate(shapes_events_total[5m]))) > 1", "brackets inside the query"),
        (
            "histogram_quantile(0, sum by (le) (rate(shapes_wait_seconds_bucket[5m]))) > 1",
            "quantile 0",
        ),
        ("sum(rate(shapes_events_total[5m]) > 1", "no parse"),
        (
            'sum(rate(shapes_events_total{kind="bad"}[5m]))'
            " / (sum(rate(shapes_events_total[5m])) > 1) > 0.1",
            "a denominator filtered at another value than 0",
        ),
        (
            'sum(rate(shapes_events_total{kind="bad"}[5m]))'
            " / (sum(rate(shapes_events_total[5m])) > bool 0) > 0.1",
            "a division by a 0/1 result",
        ),
    ],
)
def test_anything_else_stays_raw(expr: str, why: str) -> None:
    assert structured_form(load_spec(SHAPES), expr) is None, why


def test_a_recorded_series_is_read_as_the_structured_query_its_rule_records() -> None:
    spec = load_spec(SHAPES)
    alert = spec.alert("RecordedEventsHigh")
    assert alert is not None
    form = structured_form(spec, alert.expr)
    assert form is not None
    (rule,) = [r for r in spec.recording_rules if r.record == "shard:shapes_events:rate5m"]
    assert (form.query, form.labels) == (rule.query, ())
    raw_rule = spec.alert("RecordedWaitsLong")
    assert raw_rule is not None and structured_form(spec, raw_rule.expr) is not None


def test_the_labels_a_recording_rule_adds_are_expected_on_the_alert() -> None:
    spec = load_spec(SHAPES)
    alert = spec.alert("RecordedRoomHot")
    assert alert is not None
    form = structured_form(spec, alert.expr)
    assert form is not None and form.labels == (("area", "indoors"), ("room", "all"))
    (firing, _silent) = alert_test_groups(spec, alert, timeline(spec))
    (expected,) = firing["alert_rule_test"][-1]["exp_alerts"]
    assert expected["exp_labels"]["area"] == "indoors"
    assert expected["exp_labels"]["room"] == "all"
    assert expected["exp_annotations"]["description"].startswith("indoors/all is at ")


@pytest.mark.parametrize(
    ("expr", "change", "why"),
    [
        ('shard:shapes_events:rate5m{shard="1"} > 3', None, "a matcher on the record"),
        ("shard:shapes_events:rate5m offset 5m > 3", None, "an offset"),
        ("unknown:series > 3", None, "no rule records it"),
        ("shard:shapes_events:rate5m > 3", "twice", "two rules record it"),
        ("shard:shapes_events:rate5m > 3", "raw", "the rule is not a structured query"),
    ],
)
def test_a_recorded_series_stays_raw_unless_one_rule_records_it_from_a_structured_query(
    expr: str, change: str | None, why: str
) -> None:
    spec = load_spec(SHAPES)
    (rule, *others) = spec.recording_rules
    assert rule.record == "shard:shapes_events:rate5m"
    changed = {
        None: (rule,),
        "twice": (rule, rule),
        "raw": (replace(rule, expr=f"max({rule.expr})", query=None),),
    }[change]
    assert structured_form(replace(spec, recording_rules=(*changed, *others)), expr) is None, why


def test_a_raw_expression_gets_the_tests_of_the_condition_it_is() -> None:
    spec = load_spec(SHAPES)
    tl = timeline(spec)
    structured = [alert for alert in spec.alerts if alert.query is not None]
    assert len(structured) >= 6
    for alert in structured:
        written_raw = replace(alert, query=None, threshold=None)
        assert alert_test_groups(spec, written_raw, tl) == alert_test_groups(spec, alert, tl)


def test_an_alert_on_a_recorded_series_left_raw_says_what_would_be_tested() -> None:
    spec = load_spec(SHAPES)
    (alert,) = [a for a in spec.alerts if a.name == "RecordedEventsHigh"]
    on_one_shard = replace(alert, expr='max(shard:shapes_events:rate5m{shard="1"}) > 3')
    with pytest.raises(NotDerivable, match=r"recorded series.*structured query"):
        alert_test_groups(spec, on_one_shard, timeline(spec))
