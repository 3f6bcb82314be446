"""Each rule lint check: a snippet that trips it at a stated line and column, and the
fixed snippet that does not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from monitorgen.lint import rules as lint
from monitorgen.pipeline import compile_spec
from monitorgen.rule_set import Rule, RuleGroup

# Nine lines; snippets below start on line 10.
HEADER = """\
version: 1
service: demo
prometheus: {job: demo, targets: ["localhost:9000"], scrape_interval: 15s, evaluation_interval: 1m}
metrics:
  - {name: demo_requests_total, type: counter, help: Requests., labels: [route, code]}
  - name: demo_latency_seconds
    type: histogram
    help: Latency.
    buckets: [0.1, 0.5, 1]
"""
FIRST_LINE = 10
DEFAULT_CONDITION = "{metric: demo_requests_total, by: [route], above: 5}"


def findings(
    tmp_path: Path, body: str, code: str, header: str = HEADER
) -> list[tuple[str, int, int]]:
    path = tmp_path / "demo.yaml"
    path.write_text(header + body)
    (compiled,) = compile_spec(path)
    return [(d.code, d.span.line, d.span.column) for d in compiled.diagnostics if d.code == code]


def alert(condition: str = "", **fields: str) -> str:
    """An alert whose fields (one per line) follow `name`, with a structured condition."""
    lines = ["alerts:", "  - name: Demo", "    severity: warning", "    summary: Demo."]
    lines += [f"    {key}: {value}" for key, value in fields.items()]
    lines += [
        "    condition:",
        f"      {condition or '{metric: demo_requests_total, by: [route], above: 5}'}",
    ]
    return "\n".join(lines) + "\n"


CASES = [
    # (code, failing body, passing body, line offset of the finding, column)
    (
        "lint/template",
        alert(description="'{{ $value | humanise }} requests/s'"),
        alert(description="'{{ $value | humanize }} requests/s'"),
        4,
        18,
    ),
    (
        "lint/template-label",
        alert(description="'{{ $labels.code }} is busy'"),
        alert(description="'{{ $labels.route }} is busy'"),
        4,
        18,
    ),
    (
        "lint/group-by-missing-label",
        "recording_rules:\n  - record: region:demo_requests:rate5m\n"
        "    expr: sum by (region) (rate(demo_requests_total[5m]))\n",
        "recording_rules:\n  - record: route:demo_requests:rate5m\n"
        "    expr: sum by (route) (rate(demo_requests_total[5m]))\n",
        2,
        11,
    ),
    (
        "lint/value-in-label",
        alert(labels="{value: '{{ $value }}'}"),
        alert(labels="{team: web}"),
        4,
        21,
    ),
    (
        "lint/for",
        alert(**{"for": "30s"}),
        alert(**{"for": "2m"}),
        4,
        10,
    ),
    (
        "lint/rate-window",
        alert("{metric: demo_requests_total, window: 20s, above: 5}"),
        alert("{metric: demo_requests_total, window: 1m, above: 5}"),
        5,
        7,
    ),
    (
        "lint/nan-division",
        "recording_rules:\n  - record: demo:ratio\n"
        "    expr: sum(rate(demo_requests_total[5m]) / rate(demo_requests_total[1h]))\n",
        "recording_rules:\n  - record: demo:ratio\n"
        "    expr: sum(rate(demo_requests_total[5m])) / (sum(rate(demo_requests_total[1h])) > 0)\n",
        2,
        11,
    ),
    (
        "lint/nan-division",
        "recording_rules:\n  - record: demo:ratio\n"
        "    expr: sum(rate(demo_requests_total[5m])) / sum(rate(demo_requests_total[1h]))\n",
        "recording_rules:\n  - record: demo:ratio\n"
        "    expr: sum(rate(demo_requests_total[5m])) / (sum(rate(demo_requests_total[1h])) > 0)\n",
        2,
        11,
    ),
    (
        "lint/duplicate-rule",
        "slos:\n  - name: ok\n    objective: 99\n"
        "    sli: {ratio: {errors: {metric: demo_requests_total, where: {code: '500'}},"
        " total: {metric: demo_requests_total}}}\n"
        "recording_rules:\n  - record: slo:sli_error:ratio_rate5m\n"
        "    expr: vector(0)\n    labels: {slo: ok, service: demo}\n",
        "slos:\n  - name: ok\n    objective: 99\n"
        "    sli: {ratio: {errors: {metric: demo_requests_total, where: {code: '500'}},"
        " total: {metric: demo_requests_total}}}\n"
        "recording_rules:\n  - record: demo:zero\n"
        "    expr: vector(0)\n    labels: {slo: ok, service: demo}\n",
        1,
        5,
    ),
    (
        "lint/missing-recording-rule",
        alert().replace(
            "    condition:\n      {metric: demo_requests_total, by: [route], above: 5}",
            "    expr: slo:sli_error:ratio_rate7m > 0.1",
        ),
        "slos:\n  - name: ok\n    objective: 99\n"
        "    sli: {ratio: {errors: {metric: demo_requests_total, where: {code: '500'}},"
        " total: {metric: demo_requests_total}}}\n"
        + alert().replace(
            "    condition:\n      {metric: demo_requests_total, by: [route], above: 5}",
            "    expr: slo:sli_error:ratio_rate5m > 0.1",
        ),
        4,
        11,
    ),
    (
        "lint/slo-unreachable",
        "slos:\n  - name: ok\n    objective: 90\n"
        "    sli: {latency: {metric: demo_latency_seconds, threshold: 0.5}}\n",
        "slos:\n  - name: ok\n    objective: 99.5\n"
        "    sli: {latency: {metric: demo_latency_seconds, threshold: 0.5}}\n",
        2,
        16,
    ),
    (
        "lint/slo-short-period",
        "slos:\n  - name: ok\n    objective: 99.5\n    period: 3d\n"
        "    sli: {latency: {metric: demo_latency_seconds, threshold: 0.5}}\n",
        "slos:\n  - name: ok\n    objective: 99.5\n    period: 7d\n"
        "    sli: {latency: {metric: demo_latency_seconds, threshold: 0.5}}\n",
        3,
        13,
    ),
]


@pytest.mark.parametrize(("code", "failing", "passing", "offset", "column"), CASES)
def test_check_reports_the_failing_snippet_where_the_problem_is(
    tmp_path: Path, code: str, failing: str, passing: str, offset: int, column: int
) -> None:
    assert findings(tmp_path, failing, code) == [(code, FIRST_LINE + offset, column)]
    assert findings(tmp_path, passing, code) == []


def test_group_interval_over_five_minutes_points_at_the_evaluation_interval(
    tmp_path: Path,
) -> None:
    slow = HEADER.replace("evaluation_interval: 1m", "evaluation_interval: 10m")
    assert findings(tmp_path, alert(), "lint/group-interval", slow) == [
        ("lint/group-interval", 3, 97)
    ]
    assert findings(tmp_path, alert(), "lint/group-interval") == []


def test_a_disabled_check_reports_nothing(tmp_path: Path) -> None:
    body = alert(**{"for": "30s"}) + "lint: {disable: [lint/for]}\n"
    assert findings(tmp_path, body, "lint/for") == []


@pytest.mark.parametrize(
    ("aggregation", "reported"),
    [("sum", True), ("avg", True), ("max", False), ("min", False), ("count", False)],
)
def test_a_division_inside_an_aggregation_is_reported_where_a_nan_spreads(
    tmp_path: Path, aggregation: str, reported: bool
) -> None:
    """Prometheus' max and min pass over a NaN series; sum and avg become NaN."""
    body = (
        "alerts:\n  - name: Demo\n    severity: warning\n    summary: Demo.\n"
        f"    expr: {aggregation}(rate(demo_requests_total[5m]) / rate(demo_requests_total[1h]))"
        " > 2\n"
    )
    expected = [("lint/nan-division", FIRST_LINE + 4, 11)] if reported else []
    assert findings(tmp_path, body, "lint/nan-division") == expected


def test_a_raw_sli_dividing_unguarded_is_reported_once_for_all_its_windows(
    tmp_path: Path,
) -> None:
    body = (
        "slos:\n  - name: ok\n    objective: 99\n    sli:\n      raw:\n"
        "        error_ratio_query: sum(rate(demo_requests_total{code='500'}[{{window}}]))"
        " / sum(rate(demo_requests_total[{{window}}]))\n"
    )
    assert findings(tmp_path, body, "lint/nan-division") == [
        ("lint/nan-division", FIRST_LINE + 5, 9)
    ]


def test_template_labels_of_an_slo_are_read_from_its_own_recordings(tmp_path: Path) -> None:
    """Every SLO records slo:sli_error:* (told apart by its `slo` label): a second SLO
    without `by` does not hide the route the first one keeps."""

    def slo(name: str, by: str, summary: str) -> str:
        return (
            f"  - name: {name}\n    objective: 99\n{by}"
            "    sli: {ratio: {errors: {metric: demo_requests_total, where: {code: '500'}},"
            " total: {metric: demo_requests_total}}}\n"
            f"    alerting: {{summary: '{summary}'}}\n"
        )

    per_route = slo("per_route", "    by: [route]\n", "{{ $labels.route }} fails")
    body = "slos:\n" + per_route + slo("overall", "", "Requests fail")
    assert findings(tmp_path, body, "lint/template-label") == []
    unkept = "slos:\n" + slo("per_route", "", "{{ $labels.route }} fails")
    assert findings(tmp_path, unkept, "lint/template-label") == [
        ("lint/template-label", FIRST_LINE + 4, 25)
    ]


def test_a_summary_problem_is_reported_once_not_again_in_the_description_made_from_it(
    tmp_path: Path,
) -> None:
    """Without a description, monitorgen writes one that quotes the summary."""

    def summarised(summary: str) -> str:
        return alert().replace("    summary: Demo.", f"    summary: {summary}")

    body = summarised("'{{ $value | humanise }} requests/s'")
    assert findings(tmp_path, body, "lint/template") == [("lint/template", FIRST_LINE + 3, 14)]
    unkept = summarised("'{{ $labels.code }} fails'")
    assert findings(tmp_path, unkept, "lint/template-label") == [
        ("lint/template-label", FIRST_LINE + 3, 14)
    ]


# Generated expressions cannot be broken from a spec; these checks guard the generators.


def _rules(*rules: Rule) -> lint.Rules:
    return lint.Rules((RuleGroup("demo", "1m", rules),))


GENERATED = Rule(expr="up == 0", path=("slos", 0), expr_path=("slos", 0, "sli"), alert="X")


@pytest.mark.parametrize(
    ("check", "code", "bad", "good"),
    [
        (lint._syntax, "lint/promql-syntax", "rate(x[5m]", "rate(x[5m])"),
        (
            lint._alert_comparison,
            "lint/alert-comparison",
            "sum(rate(x[5m]))",
            "(a > 1 and b > 1) or absent(c)",
        ),
    ],
)
def test_generated_expressions_are_checked(check, code, bad, good) -> None:  # type: ignore[no-untyped-def]
    found = list(check(_rules(replace(GENERATED, expr=bad))))
    assert [(d.code, d.path) for d in found] == [(code, ("slos", 0, "sli"))]
    assert list(check(_rules(replace(GENERATED, expr=good)))) == []
    assert list(check(_rules(replace(GENERATED, expr=bad, written_by_user=True)))) == []


def test_generated_rules_read_counters_only_inside_rate(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(HEADER + alert())
    (compiled,) = compile_spec(path)
    assert compiled.spec is not None
    raw = replace(GENERATED, expr="demo_requests_total > 5", record="demo:raw", alert=None)
    rated = replace(raw, expr="rate(demo_requests_total[5m]) > 5")
    absent = replace(raw, expr="absent(demo_requests_total)")
    found = list(lint._counters_outside_rate(compiled.spec, _rules(raw, rated, absent)))
    assert [(d.code, d.path) for d in found] == [("lint/counter-outside-rate", ("slos", 0, "sli"))]


@pytest.mark.parametrize(
    "spec_path", ["specs/llm.yaml", "tests/specs/http_api.yaml", "tests/specs/queue_worker.yaml"]
)
def test_the_shipped_specs_pass_every_rule_check(spec_path: str) -> None:
    root = Path(__file__).resolve().parents[2]
    (compiled,) = compile_spec(root / spec_path)
    assert compiled.spec is not None
    assert list(lint.check(compiled.spec)) == []


@pytest.mark.parametrize(
    ("period", "said"),
    [
        (
            "1d",
            [
                "page tier of SLO ok scales to 0.48x over 1h and scales to 0.2x",
                "ticket tier of SLO ok looks back 3d",
            ],
        ),
        ("3d", ["page tier of SLO ok scales to 0.6x over 6h"]),
        ("28d", []),
    ],
)
def test_a_short_slo_period_says_which_tier_alerts_below_1x_or_reads_past_it(
    tmp_path: Path, period: str, said: list[str]
) -> None:
    found = _slo_messages(tmp_path, f"objective: 99.9, period: {period}", "lint/slo-short-period")
    assert len(found) == len(said)
    assert all(part in message for part, message in zip(said, found, strict=True))


@pytest.mark.parametrize(
    ("objective", "said"),
    [
        # 30d: the page needs 14.4 x 10% = 1.44 over 1h, the 6h pair 0.6.
        (
            "90",
            "page alert of SLO ok needs an error ratio over 1h above 1.44, which is "
            "impossible with an objective of 90%, so it alerts only through its 6h window pair",
        ),
        # every page pair above 100%: 14.4 x 20% and 6 x 20%.
        ("80", "page tier of SLO ok never alerts: it needs an error ratio over 1h above 2.88"),
    ],
)
def test_an_unreachable_burn_window_says_whether_its_tier_still_alerts(
    tmp_path: Path, objective: str, said: str
) -> None:
    found = _slo_messages(tmp_path, f"objective: {objective}", "lint/slo-unreachable")
    assert any(said in message for message in found), found


def _slo_messages(tmp_path: Path, settings: str, code: str) -> list[str]:
    """The messages of `code` about a latency SLO named ok with these settings."""
    path = tmp_path / "demo.yaml"
    path.write_text(
        HEADER + f"slos:\n  - {{name: ok, {settings},\n"
        "     sli: {latency: {metric: demo_latency_seconds, threshold: 0.5}}}\n"
    )
    (compiled,) = compile_spec(path)
    return [d.message for d in compiled.diagnostics if d.code == code]
