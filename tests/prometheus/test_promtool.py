"""The generated rule file, unit tests and config pass Prometheus' own tool, and the
unit tests catch a rule that stops matching the spec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from monitorgen.pipeline import compile_spec
from monitorgen.promql import inspect
from monitorgen.rule_inputs import duration_seconds
from monitorgen.targets.prometheus_rules import prometheus_rule_resource
from tests.harness import require_binary

from .helpers import SHAPES, SPEC_PATHS, load_spec, spec_from_text, write_prometheus_files

pytestmark = pytest.mark.tools


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("spec_path", [*SPEC_PATHS, SHAPES])
def test_promtool_accepts_rules_config_and_passes_the_generated_tests(
    spec_path: str, tmp_path: Path
) -> None:
    folder = write_prometheus_files(load_spec(spec_path), tmp_path)
    for args in (
        ("check", "rules", "rules.yml"),
        ("check", "config", "prometheus.yml"),
        ("test", "rules", "rules.test.yml"),
    ):
        result = promtool(*args, cwd=folder)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("spec_path", "original", "changed", "tests_about"),
    [
        ("specs/llm.yaml", "> 10000", "> 10500", "HighTokenUsage"),
        ("specs/llm.yaml", "task type {{ $labels", "task {{ $labels", "HighTokenUsage"),
        ("specs/llm.yaml", "(llm_quality_score) < 0.8", "(llm_quality_score) <= 0.8", "Quality"),
        ("tests/specs/http_api.yaml", "(6 * 0.001)", "(4 * 0.001)", "SLO availability"),
        # The ticket's lowest threshold from another objective's budget, either way.
        ("specs/llm.yaml", "(1 * 0.005)", "(1 * 0.0025)", "SLO availability"),
        ("specs/llm.yaml", "(1 * 0.005)", "(1 * 0.0075)", "SLO availability"),
        # The page tier's lowest threshold, 6x, by 10% either way.
        ("specs/llm.yaml", "(6 * 0.005)", "(5.4 * 0.005)", "SLO availability"),
        ("specs/llm.yaml", "(6 * 0.005)", "(6.6 * 0.005)", "SLO availability"),
        ("tests/specs/http_api.yaml", "for: 2m", "for: 3m", "HttpTooManyInFlight"),
        ("tests/specs/queue_worker.yaml", "by (queue) (increase", "(increase", "WorkerStalled"),
        ("tests/specs/queue_worker.yaml", ")) > 0)", ")) >= 0)", "SLO job_success"),
        ("tests/specs/queue_worker.yaml", "[10m])) > 5000", "[10m])) >= 5000", "Critical"),
        # A quantile's threshold inside a bucket (1 to 2.5), moved by 1%, and one on a
        # bucket's bound, moved just below it.
        ("tests/specs/http_api.yaml", "[5m]))) > 1.5", "[5m]))) > 1.515", "HttpSlowRequests"),
        ("tests/specs/http_api.yaml", "[5m]))) > 1.5", "[5m]))) > 1.485", "HttpSlowRequests"),
        ("tests/specs/queue_worker.yaml", "[10m]))) > 120", "[10m]))) > 119", "SlowJobs"),
        (SHAPES, "< 0.9", "<= 0.9", "FewGoodEvents"),
        (
            SHAPES,
            '(sum(rate(shapes_events_total{kind="good"}[5m]))'
            " or 0 * sum(rate(shapes_events_total[5m])))",
            'sum(rate(shapes_events_total{kind="good"}[5m]))',
            "FewGoodEvents: no good event",
        ),
        (SHAPES, "shapes_mode == 1", "shapes_mode >= 1", "ModeOne"),
        (SHAPES, "[10m])) > 0.25", "[10m])) > 0.3", "RawBadEvents"),
        (SHAPES, 'good|bad"}[5m])) > 0.3', 'good"}[5m])) > 0.3', "BadShareOfCounted"),
        (SHAPES, "[30m], 3600) > 40", "[30m], 3600) > 110", "RoomHeatsUp"),
        (
            SHAPES,
            '(sum(rate(shapes_events_total{kind="bad"}[5m])) or',
            '(sum(rate(shapes_events_total{kind="ugly"}[5m])) or',
            "SLO counted",
        ),
        (SHAPES, "histogram_quantile(0.9,", "histogram_quantile(0.5,", "RawLongWaits"),
        (
            SHAPES,
            "sum by (shard) (rate(shapes_events_total[5m]))",
            "sum by (shard) (rate(shapes_events_total[30m]))",
            "RecordedEventsHigh",
        ),
    ],
)
def test_the_generated_tests_fail_when_a_rule_drifts_from_the_spec(
    spec_path: str, original: str, changed: str, tests_about: str, tmp_path: Path
) -> None:
    """Each mutation breaks a rule the way a hand edit could; the tests about it notice."""
    folder = write_prometheus_files(load_spec(spec_path), tmp_path)
    only_those_tests(folder / "rules.test.yml", tests_about)
    rules = folder / "rules.yml"
    text = rules.read_text()
    assert original in text
    rules.write_text(text.replace(original, changed))
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout + result.stderr


def only_those_tests(path: Path, name_part: str) -> None:
    """Keep the test groups whose name mentions `name_part`, so a run stays short."""
    data = yaml.safe_load(path.read_text())
    data["tests"] = [test for test in data["tests"] if name_part in test["name"]]
    assert data["tests"], f"no generated test mentions {name_part}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("spec_path", SPEC_PATHS)
def test_the_prometheus_rule_resource_holds_rules_promtool_accepts(
    spec_path: str, tmp_path: Path
) -> None:
    resource = prometheus_rule_resource(load_spec(spec_path))
    (tmp_path / "from-resource.yml").write_text(yaml.safe_dump(resource["spec"]))
    result = promtool("check", "rules", "from-resource.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_of_the_shapes_spec_is_tested_without_skips() -> None:
    from monitorgen.targets.promtool_tests import unit_test_groups

    spec = load_spec(SHAPES)
    tests, skipped = unit_test_groups(spec)
    assert skipped == []
    names = {
        test["name"].split(" ")[0].removesuffix(":")
        for test in tests
        if not test["name"].startswith("SLO ")
    }
    assert names == {alert.name for alert in spec.alerts}
    assert {test["name"].split(":")[0] for test in tests if test["name"].startswith("SLO ")} == {
        f"SLO {slo.name}" for slo in spec.slos
    }


#: SLOs at the edges of what the generated tests cover.
EDGE_SLO = """\
version: 1
service: edge
metrics:
  - {name: edge_requests_total, type: counter, help: Requests., labels: [code]}
slos:
  - name: avail
    objective: OBJECTIVE
    sli:
      ratio:
        errors: {metric: edge_requests_total, where: {code: "500"}}
        total: {metric: edge_requests_total}
    alerting: ALERTING
"""


@pytest.mark.parametrize(
    ("objective", "alerting", "untested"),
    [
        ("99", "{page: {enabled: false}}", False),  # no 5m window recorded
        ("70", "{}", False),  # a page threshold above 100%: no slow burn between the tiers
        ("99", "{page: {enabled: false}, ticket: {enabled: false}}", True),
    ],
)
def test_the_tests_of_an_slo_at_the_edges_pass(
    objective: str, alerting: str, untested: bool, tmp_path: Path
) -> None:
    text = EDGE_SLO.replace("OBJECTIVE", objective).replace("ALERTING", alerting)
    folder = write_prometheus_files(spec_from_text(tmp_path, text), tmp_path)
    tests = (folder / "rules.test.yml").read_text()
    assert ("# Not tested here: SLO avail" in tests) is untested
    for group in yaml.safe_load(tests)["tests"]:  # each name says what its burn sets off
        tiers = {
            alert["exp_labels"]["slo_tier"]
            for check in group.get("alert_rule_test", [])
            for alert in check["exp_alerts"]
            if "slo_tier" in alert["exp_labels"]  # not the absent-SLI alert
        }
        if "burn pages" in group["name"]:
            assert "page" in tiers, group["name"]
        if "burn opens a ticket" in group["name"]:
            assert tiers == {"ticket"}, group["name"]
    for args in (("check", "rules", "rules.yml"), ("test", "rules", "rules.test.yml")):
        result = promtool(*args, cwd=folder)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("scrape", "condition", "interval"),
    [
        ("15s", "{metric: long_requests_total, function: increase, window: 2d, below: 1}", "45s"),
        ("1s", "{metric: long_requests_total, window: 3h, below: 1}", "3s"),
    ],
)
def test_a_long_window_is_tested_at_an_interval_promtool_can_load(
    scrape: str, condition: str, interval: str, tmp_path: Path
) -> None:
    """promtool lets a query load 10,000 samples: a 2d window at 15s holds 11,520 of
    each of the two series the tests feed the sum (at 45s, 3,840 each)."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: long\n"
        f"prometheus: {{scrape_interval: {scrape}, evaluation_interval: 1m}}\n"
        "metrics:\n  - {name: long_requests_total, type: counter, help: Requests.}\n"
        "alerts:\n  - name: FewRequests\n    severity: warning\n    summary: Few requests.\n"
        f"    condition: {condition}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    assert [t["interval"] for t in tests] == [interval, interval]
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


_PAGE_PAIR = (
    'slo:sli_error:ratio_rate1h{slo="availability",service="llm"} > (14.4 * 0.005) and '
    'slo:sli_error:ratio_rate5m{slo="availability",service="llm"} > (14.4 * 0.005)'
)


@pytest.mark.parametrize(
    "edited",
    [
        _PAGE_PAIR.replace("14.4", "14"),
        _PAGE_PAIR.replace("ratio_rate1h", "ratio_rate2h"),
        _PAGE_PAIR.replace("ratio_rate5m", "ratio_rate30m"),
        _PAGE_PAIR.replace(" and ", " or "),
    ],
    ids=["factor", "long-window", "short-window", "or"],
)
def test_the_slo_tests_fail_when_the_fast_page_pair_is_edited(tmp_path: Path, edited: str) -> None:
    """Steady traffic crosses the lowest page threshold (6x over 6h) first, so only the
    burst test sees the 14.4x pair: its factor, its two windows and the `and`."""
    folder = write_prometheus_files(load_spec("specs/llm.yaml"), tmp_path)
    rules = folder / "rules.yml"
    text = rules.read_text()
    assert text.count(_PAGE_PAIR) == 1
    rules.write_text(text.replace(_PAGE_PAIR, edited))
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 1
    assert "SLO availability: a 36m burst of errors pages" in result.stdout + result.stderr


def test_an_slo_counting_events_of_a_histogram_reads_its_count_series(tmp_path: Path) -> None:
    """A histogram has no series of its bare name: its events are `_count`."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: hist\n"
        "metrics:\n  - {name: hist_latency_seconds, type: histogram, help: L., labels: [code]}\n"
        "slos:\n  - name: avail\n    objective: 99\n    sli:\n      ratio:\n"
        "        errors: {metric: hist_latency_seconds, where: {code: '500'}}\n"
        "        total: {metric: hist_latency_seconds}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    rules = yaml.safe_load((folder / "rules.yml").read_text())
    read = {
        use.name
        for group in rules["groups"]
        if not group["name"].endswith(".aggregations")
        for rule in group["rules"]
        for use in inspect(rule["expr"]).selectors
    }
    assert "hist_latency_seconds_count" in read and "hist_latency_seconds" not in read
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


TIERS = """\
version: 1
service: tiers
metrics:
  - name: tiers_latency_seconds
    type: histogram
    help: Latency.
    buckets: [0.1, 0.25, 0.5, 1, 2.5]
  - name: tiers_requests_total
    type: counter
    help: Requests.
    labels: [{name: code, values: ["200", "500"]}]
  - {name: tiers_queue_depth, type: gauge, help: Depth.}
alerts:
  - name: SlowRequests
    severity: warning
    for: 10m
    summary: Slow.
    condition: {metric: tiers_latency_seconds, quantile: 0.99, above: 0.5}
  - name: SlowRequests
    severity: critical
    for: 5m
    summary: Very slow.
    condition: {metric: tiers_latency_seconds, quantile: 0.99, above: 1}
  - name: Errors
    severity: warning
    summary: Errors.
    condition: {metric: tiers_requests_total, function: ratio, where: {code: "500"}, above: 0.01}
  - name: Errors
    severity: critical
    for: 2m
    summary: Many errors.
    condition: {metric: tiers_requests_total, function: ratio, where: {code: "500"}, above: 0.05}
  - name: Backlog
    severity: warning
    summary: Backlog.
    condition: {metric: tiers_queue_depth, above: 100}
  - name: Backlog
    severity: critical
    summary: Backlog.
    expr: max(tiers_queue_depth) > 1000
"""


def _severities_checked(tests: list[dict[str, object]], group: str) -> list[list[str]]:
    """The severities each alert check of the named test group expects, in order."""
    (found,) = [t for t in tests if t["name"] == group]
    checks = found["alert_rule_test"]
    assert isinstance(checks, list)
    return [sorted(a["exp_labels"]["severity"] for a in c["exp_alerts"]) for c in checks]


def test_alerts_sharing_a_name_expect_each_other_where_the_inputs_fire_both(
    tmp_path: Path,
) -> None:
    """promtool checks every alert of a name at once: the test of a critical tier
    also expects the warning tier its inputs set off, and no test is skipped."""
    folder = write_prometheus_files(spec_from_text(tmp_path, TIERS), tmp_path)
    text = (folder / "rules.test.yml").read_text()
    assert "Not tested" not in text
    tests = yaml.safe_load(text)["tests"]
    assert len(tests) == 16
    assert _severities_checked(tests, "Backlog (warning) fires when > 100") == [["warning"]]
    assert _severities_checked(tests, "Backlog (critical) fires when > 1000") == [
        ["critical", "warning"]
    ]
    assert _severities_checked(tests, "Backlog (critical) stays silent when not > 1000") == [
        ["warning"]
    ]
    # The warning needs 10m, the critical 5m: the critical fires alone first.
    assert _severities_checked(tests, "SlowRequests (critical) fires when > 1") == [
        [],
        ["critical"],
    ]
    # As the window fills with errors the share passes 1% before 5%: the warning fires
    # while the critical waits out its `for`.
    filling = "Errors (critical) fires when > 0.05 only once matching events fill its 5m window"
    assert _severities_checked(tests, filling) == [["warning"], ["critical", "warning"]]
    # Slower requests filling the window pass 0.5 s before 1 s, but the warning's 10m
    # `for` lets the critical fire alone first here too.
    slower = (
        "SlowRequests (critical) fires when > 1 only once higher observations fill its 5m window"
    )
    assert _severities_checked(tests, slower) == [[], ["critical"]]
    for args in (("check", "rules", "rules.yml"), ("test", "rules", "rules.test.yml")):
        result = promtool(*args, cwd=folder)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_the_tests_of_a_tier_fail_when_another_tier_of_its_name_drifts(tmp_path: Path) -> None:
    folder = write_prometheus_files(spec_from_text(tmp_path, TIERS), tmp_path)
    rules = folder / "rules.yml"
    original = rules.read_text()
    assert original.count("max(tiers_queue_depth) > 100\n") == 1
    rules.write_text(
        original.replace("max(tiers_queue_depth) > 100\n", "max(tiers_queue_depth) > 2000\n")
    )
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 1
    assert "Backlog (critical) fires when > 1000" in result.stdout + result.stderr


def test_a_tier_over_another_expression_leaves_its_name_untested(tmp_path: Path) -> None:
    """The inputs of one tier cannot tell whether a tier watching something else fires."""
    text = TIERS.replace("expr: max(tiers_queue_depth) > 1000", "expr: absent(tiers_queue_depth)")
    folder = write_prometheus_files(spec_from_text(tmp_path, text), tmp_path)
    notes = [
        line
        for line in (folder / "rules.test.yml").read_text().splitlines()
        if line.startswith("# Not tested here: Backlog")
    ]
    assert notes == [
        "# Not tested here: Backlog (warning): the critical alert of the same name watches "
        "another expression, whose firing these inputs do not tell",
        "# Not tested here: Backlog (critical): another alert of the same name watches "
        "another expression, whose firing these inputs do not tell",
    ]
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_recorded_structured_ratio_records_nothing_when_quiet_and_its_alert_is_tested(
    tmp_path: Path,
) -> None:
    """A ratio recorded from a structured query divides by `(total > 0)`: a quiet period
    records no sample rather than NaN, and an alert on the recording is still tested."""
    source = tmp_path / "recorded.yaml"
    source.write_text(
        "version: 1\nservice: recorded\n"
        "metrics:\n  - name: recorded_requests_total\n    type: counter\n    help: Requests.\n"
        "    labels: [{name: status, values: [ok, error]}]\n"
        "recording_rules:\n  - record: job:recorded_requests:error_ratio\n"
        "    query: {metric: recorded_requests_total, function: ratio, where: {status: error}}\n"
        "alerts:\n  - name: Errors\n    severity: warning\n    summary: Errors.\n"
        "    expr: job:recorded_requests:error_ratio > 0.1\n",
        encoding="utf-8",
    )
    (compiled,) = compile_spec(source)
    assert compiled.spec is not None and compiled.diagnostics == []
    (rule,) = compiled.spec.recording_rules
    assert rule.expr.endswith(" / (sum(rate(recorded_requests_total[5m])) > 0)")
    folder = write_prometheus_files(compiled.spec, tmp_path)
    tests = (folder / "rules.test.yml").read_text()
    assert "Not tested" not in tests and "Errors fires when > 0.1" in tests
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_derived_inputs_are_past_the_threshold_by_more_than_rounding(tmp_path: Path) -> None:
    """4.5 per 15 s is 0.3 per second only up to floating-point noise: an input on the
    threshold would fire or stay silent by that noise, so the inputs step past it. A
    flat counter keeps `rate > 0` silent."""
    thresholds = ("0.3", "0.6", "0.15", "0.7", "0")
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: edge\n"
        "prometheus: {scrape_interval: 15s, evaluation_interval: 1m}\n"
        "metrics:\n  - {name: edge_requests_total, type: counter, help: Requests.}\n"
        "alerts:\n"
        + "".join(
            f"  - {{name: Rate{i}, severity: info, summary: s, "
            f"condition: {{metric: edge_requests_total, above: {t}}}}}\n"
            for i, t in enumerate(thresholds)
        ),
    )
    folder = write_prometheus_files(spec, tmp_path)
    text = (folder / "rules.test.yml").read_text()
    assert "Not tested" not in text
    groups = {t["name"]: t for t in yaml.safe_load(text)["tests"]}
    for index, threshold in enumerate(float(t) for t in thresholds):
        for kind in ("fires when >", "stays silent when not >"):
            (group,) = [g for name, g in groups.items() if name.startswith(f"Rate{index} {kind}")]
            series = group["input_series"]  # two, summed
            per_second = sum(float(s["values"].split("+")[1].split("x")[0]) for s in series) / 15
            if kind.startswith("fires"):
                assert per_second - threshold > abs(threshold) * 1e-6, series
            else:
                assert threshold - per_second > abs(threshold) * 1e-6 or per_second == 0, series
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("condition", "exact"),
    [
        ("{metric: edge_requests_total, below: 0.5}", True),  # 7.5 per 15 s: exact
        ("{metric: edge_requests_total, function: increase, window: 1m, below: 30}", True),
        ("{metric: edge_requests_total, below: 0.3}", False),  # 4.5 per 15 s: 0.3 + noise
    ],
    ids=["rate-on-a-binary-fraction", "increase", "rate-only-near"],
)
def test_a_below_on_a_counter_stays_silent_exactly_on_its_threshold_where_it_can(
    tmp_path: Path, condition: str, exact: bool
) -> None:
    """Where a counter's steady value can sit exactly on the threshold, the silent test
    puts it there, so a rule whose `<` became `<=` fires in it; where it cannot, the
    input stays clearly past it and that edit goes unseen."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: edge\n"
        "metrics:\n  - {name: edge_requests_total, type: counter, help: Requests.}\n"
        f"alerts:\n  - {{name: Low, severity: info, summary: s, condition: {condition}}}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules = folder / "rules.yml"
    text = rules.read_text()
    (comparison,) = [line for line in text.splitlines() if "expr:" in line and " < " in line]
    rules.write_text(text.replace(comparison, comparison.replace(" < ", " <= ")))
    mutated = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert (mutated.returncode == 1) is exact, mutated.stdout


def test_a_below_alert_that_fires_while_its_window_fills_is_also_checked_when_full(
    tmp_path: Path,
) -> None:
    """`rate(x[1h]) < 2` with `for: 5m` fires at 6m on a half-empty window's low value:
    the test also expects it firing on the steady value, which pins the threshold."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: few\n"
        "prometheus: {scrape_interval: 15s, evaluation_interval: 1m}\n"
        "metrics:\n  - {name: few_requests_total, type: counter, help: Requests.}\n"
        "alerts:\n  - name: FewRequests\n    severity: warning\n    for: 5m\n    summary: s\n"
        "    condition: {metric: few_requests_total, window: 1h, below: 2}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    (firing, _silent) = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    assert [check["eval_time"] for check in firing["alert_rule_test"]] == ["5m", "6m", "1h7m"]
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules = folder / "rules.yml"
    rules.write_text(rules.read_text().replace("[1h])) < 2\n", "[1h])) < 1.2\n"))
    failed = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert failed.returncode == 1
    assert "FewRequests fires when < 2" in failed.stdout + failed.stderr


@pytest.mark.parametrize(
    ("condition", "selector"),
    [
        (
            "{metric: pick_requests_total, where: {status: [error, timeout]}, by: [route], "
            "above: 1}",
            'pick_requests_total{status=~"error|timeout"}',
        ),
        (
            "{metric: pick_temperature_celsius, where: {zone: a}, aggregation: min, above: 30}",
            'pick_temperature_celsius{zone="a"}',
        ),
        (
            "{metric: pick_temperature_celsius, where: {zone: a}, below: 5}",
            'pick_temperature_celsius{zone="a"}',
        ),
        (
            "{metric: pick_latency_seconds, quantile: 0.99, by: [route], "
            "where: {route: [checkout, cart]}, above: 2.5}",
            'pick_latency_seconds_bucket{route=~"checkout|cart"}',
        ),
    ],
    ids=["rate-above", "min-above", "max-below", "quantile-by-its-where-label"],
)
def test_the_tests_fail_when_a_rule_loses_its_where(
    tmp_path: Path, condition: str, selector: str
) -> None:
    """Each test also feeds series the `where` leaves out: a rule counting them fails."""
    _picked_rules_edited(tmp_path, condition, selector, selector.split("{")[0])


@pytest.mark.parametrize(
    ("condition", "selector", "widened"),
    [
        (
            "{metric: pick_requests_total, where: {status: ok}, by: [route], below: 0.5}",
            'status="ok"',
            'status!="error"',  # lets in `timeout`, the second value left out
        ),
        (
            "{metric: pick_requests_total, where: {status: error}, above: 1}",
            'status="error"',
            'status=~"error|timeout"',
        ),
        (
            "{metric: pick_latency_seconds, quantile: 0.99, where: {route: checkout}, above: 2.5}",
            'route="checkout"',
            'route=~"checkout|home"',
        ),
        (
            "{metric: pick_requests_total, function: ratio, where: {status: error}, above: 0.05}",
            'status="error"',
            'status=~"error|timeout"',
        ),
        (
            "{metric: pick_requests_total, function: ratio, where: {status: ok}, below: 0.9}",
            'status="ok"',
            'status!="timeout"',  # lets in `error`, one of the two values left out
        ),
    ],
    ids=[
        "rate-below-not-equal",
        "rate-above-one-more",
        "quantile-one-more",
        "ratio-above-one-more",
        "ratio-below-not-equal",
    ],
)
def test_the_tests_fail_when_a_rule_widens_its_where_to_any_value_left_out(
    tmp_path: Path, condition: str, selector: str, widened: str
) -> None:
    """The series the `where` leaves out are fed for every declared value of its label:
    a matcher that lets in any one of them counts it."""
    _picked_rules_edited(tmp_path, condition, selector, widened)


_ERROR_SHARE = "{metric: pick_requests_total, function: ratio, where: {status: error}"


@pytest.mark.parametrize(
    ("condition", "window", "edited"),
    [
        (_ERROR_SHARE + ", above: 0.05}", "[5m]", "[10m]"),
        (_ERROR_SHARE + ", above: 0.05}", "[5m]", "[4m]"),
        (_ERROR_SHARE + ", window: 30m, above: 0.05}", "[30m]", "[25m]"),
        (
            # a threshold no share of 1,000 events sits on: no rounding tells windows apart
            "{metric: pick_requests_total, function: ratio, where: {status: ok}, by: [route], "
            "below: 0.9375}",
            "[5m]",
            "[6m]",
        ),
        # 12h windows over 3 series are past promtool's samples at 15s: fed every 30s.
        (_ERROR_SHARE + ", window: 12h, above: 1, scale: 100}", "[12h]", "[11h]"),
        ("{metric: pick_latency_seconds, quantile: 0.99, above: 2}", "[5m]", "[10m]"),
        ("{metric: pick_latency_seconds, quantile: 0.99, above: 2}", "[5m]", "[4m]"),
        (
            "{metric: pick_latency_seconds, quantile: 0.5, window: 15m, below: 3}",
            "[15m]",
            "[20m]",
        ),
    ],
    ids=[
        "ratio-above-longer",
        "ratio-above-shorter",
        "ratio-above-30m",
        "ratio-below-longer",
        "ratio-above-12h-scaled",
        "quantile-above-longer",
        "quantile-above-shorter",
        "quantile-below-longer",
    ],
)
def test_the_tests_fail_when_a_ratio_or_quantile_reads_another_window(
    tmp_path: Path, condition: str, window: str, edited: str
) -> None:
    """While the split of events is steady every window reads the same: a test whose
    late events fill the window tells its length."""
    _picked_rules_edited(tmp_path, condition, window, edited)


@pytest.mark.parametrize(
    ("condition", "selector", "edited"),
    [
        (
            "{metric: pick_temperature_celsius, function: max_over_time, window: 10m, above: 30}",
            "[10m]",
            "[5m]",
        ),
        (
            "{metric: pick_temperature_celsius, function: max_over_time, window: 10m, above: 30}",
            "[10m]",
            "[15m]",
        ),
        (
            "{metric: pick_temperature_celsius, function: min_over_time, window: 10m, above: 30}",
            "[10m]",
            "[15m]",
        ),
        (
            "{metric: pick_temperature_celsius, function: min_over_time, window: 10m, below: -5}",
            "[10m]",
            "[5m]",
        ),
        (
            "{metric: pick_temperature_celsius, function: max_over_time, window: 10m, below: -5}",
            "[10m]",
            "[20m]",
        ),
    ],
    ids=[
        "max-above-shorter",
        "max-above-longer",
        "min-above-longer",
        "min-below-shorter",
        "max-below-longer",
    ],
)
def test_the_tests_fail_when_a_highest_or_lowest_value_reads_another_window(
    tmp_path: Path, condition: str, selector: str, edited: str
) -> None:
    """A constant reads the same over any window: a run of values past the threshold
    is let go of (max for `above`) or filled (min for `above`) a window after its edge."""
    _picked_rules_edited(tmp_path, condition, selector, edited)


@pytest.mark.parametrize(
    ("condition", "selector", "edited"),
    [
        (
            "{metric: pick_requests_total, function: ratio, where: {status: error}, by: [route], "
            "above: 0.05}",
            'sum by (route) (rate(pick_requests_total{status="error"}',
            'max by (route) (rate(pick_requests_total{status="error"}',
        ),
        (
            "{metric: pick_requests_total, function: ratio, where: {status: [error, timeout]}, "
            "above: 0.05}",
            'status=~"error|timeout"',
            'status="error"',
        ),
        (
            "{metric: pick_requests_total, function: ratio, where: {status: [ok, timeout]}, "
            "below: 0.9}",
            'sum(rate(pick_requests_total{status=~"ok|timeout"}',
            'max(rate(pick_requests_total{status=~"ok|timeout"}',
        ),
    ],
    ids=["max-of-errors", "narrowed-where", "max-below"],
)
def test_the_tests_fail_when_a_ratio_counts_only_some_of_its_events(
    tmp_path: Path, condition: str, selector: str, edited: str
) -> None:
    """The selected events are split over two series of the group: a rule taking the
    highest of them, or narrowing its `where` to one value, counts half."""
    _picked_rules_edited(tmp_path, condition, selector, edited)


def pass_then_fail_once_edited(folder: Path, original: str, edited: str) -> None:
    """promtool passes the generated tests in `folder`, and fails them once the rule
    file reads `edited` where it read `original`."""
    passed = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    rules = folder / "rules.yml"
    text = rules.read_text()
    assert original in text
    rules.write_text(text.replace(original, edited))
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 1, edited


def _picked_rules_edited(tmp_path: Path, condition: str, selector: str, edited: str) -> None:
    """The generated tests of one alert pass on its rule and fail once `selector` in the
    rule file reads `edited`."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: pick\n"
        "metrics:\n"
        "  - name: pick_requests_total\n    type: counter\n    help: Requests.\n"
        "    labels: [{name: status, values: [ok, error, timeout]}, route]\n"
        "  - {name: pick_temperature_celsius, type: gauge, help: T., labels: [zone]}\n"
        "  - {name: pick_latency_seconds, type: histogram, help: L., buckets: [1, 2.5, 5], "
        "labels: [{name: route, values: [checkout, cart, home]}]}\n"
        f"alerts:\n  - {{name: Picked, severity: warning, summary: s, condition: {condition}}}\n",
    )
    pass_then_fail_once_edited(write_prometheus_files(spec, tmp_path), selector, edited)


def test_keep_firing_for_is_tested_by_a_value_that_falls_back(tmp_path: Path) -> None:
    """The gauge falls short of the threshold one evaluation after the alert fires: the
    alert still fires `keep_firing_for` later, less one evaluation, then resolves."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: deep\n"
        "prometheus: {scrape_interval: 15s, evaluation_interval: 1m}\n"
        "metrics:\n  - {name: deep_queue_depth, type: gauge, help: Depth.}\n"
        "alerts:\n  - name: Deep\n    severity: warning\n    for: 5m\n"
        "    keep_firing_for: 10m\n    summary: Deep.\n"
        "    condition: {metric: deep_queue_depth, above: 7}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    (kept,) = [t for t in tests if "keeps firing for 10m" in t["name"]]
    checks = [(c["eval_time"], len(c["exp_alerts"])) for c in kept["alert_rule_test"]]
    assert checks == [("15m", 1), ("16m", 0)]  # fired at 5m, fell back at 6m
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules = folder / "rules.yml"
    rules.write_text(rules.read_text().replace("    keep_firing_for: 10m\n", ""))
    failed = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert failed.returncode == 1 and "keeps firing for 10m" in failed.stdout + failed.stderr


#: One alert of each kind the tests feed two series of a group, by name.
_AGGREGATED = {
    "GaugeAbove": "{metric: agg_temperature_celsius, by: [zone], above: 5}",
    "GaugeBelow": "{metric: agg_temperature_celsius, below: 5}",
    "GaugeNegative": "{metric: agg_temperature_celsius, above: -5}",
    "RateAbove": "{metric: agg_requests_total, where: {status: error}, above: 2}",
    "IncreaseBelow": "{metric: agg_requests_total, function: increase, by: [route], below: 30}",
    "RateAcross": "{metric: agg_requests_total, where: {status: [error, timeout]}, above: 2}",
}
_AGGREGATIONS = ("sum", "avg", "max", "min")


@pytest.mark.parametrize("aggregation", _AGGREGATIONS)
def test_the_tests_fail_when_a_rule_aggregates_otherwise(aggregation: str, tmp_path: Path) -> None:
    """The tests feed two series into the group a rule aggregates (halves for a sum,
    double and zero for a mean, a lower or a higher one beside a max or a min): every
    other aggregation changes what one of the alert's tests sees. For a sum and a mean,
    a `where` narrowed to one of its values loses a series and fails them too."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: agg\n"
        "metrics:\n"
        "  - {name: agg_temperature_celsius, type: gauge, help: T., labels: [zone, room]}\n"
        "  - {name: agg_requests_total, type: counter, help: R., "
        "labels: [{name: status, values: [ok, error, timeout]}, route]}\n"
        "alerts:\n"
        + "".join(
            f"  - {{name: {name}, severity: warning, summary: s, "
            f"condition: {{aggregation: {aggregation}, {condition[1:]}}}\n"
            for name, condition in _AGGREGATED.items()
        ),
    )
    folder = write_prometheus_files(spec, tmp_path)
    assert "Not tested" not in (folder / "rules.test.yml").read_text()
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules, tests = (
        yaml.safe_load((folder / name).read_text()) for name in ("rules.yml", "rules.test.yml")
    )
    for name in _AGGREGATED:
        (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name]
        assert rule["expr"].startswith(aggregation)
        exprs = [
            other + rule["expr"][len(aggregation) :]
            for other in _AGGREGATIONS
            if other != aggregation
        ]
        if name == "RateAcross" and aggregation in ("sum", "avg"):
            exprs.append(rule["expr"].replace('status=~"error|timeout"', 'status="error"'))
        for expr in exprs:
            rule["expr"], written = expr, rule["expr"]
            _write_yaml(folder / "rules.yml", rules)
            _write_yaml(
                folder / "mutated.test.yml",
                {**tests, "tests": [t for t in tests["tests"] if t["name"].startswith(name)]},
            )
            result = promtool("test", "rules", "mutated.test.yml", cwd=folder)
            assert result.returncode == 1, f"{name} passes with {expr}: {result.stdout}"
            rule["expr"] = written


#: Alerts over a gauge's window, by name, and the swaps of their function their tests
#: catch: all but a mean's for the extreme on the threshold's far side (see
#: `promtool_tests._over_time_group`).
_OVER_TIME = {
    "MaxAbove": ("max_over_time", "above: 200", ("min_over_time", "avg_over_time")),
    "MinAbove": ("min_over_time", "above: 200", ("max_over_time", "avg_over_time")),
    "AvgAbove": ("avg_over_time", "above: 200", ("max_over_time",)),
    "MinBelow": ("min_over_time", "below: 0.1", ("max_over_time", "avg_over_time")),
    "MaxBelow": ("max_over_time", "below: 0.1", ("min_over_time", "avg_over_time")),
    "AvgBelow": ("avg_over_time", "below: 0", ("min_over_time",)),
}


def test_the_tests_fail_when_a_rule_reads_its_window_otherwise(tmp_path: Path) -> None:
    """The other tests feed constant gauges, which every `*_over_time` reads alike; one
    more group alternates two values so that the alert's function and the others
    disagree."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: win\n"
        "metrics:\n  - {name: win_depth, type: gauge, help: D., labels: [queue]}\n"
        "alerts:\n"
        + "".join(
            f"  - {{name: {name}, severity: warning, summary: s, for: 2m, condition: "
            f"{{metric: win_depth, function: {function}, window: 10m, {threshold}}}}}\n"
            for name, (function, threshold, _caught) in _OVER_TIME.items()
        ),
    )
    folder = write_prometheus_files(spec, tmp_path)
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules, tests = (
        yaml.safe_load((folder / name).read_text()) for name in ("rules.yml", "rules.test.yml")
    )
    for name, (function, _threshold, caught) in _OVER_TIME.items():
        (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name]
        own = [t for t in tests["tests"] if t["name"].startswith(f"{name} ")]
        assert any("the window's" in t["name"] for t in own), name
        for other in caught:
            rule["expr"], written = rule["expr"].replace(function, other), rule["expr"]
            _write_yaml(folder / "rules.yml", rules)
            _write_yaml(folder / "mutated.test.yml", {**tests, "tests": own})
            result = promtool("test", "rules", "mutated.test.yml", cwd=folder)
            assert result.returncode == 1, f"{name} passes with {rule['expr']}: {result.stdout}"
            rule["expr"] = written


def _write_yaml(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_an_slo_absent_alert_fires_when_only_series_outside_its_where_remain(
    tmp_path: Path,
) -> None:
    """Writes stopped but reads go on: the SLI over `operation=~"insert|update"` records
    nothing, so its burn alerts cannot fire, and the absent alert must."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: orders\n"
        "metrics:\n"
        "  - {name: orders_query_seconds, type: histogram, help: Q., buckets: [0.1, 0.25, 1], "
        "labels: [{name: operation, values: [select, insert, update]}, "
        "{name: db, values: [primary, replica]}]}\n"
        "slos:\n"
        "  - name: writes\n    objective: 99\n"
        "    sli: {latency: {metric: orders_query_seconds, threshold: 0.25, "
        "where: {operation: [insert, update], db: primary}}}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    (absent,) = [
        r
        for g in yaml.safe_load((folder / "rules.yml").read_text())["groups"]
        for r in g["rules"]
        if r.get("alert") == "OrdersWritesSliAbsent"
    ]
    assert absent["expr"] == (
        'absent(orders_query_seconds_count{db="primary",operation=~"insert|update"})'
    )
    reads = 'orders_query_seconds_count{db="primary",instance="i",job="orders",operation="select"}'
    (folder / "absent.test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yml"],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [{"series": reads, "values": "0+10x20"}],
                        "alert_rule_test": [
                            {
                                "eval_time": "15m",
                                "alertname": "OrdersWritesSliAbsent",
                                "exp_alerts": [
                                    {
                                        "exp_labels": {
                                            "db": "primary",
                                            **{k: v for k, v in absent["labels"].items()},
                                        },
                                        "exp_annotations": absent["annotations"],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
            sort_keys=False,
        )
    )
    result = promtool("test", "rules", "absent.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_below_on_events_a_where_picks_counts_a_group_without_them_as_zero(
    tmp_path: Path,
) -> None:
    """ "No successful run today" must fire for a job whose only series counts failures:
    the bare sum over `status="success"` returns nothing for it, so the condition adds
    `or 0 *` the sum over all its runs, and a generated test feeds only failures."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: batch\n"
        "metrics:\n  - name: batch_runs_total\n    type: counter\n    help: Runs.\n"
        "    labels: [{name: status, values: [success, failure]}, job_name]\n"
        "alerts:\n  - name: NoSuccess\n    severity: warning\n    summary: No success.\n"
        "    condition: {metric: batch_runs_total, function: increase, window: 1h, "
        "where: {status: success}, by: [job_name], below: 1}\n",
    )
    folder = write_prometheus_files(spec, tmp_path)
    rules = folder / "rules.yml"
    text = rules.read_text()
    guarded = (
        '(sum by (job_name) (increase(batch_runs_total{status="success"}[1h])) or 0 * '
        "sum by (job_name) (increase(batch_runs_total[1h]))) < 1"
    )
    assert guarded in text
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    (group,) = [t for t in tests if t["name"] == "NoSuccess fires when no event matches yet"]
    assert [s["series"] for s in group["input_series"]] == [
        'batch_runs_total{instance="localhost:8000",job="batch",job_name="job_name-1",'
        'status="failure"}'
    ]
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    bare = 'sum by (job_name) (increase(batch_runs_total{status="success"}[1h])) < 1'
    rules.write_text(text.replace(guarded, bare))
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 1
    assert "NoSuccess fires when no event matches yet" in result.stdout + result.stderr


_SUMMARY = """\
version: 1
service: calls
metrics:
  - {name: calls_duration_seconds, type: summary, help: Calls., unit: seconds, labels: [method]}
alerts:
  - name: ManyCalls
    severity: warning
    summary: Many calls
    condition: {metric: calls_duration_seconds, function: rate, above: 5}
  - name: FewCalls
    severity: warning
    summary: Few calls
    condition: {metric: calls_duration_seconds, function: increase, window: 1h, below: 10}
  - name: RawFewCalls
    severity: info
    summary: Few calls
    expr: sum(rate(calls_duration_seconds_count[5m])) < 0.5
"""


def test_a_rate_of_a_summary_is_tested_on_its_count_series(tmp_path: Path) -> None:
    """A summary's rate or increase reads `_count`, in the rule and in its tests; the
    value is a number of calls, not seconds."""
    folder = write_prometheus_files(spec_from_text(tmp_path, _SUMMARY), tmp_path)
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    assert {t["name"].split(" ")[0] for t in tests} == {"ManyCalls", "FewCalls", "RawFewCalls"}
    for test in tests:
        names = {s["series"].split("{")[0] for s in test["input_series"]}
        assert names == {"calls_duration_seconds_count"}, test["name"]
    rules = yaml.safe_load((folder / "rules.yml").read_text())
    (few,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "FewCalls"]
    assert "$value | humanize }}" in few["annotations"]["description"]
    result = promtool("test", "rules", "rules.test.yml", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr


_STOPPED = """\
version: 1
service: shop
metrics:
  - name: shop_orders_total
    type: counter
    help: Orders.
    labels: [{name: country, values: [de, fr]}]
alerts:
  - name: NoOrders
    severity: warning
    for: 10m
    summary: "No orders in {{ $labels.country }}"
    expr: sum by (country) (rate(shop_orders_total{country="de"}[15m])) == 0
"""


def test_a_counter_compared_equal_to_zero_is_tested_still_and_counting(tmp_path: Path) -> None:
    """`sum(rate(counter[w])) == 0` ("no orders"): a counter holding still fires it after
    its `for`, one counting an event a sample does not, and one that stops counting
    fires it only once its last count has left the window (after `for`)."""
    folder = write_prometheus_files(spec_from_text(tmp_path, _STOPPED), tmp_path)
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    firing, silent, stopping_group = tests
    assert stopping_group["name"] == (
        "NoOrders fires only once its 15m window holds no counted event"
    )
    (stopping,) = stopping_group["input_series"]
    counted, held = stopping["values"].split()  # one a sample up to a sample, then holds
    stops = int(counted.split("x")[1])
    assert counted == f"0+1x{stops}" and held.startswith(f"{stops}+0x")
    last = stops * 15  # 15s samples
    checks = stopping_group["alert_rule_test"]
    silent_at, fired_at = (duration_seconds(c["eval_time"]) for c in checks)
    edge = last - 15 + 900  # the last count is the window's first sample just before this
    assert edge + 600 - 60 <= silent_at < edge + 600 < fired_at <= edge + 600 + 60
    assert [len(c["exp_alerts"]) for c in checks] == [0, 1]
    assert [s["values"].split("x")[0] for s in firing["input_series"]] == ["0+0"]
    assert [s["values"].split("x")[0] for s in silent["input_series"]] == ["0+1"]
    assert firing["input_series"][0]["series"].startswith('shop_orders_total{country="de"')
    assert [c["eval_time"] for c in firing["alert_rule_test"]] == ["10m", "11m"]
    (fired,) = firing["alert_rule_test"][-1]["exp_alerts"]
    assert fired["exp_labels"]["country"] == "de"
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules = folder / "rules.yml"
    text = rules.read_text()
    edits = (
        ("== 0", "== 1"),
        ('country="de"', 'country="fr"'),
        ("[15m]", "[5m]"),
        ("[15m]", "[30m]"),
    )
    for original, edited in edits:
        rules.write_text(text.replace(original, edited))
        assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 1, edited


_BARE = """\
version: 1
service: web
metrics:
  - name: web_requests_total
    type: counter
    help: Requests.
    labels: [{name: code, values: ["200", "500", "503"]}, route]
  - {name: web_restarts_total, type: counter, help: Restarts.}
alerts:
  - name: ServerErrors
    severity: warning
    for: 2m
    summary: "5xx on {{ $labels.route }} ({{ $labels.instance }})"
    expr: rate(web_requests_total{code=~"500|503"}[5m]) > 1
  - name: Restarting
    severity: critical
    summary: Restarts
    expr: increase(web_restarts_total[1h]) > 3
"""


def test_a_rate_without_aggregation_is_tested_on_one_series_with_all_its_labels(
    tmp_path: Path,
) -> None:
    """`rate(counter{...}[w]) > t` returns each series with its labels: fed one, the
    alert carries them all; a series the `where` leaves out carries the other test's
    values, so a rule that lost its `where` fails."""
    folder = write_prometheus_files(spec_from_text(tmp_path, _BARE), tmp_path)
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())["tests"]
    assert [t["name"] for t in tests] == [
        "ServerErrors fires when > 1",
        "ServerErrors stays silent when not > 1",
        "Restarting fires when > 3",
        "Restarting stays silent when not > 3",
    ]
    (fired,) = tests[0]["alert_rule_test"][-1]["exp_alerts"]
    assert fired["exp_labels"] == {
        "code": "500",
        "instance": "localhost:8000",
        "job": "web",
        "route": "route-1",
        "service": "web",
        "severity": "warning",
    }
    assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 0
    rules = folder / "rules.yml"
    text = rules.read_text()
    for original, edited in (
        ("[5m]) > 1", "[5m]) > 1.2"),
        ('{code=~"500|503"}', ""),
        ("> 3", "> 4"),
        ("increase(web_restarts_total", "rate(web_restarts_total"),
    ):
        rules.write_text(text.replace(original, edited))
        assert promtool("test", "rules", "rules.test.yml", cwd=folder).returncode == 1, edited
