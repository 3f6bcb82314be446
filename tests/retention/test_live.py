"""The retention tiers live: a real Prometheus on 127.0.0.1 started with the generated
flags, config and rules scrapes the generated llm_metrics module, records the hourly
and daily aggregates, and ships exactly those series (and nothing else) by
remote_write to a capture server, with the bearer token read from its file.

The harness drops remote_write from the configs it starts Prometheus with, so the
test puts the generated block back, pointed at the capture server, and reloads.
Only the rule groups' interval is shortened (to 1s); windows stay 1h and 1d.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitorgen.promql import seconds
from monitorgen.retention import shipped_series
from monitorgen.targets.prometheus_config import CONFIG_PATH
from monitorgen.targets.prometheus_rules import RULES_PATH
from monitorgen.targets.retention import PROMETHEUS_ARGS_PATH
from tests.harness import CaptureServer, MetricsApp, PrometheusServer
from tests.harness.rewrite import dump_config

from .helpers import FLAGSHIP, files_of, flags_in, load_spec, write_files, yaml_file
from .remote_write import WriteRequest, decode_write_request

pytestmark = pytest.mark.e2e

TOKEN = "long-term-store-token"


def _fast_rules(rules: dict[str, Any]) -> dict[str, Any]:
    return {"groups": [{**group, "interval": "1s"} for group in rules["groups"]]}


def _record_traffic(app: MetricsApp) -> None:
    app.call(
        "record_llm_call",
        task_type="chat",
        model="gpt-4o",
        provider="openai",
        input_tokens=1200,
        output_tokens=300,
        cached_input_tokens=200,
        reasoning_tokens=100,
        latency_ms=1800.0,
        baseline_tokens=2500,
    )
    app.call("record_quality_score", task_type="chat", scenario="default", score=0.9)
    app.call("record_quality_check", task_type="chat", check="intimacy", result="pass")


@pytest.fixture
def stack(
    tmp_path: Path,
    capture_server: CaptureServer,
    metrics_app_factory: Callable[[Path], MetricsApp],
    prometheus_factory: Callable[..., PrometheusServer],
) -> Iterator[tuple[PrometheusServer, MetricsApp]]:
    spec = load_spec(FLAGSHIP)
    out = write_files(spec, tmp_path / "generated")
    app = metrics_app_factory(out / "python" / "llm_metrics.py")
    files = files_of(spec)
    prometheus = prometheus_factory(
        files[CONFIG_PATH].decode(),
        {"rules.yml": _fast_rules(yaml_file(spec, RULES_PATH))},
        scrape_targets=[app.address],
        extra_args=flags_in(files[PROMETHEUS_ARGS_PATH]),
    )
    _ship_to(prometheus, capture_server, tmp_path / "token")
    yield prometheus, app


def _ship_to(prometheus: PrometheusServer, capture: CaptureServer, token_file: Path) -> None:
    """Put the generated remote_write back, pointed at the capture server."""
    token_file.write_text(TOKEN + "\n")
    (block,) = yaml_file(load_spec(FLAGSHIP), CONFIG_PATH)["remote_write"]
    block["url"] = f"{capture.url}/write"
    block["authorization"]["credentials_file"] = str(token_file)
    block["queue_config"] = {"batch_send_deadline": "1s"}
    config = {**prometheus.config, "remote_write": [block]}
    prometheus.config_path.write_text(dump_config(config))
    prometheus.reload()


def _received(capture: CaptureServer) -> list[WriteRequest]:
    return [decode_write_request(r.body) for r in capture.requests if r.path == "/write"]


def test_the_aggregates_are_recorded_and_only_they_are_shipped(
    stack: tuple[PrometheusServer, MetricsApp], capture_server: CaptureServer
) -> None:
    prometheus, app = stack
    expected = set(shipped_series(load_spec(FLAGSHIP)))

    def shipped_names() -> set[str]:
        _record_traffic(app)
        return {s.name for request in _received(capture_server) for s in request.series}

    prometheus.wait_for(
        lambda: expected <= shipped_names(), timeout=60, message="every aggregate shipped"
    )
    requests = [r for r in capture_server.requests if r.path == "/write"]
    assert all(r.headers.get("Content-Encoding") == "snappy" for r in requests)
    assert all(r.headers.get("Content-Type") == "application/x-protobuf" for r in requests)
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in requests)
    decoded = _received(capture_server)
    assert {s.name for request in decoded for s in request.series} == expected
    assert sum(request.metadata_entries for request in decoded) == 0
    # Aggregates sum the instances away and keep the labels the spec lists.
    labels = [s.labels for request in decoded for s in request.series]
    assert not any("instance" in each for each in labels)
    cost = [each for each in labels if each["__name__"].endswith(":llm_cost_usd:increase1d")]
    assert cost and all(set(each) == {"__name__", "job", "task_type", "model"} for each in cost)


def test_prometheus_runs_with_the_generated_flags_and_records_the_traffic(
    stack: tuple[PrometheusServer, MetricsApp],
) -> None:
    prometheus, app = stack
    flags = prometheus.api("/api/v1/status/flags")
    assert seconds(flags["storage.tsdb.retention.time"]) == seconds("7d")  # shown as 1w
    assert flags["storage.tsdb.min-block-duration"] == "2h"
    assert flags["storage.tsdb.max-block-duration"] == "2h"
    names = shipped_series(load_spec(FLAGSHIP))

    def all_recorded() -> bool:
        _record_traffic(app)
        return all(prometheus.query(name) for name in names)

    prometheus.wait_for(all_recorded, timeout=60, message="every aggregate recorded")
    requests = prometheus.query_value(
        'job_task_type_model_status:llm_requests:increase1h{task_type="chat",status="ok"}'
    )
    assert requests is not None and requests > 0
    p95 = prometheus.query_value(
        "job_task_type_model_quantile:llm_latency_seconds:histogram_quantile_increase1d"
        '{quantile="0.95"}'
    )
    assert p95 is not None and 1 < p95 <= 2.5  # 1.8s calls: in the (1, 2.5] bucket
    quality = prometheus.query_value("job_task_type_scenario:llm_quality_score:avg_over_time1h")
    assert quality == pytest.approx(0.9)
