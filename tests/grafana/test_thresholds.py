"""Alert thresholds as Grafana threshold steps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from monitorgen.model import (
    Alert,
    Comparison,
    Panel,
    PanelQuery,
    PanelThreshold,
    PanelType,
    Severity,
)
from monitorgen.targets.grafana.thresholds import (
    AlertLine,
    Step,
    alert_lines,
    alert_steps,
    explicit_steps,
)
from tests.prometheus.helpers import spec_from_text

from .helpers import FLAGSHIP, spec_of


def line(severity: Severity, comparison: Comparison, value: float) -> AlertLine:
    alert = Alert(f"{severity.value}{comparison.name}{value}", severity, "s", "up > 1")
    return AlertLine(alert, comparison, value, str(value))


def test_above_alerts_colour_the_values_over_them() -> None:
    steps = alert_steps(
        (
            line(Severity.WARNING, Comparison.ABOVE, 5),
            line(Severity.CRITICAL, Comparison.ABOVE, 10),
        )
    )
    assert steps == (Step(None, "green"), Step(5, "orange"), Step(10, "red"))


def test_below_alerts_invert_the_colours() -> None:
    steps = alert_steps(
        (
            line(Severity.CRITICAL, Comparison.BELOW, 0.8),
            line(Severity.WARNING, Comparison.BELOW, 0.9),
        )
    )
    assert steps == (Step(None, "red"), Step(0.8, "orange"), Step(0.9, "green"))


def test_each_region_takes_the_worst_alert_firing_in_it() -> None:
    steps = alert_steps(
        (
            line(Severity.WARNING, Comparison.BELOW, 0.05),
            line(Severity.CRITICAL, Comparison.ABOVE, 0.95),
            line(Severity.WARNING, Comparison.ABOVE, 0.8),
            line(Severity.CRITICAL, Comparison.ABOVE, 0.8),
        )
    )
    assert steps == (
        Step(None, "orange"),
        Step(0.05, "green"),
        Step(0.8, "red"),
        Step(0.95, "red"),
    ), "a step at every threshold, so each alert keeps its line"


def test_raw_alerts_ending_in_a_comparison_have_a_threshold() -> None:
    raw = Alert("A", Severity.CRITICAL, "s", "time() - max(x) > 3600")
    anded = Alert("B", Severity.CRITICAL, "s", "up == 0 and on() vector(1) > 0")
    spec = replace(spec_of(FLAGSHIP), alerts=(raw, anded))
    panel = Panel("p", PanelType.TIMESERIES, (PanelQuery("up"),), alerts=("A", "B"))
    (found,) = alert_lines(spec, panel)
    assert (found.alert.name, found.comparison, found.value) == ("A", Comparison.ABOVE, 3600.0)


def test_unknown_alerts_are_skipped() -> None:
    spec = spec_of(FLAGSHIP)
    panel = Panel("p", PanelType.TIMESERIES, (PanelQuery("up"),), alerts=("Nope",))
    assert alert_lines(spec, panel) == ()


def test_explicit_thresholds_are_sorted_above_a_neutral_base() -> None:
    panel = Panel(
        "p",
        PanelType.STAT,
        (PanelQuery("up"),),
        thresholds=(PanelThreshold(1, "red"), PanelThreshold(0.2, "yellow")),
    )
    assert explicit_steps(panel) == (Step(None, "green"), Step(0.2, "yellow"), Step(1, "red"))


def test_a_panel_draws_the_alerts_that_aggregate_its_measure_the_same_way(
    tmp_path: Path,
) -> None:
    """A sum over replicas does not cross the line a per-replica maximum alerts on, nor a
    total the line of an alert on each pod; a panel splitting the pods further does."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: api\n"
        "metrics:\n  - {name: api_in_flight, type: gauge, help: In flight., labels: [pod, zone]}\n"
        "alerts:\n  - name: ApiReplicaBusy\n    severity: warning\n    summary: Busy.\n"
        "    condition: {metric: api_in_flight, aggregation: max, above: 200}\n"
        "  - name: ApiPodLoaded\n    severity: info\n    summary: Loaded.\n"
        "    condition: {metric: api_in_flight, aggregation: sum, by: [pod], above: 50}\n"
        "dashboards:\n  - uid: api\n    title: API\n    rows:\n      - title: Load\n"
        "        panels:\n"
        + "".join(
            f"          - title: {title}\n            unit: short\n            description: d\n"
            f"            queries: [{{metric: api_in_flight, {query}}}]\n"
            for title, query in (
                ("Total", "aggregation: sum"),
                ("Busiest", "by: [pod]"),
                ("PerPod", "aggregation: sum, by: [pod]"),
                ("PerPodAndZone", "aggregation: sum, by: [pod, zone]"),
            )
        ),
    )
    (dashboard,) = spec.dashboards
    assert {p.title: p.alerts for p in dashboard.panels()} == {
        "Total": (),
        "Busiest": ("ApiReplicaBusy",),
        "PerPod": ("ApiPodLoaded",),
        "PerPodAndZone": ("ApiPodLoaded",),
    }


def test_a_heatmap_of_a_histogram_shows_its_buckets(tmp_path: Path) -> None:
    """Not a quantile or a rate of _count, which Grafana cannot lay out in buckets."""
    from monitorgen.promql import inspect
    from monitorgen.targets.grafana import dashboard_data

    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: api\n"
        "metrics:\n  - {name: api_latency_seconds, type: histogram, help: L., labels: [route]}\n"
        "dashboards:\n  - uid: api\n    title: API\n    rows:\n      - title: Latency\n"
        "        panels:\n          - title: Latency\n            type: heatmap\n"
        "            unit: s\n            description: d\n"
        "            queries:\n              - {metric: api_latency_seconds}\n"
        "              - {metric: api_latency_seconds, function: rate, where: {route: /a}}\n",
    )
    (dashboard,) = spec.dashboards
    board = dashboard_data(spec, dashboard)
    (panel,) = [p for p in board["panels"] if p["type"] == "heatmap"]
    for target in panel["targets"]:
        assert (target["format"], target["legendFormat"]) == ("heatmap", "{{le}}")
        facts = inspect(target["expr"].replace("$__rate_interval", "5m"))
        assert facts.aggregations == (("sum", ("le",)),)
        (use,) = facts.selectors
        assert (use.name, use.function) == ("api_latency_seconds_bucket", "rate")


def test_a_dashboard_variable_does_not_filter_the_label_a_ratio_splits_by(
    tmp_path: Path,
) -> None:
    """Filtering both sides by the split label would make every share 0 or 1."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: api\n"
        "metrics:\n  - {name: api_requests_total, type: counter, help: R., labels: [code, route]}\n"
        "dashboards:\n  - uid: api\n    title: API\n    variables: [code, route]\n"
        "    rows:\n      - title: Errors\n        panels:\n"
        "          - title: Errors\n            unit: percentunit\n            description: d\n"
        "            queries:\n"
        "              - {metric: api_requests_total, function: ratio, where: {code: '500'}}\n",
    )
    (dashboard,) = spec.dashboards
    ((query,),) = [p.queries for p in dashboard.panels()]
    assert 'route=~"$route"' in query.expr
    assert "$code" not in query.expr
