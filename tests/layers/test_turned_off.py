"""`enabled: false`: a layer's alert, a tier or an environment's alert left out of every
output, with a warning when the name turns nothing off."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitorgen import pipeline

from .helpers import assert_promtool_tests_pass, build_into, compiled, write_spec


def _alert_names(rules_file: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(rules_file.read_text())
    return [
        (rule["alert"], rule["labels"]["severity"])
        for group in data["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _tested_alerts(tests_file: Path) -> set[str]:
    data = yaml.safe_load(tests_file.read_text())
    return {check["alertname"] for test in data["tests"] for check in test["alert_rule_test"]}


def test_a_layer_alert_turned_off_is_in_no_output(tmp_path: Path) -> None:
    extra = "  - {name: NodeHighCpu, enabled: false}\n"
    built = build_into(write_spec(tmp_path, "infrastructure", extra), tmp_path / "out")
    rules = built / "prometheus" / "rules.yml"
    names = [name for name, _severity in _alert_names(rules)]
    assert "NodeHighCpu" not in names
    assert {"TargetDown", "NodeMemoryPressure", "NoOrders"} <= set(names)
    assert "NodeHighCpu" not in _tested_alerts(built / "prometheus" / "rules.test.yml")
    result = compiled(write_spec(tmp_path, "infrastructure", extra))
    assert [d.code for d in result.diagnostics if d.code.startswith("names/")] == []


TIERS = """\
  - {name: Off, severity: info, summary: Off, expr: up == 0, enabled: false}
  - name: QueueDeep
    severity: warning
    summary: Deep queue
    condition: {metric: shop_queue_depth, aggregation: max, above: 100}
  - name: QueueDeep
    severity: critical
    summary: Very deep queue
    condition: {metric: shop_queue_depth, aggregation: max, above: 1000}
  - name: QueueDeep
    severity: info
    summary: Queue filling
    condition: {metric: shop_queue_depth, aggregation: max, above: 10}
  - {name: QueueDeep, severity: info, enabled: false}
"""
GAUGE = "  - {name: shop_queue_depth, type: gauge, help: Jobs waiting.}\n"


def _tiered_spec(folder: Path) -> Path:
    path = write_spec(folder, "infrastructure", TIERS)
    text = path.read_text().replace("metrics:\n", "metrics:\n" + GAUGE, 1)
    path.write_text(text)
    return path


def test_a_severity_turns_off_that_tier_only(tmp_path: Path) -> None:
    built = build_into(_tiered_spec(tmp_path), tmp_path / "out")
    tiers = [a for a in _alert_names(built / "prometheus" / "rules.yml") if a[0] == "QueueDeep"]
    assert tiers == [("QueueDeep", "warning"), ("QueueDeep", "critical")]
    assert "Off" not in {name for name, _ in _alert_names(built / "prometheus" / "rules.yml")}


@pytest.mark.tools
def test_promtool_passes_the_tests_of_tiers_after_an_alert_turned_off(tmp_path: Path) -> None:
    """The tiers' tests expect each other (their rules are found by the alert's place in
    the spec, which an alert turned off before them shifts)."""
    built = build_into(_tiered_spec(tmp_path), tmp_path / "out")
    assert "QueueDeep" in _tested_alerts(built / "prometheus" / "rules.test.yml")
    assert_promtool_tests_pass(built)


ENVIRONMENTS = """\
environments:
  staging:
    alerts:
      - {name: TargetDown, enabled: false}
      - {name: NodeMemoryPresure, enabled: false}
  prod:
    alerts:
      - {name: NoOrders, for: 30m}
"""


def test_an_environment_turns_off_an_alert_and_a_misspelt_name_is_a_warning(
    tmp_path: Path,
) -> None:
    path = write_spec(tmp_path, "infrastructure")
    path.write_text(path.read_text() + ENVIRONMENTS)
    base, prod, staging = pipeline.compile_spec(path)
    assert base.spec is not None and prod.spec is not None and staging.spec is not None
    assert "TargetDown" in {a.name for a in prod.spec.alerts}
    assert "TargetDown" not in {a.name for a in staging.spec.alerts}
    assert "NodeMemoryPressure" in {a.name for a in staging.spec.alerts}
    (warning,) = [d for d in staging.diagnostics if d.code == "names/turns-off-nothing"]
    assert warning.field_path == "environments.staging.alerts[1].name"
    assert (warning.span.line, warning.span.column) == (path.read_text().count("\n") - 3, 16)
    assert warning.hint == "did you mean 'NodeMemoryPressure'?"
    assert not [d for d in base.diagnostics if d.code == "names/turns-off-nothing"]


def test_a_severity_no_tier_has_is_a_warning_naming_the_tiers(tmp_path: Path) -> None:
    extra = "  - {name: NodeDiskAlmostFull, severity: warning, enabled: false}\n"
    result = compiled(write_spec(tmp_path, "infrastructure", extra))
    (warning,) = [d for d in result.diagnostics if d.code == "names/turns-off-nothing"]
    assert "no alert of `alerts` is named 'NodeDiskAlmostFull' with severity warning" in (
        warning.message
    )
    assert warning.hint is not None and "its severity is critical" in warning.hint
    assert result.spec is not None
    assert "NodeDiskAlmostFull" in {a.name for a in result.spec.alerts}


def test_an_item_that_turns_nothing_off_still_needs_a_whole_alert(tmp_path: Path) -> None:
    """Without `enabled: false`, a name alone is an incomplete alert."""
    result = compiled(write_spec(tmp_path, "infrastructure", "  - {name: NodeHighCpu}\n"))
    assert {d.code for d in result.diagnostics} == {"schema/required", "schema/oneOf"}


SWITCHES = """\
  - {name: NodeHighCpu, enabled: false}
  - {name: PayOff, enabled: false, summary: only a name and a summary}
  - {name: Typo, enabled: false}
  - {name: Typo, enabled: false}
  - {name: PaySlow, severity: warning, summary: s, condition: {metric: pay_lag_seconds, above: 0.5}}
  - {name: PaySlow, severity: critical, summary: s, condition: {metric: pay_lag_seconds, above: 1}}
  - {name: PaySlow, severity: warning, enabled: false}
  - {name: PayDown, severity: critical, summary: s, expr: up == 0, enabled: false}
  - {name: ShopAvailabilityBudgetBurn, enabled: false}
slos:
  - name: availability
    objective: 99.9
    sli:
      ratio:
        errors: {metric: shop_orders_total, where: {code: "500"}}
        total: {metric: shop_orders_total}
dashboards:
  - uid: pay
    title: Pay
    rows:
      - title: Latency
        panels:
          - title: Latency
            description: Seconds.
            unit: s
            alerts: [PaySlow, PayDown]
            queries: [{metric: pay_lag_seconds}]
environments:
  prod:
    alerts:
      - {name: NodeHighCpu, enabled: true}
      - {name: PaySlow, condition: {above: 2}}
      - {name: PayDown, enabled: true}
"""


def _switches_spec(folder: Path) -> Path:
    path = write_spec(folder, "infrastructure", SWITCHES)
    text = path.read_text().replace(
        "  - {name: shop_orders_total, type: counter, help: Orders placed.}\n",
        "  - {name: shop_orders_total, type: counter, help: Orders placed., "
        'labels: [{name: code, values: ["200", "500"]}]}\n'
        "  - {name: pay_lag_seconds, type: gauge, help: Latency.}\n",
    )
    path.write_text(text)
    return path


def test_an_environment_turns_alerts_back_on_and_changes_the_tiers_still_on(
    tmp_path: Path,
) -> None:
    base, prod = pipeline.compile_spec(_switches_spec(tmp_path))
    assert base.spec is not None and prod.spec is not None, prod.diagnostics
    assert not [d for d in base.diagnostics + prod.diagnostics if d.severity.name == "ERROR"]
    names = {(a.name, a.severity.value) for a in base.spec.alerts}
    assert ("PaySlow", "critical") in names and ("PaySlow", "warning") not in names
    assert not {"NodeHighCpu", "PayDown", "PayOff", "Typo"} & {n for n, _ in names}
    on_in_prod = {(a.name, a.severity.value): a for a in prod.spec.alerts}
    assert {("NodeHighCpu", "warning"), ("PayDown", "critical")} <= set(on_in_prod)
    # the override of every tier left the switch of the warning tier alone
    assert ("PaySlow", "warning") not in on_in_prod
    assert on_in_prod[("PaySlow", "critical")].expr.endswith("> 2")
    (panel,) = next(d for d in base.spec.dashboards if d.uid == "pay").panels()
    (prod_panel,) = next(d for d in prod.spec.dashboards if d.uid == "pay").panels()
    assert (panel.alerts, prod_panel.alerts) == (("PaySlow",), ("PaySlow", "PayDown"))


def test_each_switch_that_turns_nothing_off_is_a_warning_saying_why(tmp_path: Path) -> None:
    (base, _prod) = pipeline.compile_spec(_switches_spec(tmp_path))
    found = {d.field_path: d.hint for d in base.diagnostics if d.code == "names/turns-off-nothing"}
    assert set(found) == {  # places in the spec's own file, after NoOrders
        "alerts[2].name",  # PayOff: a name and a summary, no alert of its own
        "alerts[3].name",  # the same misspelt name twice: neither turns the other off
        "alerts[4].name",
        "alerts[9].name",
    }
    assert found["alerts[9].name"] == (
        "it is SLO availability's burn-rate alert: set `enabled: false` on its "
        "`alerting` tier (page or ticket)"
    )
