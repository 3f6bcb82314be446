"""Prometheus' own tool accepts the retention rules and config, the generated unit
tests of the aggregates pass, and they fail when an aggregate drifts from the spec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from monitorgen.retention_tests import retention_unit_tests
from tests.harness import require_binary

from .helpers import FLAGSHIP, SHOP, SPECS, load_spec, retention_rules, write_files

pytestmark = pytest.mark.tools


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _prometheus_folder(relative: str, tmp_path: Path) -> Path:
    return write_files(load_spec(relative), tmp_path) / "prometheus"


@pytest.mark.parametrize("relative", SPECS)
def test_promtool_accepts_the_rules_and_config_and_passes_the_retention_tests(
    relative: str, tmp_path: Path
) -> None:
    folder = _prometheus_folder(relative, tmp_path)
    for args in (
        ("check", "rules", "rules.yml"),
        ("check", "config", "prometheus.yml"),
        ("test", "rules", "retention.test.yml"),
    ):
        result = promtool(*args, cwd=folder)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("relative", SPECS)
def test_every_aggregate_is_checked_and_nothing_is_left_out(relative: str, tmp_path: Path) -> None:
    spec = load_spec(relative)
    tests, skipped = retention_unit_tests(spec)
    assert tests is not None and skipped == []
    (group,) = tests["tests"]
    checked = {check["expr"] for check in group["promql_expr_test"]}
    rules = yaml.safe_load((_prometheus_folder(relative, tmp_path) / "rules.yml").read_text())
    assert {rule["record"] for _group, rule in retention_rules(rules)} <= checked


@pytest.mark.parametrize(
    ("relative", "original", "changed"),
    [
        # a daily aggregate over two days
        (FLAGSHIP, "(increase(llm_cost_usd_total[1d]))", "(increase(llm_cost_usd_total[2d]))"),
        # an hourly aggregate that drops a label the spec keeps
        (
            FLAGSHIP,
            "sum by (job, task_type, model) (increase(llm_cost_usd_total[1h]))",
            "sum by (job, task_type) (increase(llm_cost_usd_total[1h]))",
        ),
        # a rate where the tier wants the increase
        (
            FLAGSHIP,
            "(increase(llm_tokens_total[1h]))",
            "(rate(llm_tokens_total[1h]))",
        ),
        # another quantile than the dashboards show
        (
            FLAGSHIP,
            "histogram_quantile(0.95, job_task_type_model_le:llm_latency_seconds_bucket:increase1d",
            "histogram_quantile(0.9, job_task_type_model_le:llm_latency_seconds_bucket:increase1d",
        ),
        # the maximum where the tier keeps the average
        (
            SHOP,
            "avg by (job, region) (avg_over_time(shop_cart_items[1d]))",
            "max by (job, region) (avg_over_time(shop_cart_items[1d]))",
        ),
        # one instance instead of the sum over them
        (
            SHOP,
            "sum by (job) (increase(shop_payment_seconds_sum[1d]))",
            "max by (job) (increase(shop_payment_seconds_sum[1d]))",
        ),
    ],
)
def test_the_retention_tests_fail_when_an_aggregate_drifts(
    relative: str, original: str, changed: str, tmp_path: Path
) -> None:
    folder = _prometheus_folder(relative, tmp_path)
    rules = folder / "rules.yml"
    text = rules.read_text()
    assert text.count(original) == 1
    rules.write_text(text.replace(original, changed))
    assert promtool("check", "rules", "rules.yml", cwd=folder).returncode == 0
    result = promtool("test", "rules", "retention.test.yml", cwd=folder)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout + result.stderr
