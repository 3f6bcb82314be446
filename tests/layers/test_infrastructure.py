"""The infrastructure layer: node_exporter panels and alerts, statically, with promtool,
and against a live node_exporter scraped by Prometheus on 127.0.0.1."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen.model import Dashboard, Spec
from monitorgen.promql import expand_grafana, inspect
from tests.harness import (
    NodeExporter,
    PrometheusServer,
    assert_listens_only_on_loopback,
    require_binary,
)

from .helpers import (
    LIVE_RATE_WINDOW,
    assert_promtool_tests_pass,
    build_into,
    live_expr,
    model,
    write_spec,
)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model(write_spec(tmp_path_factory.mktemp("spec"), "infrastructure"))


def hosts_dashboard(spec: Spec) -> Dashboard:
    (dashboard,) = [d for d in spec.dashboards if d.uid == "infrastructure-hosts"]
    return dashboard


def test_dashboard_has_cpu_memory_network_and_disk_panels_with_units(spec: Spec) -> None:
    dashboard = hosts_dashboard(spec)
    assert [row.title for row in dashboard.rows] == ["CPU", "Memory", "Network", "Disk"]
    units = {panel.title: panel.unit for panel in dashboard.panels()}
    assert units == {
        "CPU busy": "percentunit",
        "Load per core": "short",
        "Memory used": "percentunit",
        "Memory available": "bytes",
        "Network traffic": "Bps",
        "Disk space used": "percentunit",
        "Disk I/O": "Bps",
    }


def test_every_series_the_layer_reads_is_a_declared_node_exporter_metric(spec: Spec) -> None:
    used: set[str] = set()
    for panel in hosts_dashboard(spec).panels():
        for query in panel.queries:
            used.update(inspect(expand_grafana(query.expr)).metric_names)
    for alert in spec.alerts:
        if alert.name != "NoOrders":
            used.update(inspect(alert.expr).metric_names)
    assert used - {"up"} <= set(spec.external_metrics)
    assert all(name.startswith("node_") for name in spec.external_metrics)
    assert "up" in used


def test_usual_host_alerts_are_there(spec: Spec) -> None:
    alerts = {alert.name: alert for alert in spec.alerts}
    assert alerts["TargetDown"].expr == "up == 0"
    filling = inspect(alerts["NodeDiskFillingUp"].expr)
    assert filling.top_is_comparison and "predict_linear" in filling.functions
    (selector,) = filling.selectors
    assert selector.name == "node_filesystem_avail_bytes" and selector.range is not None
    assert selector.range.total_seconds() == 6 * 3600
    memory = inspect(alerts["NodeMemoryPressure"].expr)
    assert memory.metric_names == ("node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes")
    cpu = inspect(alerts["NodeHighCpu"].expr)
    assert cpu.selectors[0].labels == (("mode", "=", "idle"),)
    for alert in alerts.values():
        assert inspect(alert.expr).top_is_comparison, alert.name


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("layered")
    return build_into(write_spec(folder, "infrastructure, business"), folder / "generated")


@pytest.mark.tools
def test_promtool_accepts_the_rules_and_their_unit_tests(built: Path) -> None:
    promtool = require_binary("promtool")
    rules = built / "prometheus" / "rules.yml"
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert_promtool_tests_pass(built)


def test_every_alert_of_the_layer_is_tested(spec: Spec, built: Path) -> None:
    """Derived tests for what the expression tells (`up == 0`), the layer's own for the
    rest (a prediction, a ratio of two gauges, 1 - an average rate)."""
    text = (built / "prometheus" / "rules.test.yml").read_text()
    tested = {test["name"].split(":")[0].split(" ")[0] for test in yaml.safe_load(text)["tests"]}
    layer = {a.name for a in spec.alerts if a.name.startswith(("Node", "Target"))}
    assert len(layer) == 5
    assert layer <= tested
    untested = [line for line in text.splitlines() if line.startswith("# Not tested here: ")]
    assert not [line for line in untested if line.split(": ")[1] in layer]


@pytest.mark.tools
@pytest.mark.parametrize(
    ("original", "edited"),
    [
        ("> 0.9\n", "> 0.96\n"),
        ("MemTotal_bytes < 0.1", "MemTotal_bytes < 0.05"),
        ('ramfs"} < 0.05', 'ramfs"} < 0.005'),
        ("4 * 3600) < 0", "60) < 0"),
        (
            '{fstype!~"tmpfs|ramfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs"}',
            '{fstype!~"ramfs"} / node_filesystem_size_bytes{fstype!~"ramfs"}',
        ),
    ],
    ids=["cpu-threshold", "memory-threshold", "disk-threshold", "disk-horizon", "disk-tmpfs"],
)
def test_the_layer_tests_fail_once_its_rules_change(
    built: Path, tmp_path: Path, original: str, edited: str
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    for name in ("rules.yml", "rules.test.yml"):
        (folder / name).write_text((built / "prometheus" / name).read_text())
    rules = folder / "rules.yml"
    text = rules.read_text()
    assert text.count(original) >= 1
    rules.write_text(text.replace(original, edited))
    done = subprocess.run(
        [require_binary("promtool"), "test", "rules", "rules.test.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout


# --- live -------------------------------------------------------------------


@pytest.mark.e2e
def test_every_panel_query_returns_data_and_the_rules_load(
    built: Path,
    spec: Spec,
    node_exporter: NodeExporter,
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    assert_listens_only_on_loopback(node_exporter.pid)
    prometheus = prometheus_factory(
        (built / "prometheus" / "prometheus.yml").read_text(),
        {"rules.yml": every_second(built / "prometheus" / "rules.yml")},
        scrape_targets={spec.prometheus.job: [node_exporter.address]},
    )
    prometheus.wait_for(
        lambda: (prometheus.query_value(f"count_over_time(up[{LIVE_RATE_WINDOW}])") or 0) >= 3,
        timeout=30,
        message="a few scrapes of node_exporter",
    )
    for panel in hosts_dashboard(spec).panels():
        for query in panel.queries:
            expr = live_expr(query.expr)
            result = prometheus.wait_for(
                lambda expr=expr: prometheus.query(expr),  # type: ignore[misc]
                timeout=15,
                message=f"data for {panel.title}: {expr}",
            )
            values = [float(sample["value"][1]) for sample in result]
            assert all(value == value for value in values), (panel.title, result)  # no NaN
            if panel.unit == "percentunit":
                assert all(0 <= value <= 1 for value in values), (panel.title, values)

    groups = {group["name"]: group for group in prometheus.rules()}
    loaded = {rule["name"]: rule for group in groups.values() for rule in group["rules"]}
    layer_alerts = {a.name for a in spec.alerts} - {"NoOrders"}
    assert layer_alerts <= set(loaded)
    for name in layer_alerts:
        rule = prometheus.wait_for(
            lambda name=name: loaded_rule(prometheus, name),  # type: ignore[misc]
            timeout=15,
            message=f"{name} evaluated",
        )
        assert rule["health"] == "ok", rule


def loaded_rule(prometheus: PrometheusServer, name: str) -> dict[str, object] | None:
    for group in prometheus.rules():
        for rule in group["rules"]:
            if rule["name"] == name and rule.get("lastEvaluation", "").startswith("20"):
                return dict(rule)
    return None


def every_second(rules: Path) -> dict[str, Any]:
    """The rule file with the groups' own intervals dropped, so the harness' 1s applies."""
    data = yaml.safe_load(rules.read_text())
    for group in data["groups"]:
        group.pop("interval", None)
    return dict(data)


@pytest.mark.e2e
def test_target_down_goes_pending_when_node_exporter_stops(
    built: Path,
    spec: Spec,
    node_exporter: NodeExporter,
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    prometheus = prometheus_factory(
        (built / "prometheus" / "prometheus.yml").read_text(),
        {"rules.yml": every_second(built / "prometheus" / "rules.yml")},
        scrape_targets={spec.prometheus.job: [node_exporter.address]},
    )
    prometheus.wait_for(lambda: prometheus.query_value("up") == 1, message="node_exporter up")
    assert not prometheus.query('ALERTS{alertname="TargetDown"}')
    node_exporter.stop()
    alert = prometheus.wait_for(
        lambda: prometheus.query('ALERTS{alertname="TargetDown",alertstate="pending"}'),
        timeout=30,
        message="TargetDown pending",
    )
    assert alert[0]["metric"]["instance"] == node_exporter.address
