"""A real Prometheus on 127.0.0.1 loads the generated config and rules, scrapes a
process whose metrics sit above and below the thresholds, and fires exactly the
alerts the spec implies (read back through /api/v1/alerts and /api/v1/rules).

Only test-side overrides shorten time: rule groups run every second and `for` is
dropped, so alerts fire as soon as their condition holds.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from monitorgen.model import Spec
from monitorgen.targets.prometheus_config import CONFIG_PATH
from monitorgen.targets.prometheus_rules import RULES_PATH
from tests.harness import (
    MetricsApp,
    PrometheusServer,
    assert_listens_only_on_loopback,
    free_port,
    pid_alive,
)

from .helpers import load_spec, prometheus_files, rules_of

pytestmark = pytest.mark.e2e
#: Evaluations (one a second) after the expected alerts fire, for stray ones to show.
SETTLE_SECONDS = 4

QUEUE_WORKER_APP = '''
"""Billing workers: invoices are stuck, refunds flow, reminders fail half the time."""
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
PROCESSED = Counter("worker_jobs_processed", "Finished jobs.", ["queue", "job_type"],
                    registry=REGISTRY)
FAILED = Counter("worker_jobs_failed", "Failed jobs.", ["queue", "job_type", "reason"],
                 registry=REGISTRY)
DEPTH = Gauge("worker_queue_depth", "Jobs waiting.", ["queue"], registry=REGISTRY)
LAST_SUCCESS = Gauge("worker_last_success_timestamp_seconds", "Last success.", ["queue"],
                     registry=REGISTRY)
DURATION = Histogram("worker_job_duration_seconds", "Job time.", ["queue", "job_type"],
                     buckets=[0.5, 1, 5, 10, 30, 60, 120, 300, 600], registry=REGISTRY)

DEPTH.labels("invoices").set(600)
DEPTH.labels("refunds").set(100)
DEPTH.labels("reminders").set(0)
PROCESSED.labels("invoices", "invoice")
LAST_SUCCESS.labels("invoices").set(time.time() - 7200)


def tick():
    """One round of work on the queues that move."""
    for queue, failures in (("refunds", 0), ("reminders", 5)):
        PROCESSED.labels(queue, "notice").inc(10)
        if failures:
            FAILED.labels(queue, "notice", "upstream").inc(failures)
        for _ in range(10):
            DURATION.labels(queue, "notice").observe(0.2)
        LAST_SUCCESS.labels(queue).set(time.time())
    return True
'''

HTTP_API_APP = '''
"""An API under load: many requests in flight, all of them fast; no request counter yet."""
from prometheus_client import CollectorRegistry, Gauge, Histogram

REGISTRY = CollectorRegistry()
IN_FLIGHT = Gauge("http_requests_in_flight", "In flight.", registry=REGISTRY)
DURATION = Histogram("http_request_duration_seconds", "Duration.", ["method", "route"],
                     buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
                     registry=REGISTRY)
IN_FLIGHT.set(250)


def tick():
    for _ in range(20):
        DURATION.labels("GET", "/orders").observe(0.02)
    return True
'''


def fast_rules(spec: Spec) -> dict[str, Any]:
    """The generated rules, evaluated every second and firing without waiting."""
    rules = rules_of(spec)
    groups = []
    for group in rules["groups"]:
        fast = [{k: v for k, v in rule.items() if k != "for"} for rule in group["rules"]]
        groups.append({**group, "interval": "1s", "rules": fast})
    return {"groups": groups}


def firing(prometheus: PrometheusServer) -> set[tuple[str, ...]]:
    """(alertname, the labels that tell the alerts apart) of every firing alert."""
    found = set()
    for alert in prometheus.alerts():
        if alert["state"] != "firing":
            continue
        labels = alert["labels"]
        keys = ("queue", "slo_tier", "instance")
        found.add((labels["alertname"], *(f"{k}={labels[k]}" for k in keys if k in labels)))
    return found


def run_until_alerts(
    prometheus: PrometheusServer, app: MetricsApp, expected: set[tuple[str, ...]]
) -> set[tuple[str, ...]]:
    """Keep the app working until the expected alerts fire, then a few seconds more so
    that any alert that should not fire has had the chance to."""

    def expected_firing() -> bool:
        app.call("tick")
        return expected <= firing(prometheus)

    prometheus.wait_for(expected_firing, timeout=60, message=f"alerts {sorted(expected)}")
    settle_until = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < settle_until:
        app.call("tick")
        time.sleep(0.5)
    return firing(prometheus)


def start(
    spec: Spec,
    module: str,
    tmp_path: Path,
    metrics_app_factory: Callable[[Path], MetricsApp],
    prometheus_factory: Callable[..., PrometheusServer],
    extra_targets: tuple[str, ...] = (),
) -> tuple[PrometheusServer, MetricsApp]:
    module_path = tmp_path / "app.py"
    module_path.write_text(textwrap.dedent(module))
    app = metrics_app_factory(module_path)
    config = prometheus_files(spec)[CONFIG_PATH].decode()
    prometheus = prometheus_factory(
        config,
        {RULES_PATH.rsplit("/", 1)[-1]: fast_rules(spec)},
        scrape_targets=[app.address, *extra_targets],
    )
    for pid in (app.pid, prometheus.pid):
        assert_listens_only_on_loopback(pid)
    return prometheus, app


def assert_rules_loaded_and_healthy(prometheus: PrometheusServer, spec: Spec) -> None:
    groups = prometheus.rules()
    assert [g["name"] for g in groups] == [g["name"] for g in rules_of(spec)["groups"]]
    expected = sum(len(g["rules"]) for g in rules_of(spec)["groups"])
    assert sum(len(g["rules"]) for g in groups) == expected
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]]
    assert [r for r in unhealthy if r[1]] == []
    assert all(r["health"] == "ok" for g in groups for r in g["rules"])


def test_queue_worker_alerts_fire_only_for_the_queues_past_their_thresholds(
    tmp_path: Path,
    metrics_app_factory: Callable[[Path], MetricsApp],
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    spec = load_spec("tests/specs/queue_worker.yaml")
    prometheus, app = start(
        spec, QUEUE_WORKER_APP, tmp_path, metrics_app_factory, prometheus_factory
    )
    burn = "QueueWorkerJobSuccessBudgetBurn"
    expected = {
        ("QueueBacklog", "queue=invoices"),
        ("WorkerStalled", "queue=invoices"),
        ("NoRecentSuccess", "queue=invoices"),
        ("JobFailuresHigh", "queue=reminders"),
        (burn, "queue=reminders", "slo_tier=page"),
        (burn, "queue=reminders", "slo_tier=ticket"),
    }
    assert run_until_alerts(prometheus, app, expected) == expected
    assert_rules_loaded_and_healthy(prometheus, spec)
    ratio = 'slo:sli_error:ratio_rate5m{slo="job_success",queue="reminders"}'
    assert prometheus.query_value(ratio) == 0.5
    assert prometheus.query_value('slo:sli_error:ratio_rate5m{queue="refunds"}') == 0
    assert prometheus.query('slo:sli_error:ratio_rate5m{queue="invoices"}') == []


def test_http_api_alerts_on_a_dead_target_a_crowded_server_and_a_missing_sli(
    tmp_path: Path,
    metrics_app_factory: Callable[[Path], MetricsApp],
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    spec = load_spec("tests/specs/http_api.yaml")
    dead = f"127.0.0.1:{free_port()}"
    prometheus, app = start(
        spec, HTTP_API_APP, tmp_path, metrics_app_factory, prometheus_factory, (dead,)
    )
    expected = {
        ("HttpTargetDown", f"instance={dead}"),
        ("HttpTooManyInFlight",),
        ("HttpApiAvailabilitySliAbsent",),
    }
    assert run_until_alerts(prometheus, app, expected) == expected
    assert_rules_loaded_and_healthy(prometheus, spec)
    assert prometheus.query_value('slo:sli_error:ratio_rate5m{slo="latency"}') == 0
    app_pid, prometheus_pid = app.pid, prometheus.pid
    app.stop()
    prometheus.stop()
    assert not pid_alive(app_pid) and not pid_alive(prometheus_pid)
