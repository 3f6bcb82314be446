"""Every dashboard query, as Grafana sends it after variable expansion, runs on a real
Prometheus (127.0.0.1) that scrapes every metric the specs declare, and returns data."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitorgen.model import Metric, MetricType
from monitorgen.promql import expand_grafana
from tests.harness import MetricsApp, PrometheusServer

from .helpers import SPEC_FILES, dashboards_of, panels, spec_of

CLASSES = {
    MetricType.COUNTER: "Counter",
    MetricType.GAUGE: "Gauge",
    MetricType.HISTOGRAM: "Histogram",
    MetricType.SUMMARY: "Summary",
}


def label_values(metric: Metric) -> list[list[tuple[str, str]]]:
    """Every combination of the metric's allowed label values (two made-up ones if open)."""
    choices = [
        [(label.name, value) for value in (label.values or ("a", "b"))] for label in metric.labels
    ]
    return [list(combination) for combination in itertools.product(*choices)]


def declaration(metric: Metric) -> str:
    kind = CLASSES[metric.type]
    name = metric.name.removesuffix("_total") if metric.type is MetricType.COUNTER else metric.name
    extra = f", buckets={list(metric.buckets)!r}" if metric.buckets else ""
    return (
        f"{metric.name} = prometheus_client.{kind}({name!r}, {metric.help!r}, "
        f"{list(metric.label_names)!r}, registry=REGISTRY{extra})"
    )


def update(metric: Metric, labels: list[tuple[str, str]]) -> str:
    target = f"{metric.name}.labels(**{dict(labels)!r})" if labels else metric.name
    if metric.type is MetricType.COUNTER:
        return f"    {target}.inc(3)"
    if metric.type is MetricType.GAUGE:
        return f"    {target}.set(0.5 + step)"
    return f"    {target}.observe(0.3 * step + 0.2)"


def metrics_module(metrics: list[Metric]) -> str:
    """A module that declares the metrics and moves every series on each `record()`."""
    lines = ["import prometheus_client", "", "REGISTRY = prometheus_client.CollectorRegistry()"]
    lines += [declaration(m) for m in metrics]
    lines += ["", "", "def record(step: int) -> None:"]
    lines += [update(m, labels) for m in metrics for labels in label_values(m)]
    return "\n".join(lines) + "\n"


@pytest.mark.e2e
def test_every_dashboard_query_runs_and_returns_data(
    tmp_path: Path,
    prometheus_factory: Callable[..., PrometheusServer],
    metrics_app_factory: Callable[[Path], MetricsApp],
) -> None:
    specs = [spec_of(path) for path in SPEC_FILES]
    metrics = list({m.name: m for spec in specs for m in spec.metrics}.values())
    module = tmp_path / "all_metrics.py"
    module.write_text(metrics_module(metrics))
    app = metrics_app_factory(module)
    app.call("record", step=0)
    prometheus = prometheus_factory(
        {"scrape_configs": [{"job_name": "app", "static_configs": [{"targets": ["x"]}]}]},
        scrape_targets=[app.address],
    )
    prometheus.wait_for(lambda: prometheus.query_value("count(up == 1)") == 1, message="scrape")
    for step in (1, 2):
        time.sleep(2.5)
        app.call("record", step=step)
    time.sleep(2.5)

    empty = []
    values: dict[tuple[str, str], float] = {}
    for path in SPEC_FILES:
        for board in dashboards_of(path).values():
            for panel in panels(board):
                for target in panel["targets"]:
                    expr = expand_grafana(target["expr"])
                    result = prometheus.query(expr)  # raises if Prometheus refuses it
                    if result:
                        values[panel["title"], target["legendFormat"]] = float(
                            result[0]["value"][1]
                        )
                    elif "offset" not in expr:
                        empty.append((panel["title"], expr))
            for annotation in board["annotations"]["list"]:
                if "expr" in annotation:
                    prometheus.query(annotation["expr"])
    for _ in range(3):  # a scrape that timed out on a busy machine marks the gauges stale
        if not empty:
            break
        _wait_for_a_fresh_scrape(prometheus)
        empty = [(title, expr) for title, expr in empty if not prometheus.query(expr)]
    assert empty == []
    assert len(values) > 30
    spent = values["Cost forecast", "month to date"]
    assert values["Cost forecast", "end of month"] > spent > 0
    assert values["Cumulative daily cost", "Cumulative daily cost"] > 0


def _wait_for_a_fresh_scrape(prometheus: PrometheusServer) -> None:
    """Until a scrape that started from now on succeeded: the app's series are fresh."""
    now = time.time()
    prometheus.wait_for(
        lambda: (
            prometheus.query_value("up") == 1
            and (prometheus.query_value("timestamp(up)") or 0) > now
        ),
        message="a successful scrape",
    )
