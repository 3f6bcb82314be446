"""The business layer: declared metrics, events recording them, and panels that compute
activity, conversion and retention -- checked statically and end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitorgen.model import Dashboard, MetricType, Spec
from monitorgen.promql import expand_grafana, inspect
from tests.harness import MetricsApp, PrometheusServer

from .helpers import build_into, live_expr, model, write_spec


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model(write_spec(tmp_path_factory.mktemp("spec"), "business"))


def business_dashboard(spec: Spec) -> Dashboard:
    (dashboard,) = [d for d in spec.dashboards if d.uid == "business-overview"]
    return dashboard


def panel_expr(spec: Spec, title: str) -> str:
    (panel,) = [p for p in business_dashboard(spec).panels() if p.title == title]
    (query,) = panel.queries
    return query.expr


def test_layer_metrics_have_fixed_business_names(spec: Spec) -> None:
    layer = {m.name: m.type for m in spec.metrics if m.name != "shop_orders_total"}
    assert layer == {
        "business_active_users": MetricType.GAUGE,
        "business_sessions_total": MetricType.COUNTER,
        "business_visits_total": MetricType.COUNTER,
        "business_conversions_total": MetricType.COUNTER,
        "business_cohort_users": MetricType.GAUGE,
        "business_retained_users": MetricType.GAUGE,
    }


def test_conversion_and_retention_panels_divide_the_right_series(spec: Spec) -> None:
    conversion = inspect(expand_grafana(panel_expr(spec, "Conversion rate")))
    assert [s.name for s in conversion.selectors] == [
        "business_conversions_total",
        "business_visits_total",
    ]
    assert conversion.divisions == 1
    assert all(s.in_counter_function for s in conversion.selectors)
    retention = inspect(panel_expr(spec, "Retention rate"))
    assert [s.name for s in retention.selectors] == [
        "business_retained_users",
        "business_cohort_users",
    ]
    assert retention.aggregations == (("max", ("period",)), ("max", ("period",)))


def test_every_layer_metric_is_recorded_by_an_event_and_shown_on_a_panel(spec: Spec) -> None:
    recorded = {u.metric for e in spec.events for u in e.updates}
    shown: set[str] = set()
    for panel in business_dashboard(spec).panels():
        for query in panel.queries:
            shown.update(inspect(expand_grafana(query.expr)).metric_names)
    layer = {m.name for m in spec.metrics if m.name.startswith("business_")}
    assert layer <= recorded
    assert layer <= shown


@pytest.mark.e2e
def test_panels_compute_activity_conversion_and_retention_from_the_module(
    tmp_path: Path,
    spec: Spec,
    metrics_app_factory: Callable[[Path], MetricsApp],
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    built = build_into(write_spec(tmp_path, "business"), tmp_path / "generated")
    app = metrics_app_factory(built / "python" / "shop_metrics.py")
    app.call("record_business_visit", count=0)
    app.call("record_business_conversion", count=0)
    app.call("record_business_session", count=0)
    prometheus = prometheus_factory(
        (built / "prometheus" / "prometheus.yml").read_text(),
        scrape_targets={spec.prometheus.job: [app.address]},
    )
    prometheus.wait_for(
        lambda: prometheus.query("business_visits_total"), message="first scrape of the app"
    )

    app.call("record_business_visit", count=8)
    app.call("record_business_conversion", count=2)
    app.call("record_business_session", count=6)
    app.call("record_business_active_users", window="1d", users=120)
    app.call("record_business_active_users", window="30d", users=900)
    app.call("record_business_retention", period="d7", cohort_users=100, retained_users=40)

    def value(title: str) -> float | None:
        return prometheus.query_value(live_expr(panel_expr(spec, title)))

    def positive(title: str) -> float | None:
        found = value(title)
        return found if found is not None and found > 0 else None  # not 0/0 = NaN yet

    conversion = prometheus.wait_for(
        lambda: positive("Conversion rate"), timeout=20, message="conversions seen"
    )
    assert conversion == pytest.approx(2 / 8)
    assert value("Retention rate") == pytest.approx(0.4)
    active = prometheus.query(live_expr(panel_expr(spec, "Active users")))
    assert {s["metric"]["window"]: float(s["value"][1]) for s in active} == {
        "1d": 120,
        "30d": 900,
    }
    assert prometheus.query_value("business_sessions_total") == 6
    assert positive("Sessions per hour")
