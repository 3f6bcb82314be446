"""The hourly and daily aggregate rules, read back from rules.yml and checked by what
their expressions do (promql_parser), not by their text."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitorgen.promql import inspect
from monitorgen.retention import WINDOWS, shipped_series
from monitorgen.targets.prometheus_rules import RULES_PATH

from .helpers import (
    FLAGSHIP,
    SHOP,
    SPECS,
    load_spec,
    recorded_names,
    retention_rules,
    variant_spec,
    yaml_file,
)

WINDOW_SECONDS = {"hourly": 3600, "daily": 86400}


def _rules(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml_file(load_spec(relative), RULES_PATH)
    return data


@pytest.mark.parametrize("relative", SPECS)
def test_each_tier_has_a_group_evaluated_at_the_normal_interval(relative: str) -> None:
    """A group run once a day would leave its series absent between runs (5m lookback)."""
    spec = load_spec(relative)
    groups = {g["name"]: g for g in _rules(relative)["groups"]}
    for tier in WINDOWS:
        group = groups[f"{spec.service}.retention.{tier}"]
        assert group["interval"] == spec.prometheus.evaluation_interval
        assert group["rules"]


@pytest.mark.parametrize("relative", SPECS)
def test_every_aggregate_reads_its_tier_window_and_says_so_in_its_name(relative: str) -> None:
    for group, rule in retention_rules(_rules(relative)):
        tier = group.rsplit(".", 1)[-1]
        window = WINDOWS[tier]
        assert rule["record"].endswith(window), rule
        facts = inspect(rule["expr"])
        ranges = {s.range for s in facts.selectors if s.range is not None}
        if ranges:
            assert ranges == {timedelta(seconds=WINDOW_SECONDS[tier])}, rule
        else:  # a quantile over the bucket increases of the same window, recorded before it
            (source,) = facts.metric_names
            assert source.endswith(f"_bucket:increase{window}")
            assert facts.functions == ("histogram_quantile",)


def test_counters_are_summed_increases_keeping_job_and_the_listed_labels() -> None:
    found = {rule["record"]: rule for _group, rule in retention_rules(_rules(FLAGSHIP))}
    for window in WINDOWS.values():
        requests = inspect(
            found[f"job_task_type_model_status:llm_requests:increase{window}"]["expr"]
        )
        assert requests.aggregations == (("sum", ("job", "task_type", "model", "status")),)
        (selector,) = requests.selectors
        assert (selector.name, selector.function) == ("llm_requests_total", "increase")
        assert selector.labels == ()
        cost = inspect(found[f"job_task_type_model:llm_cost_usd:increase{window}"]["expr"])
        assert cost.aggregations == (("sum", ("job", "task_type", "model")),)


def test_histograms_keep_buckets_count_sum_and_the_quantiles_the_dashboards_show() -> None:
    groups = {g["name"]: g["rules"] for g in _rules(FLAGSHIP)["groups"]}
    rules = groups["llm.retention.daily"]
    names = [r["record"] for r in rules]
    bucket = "job_task_type_model_le:llm_latency_seconds_bucket:increase1d"
    quantile = "job_task_type_model_quantile:llm_latency_seconds:histogram_quantile_increase1d"
    bucket_facts = inspect(rules[names.index(bucket)]["expr"])
    assert bucket_facts.aggregations == (("sum", ("job", "task_type", "model", "le")),)
    assert {
        f"job_task_type_model:llm_latency_seconds_{p}:increase1d" for p in ("count", "sum")
    } <= set(names)
    quantiles = [r for r in rules if r["record"] == quantile]
    assert sorted(float(r["labels"]["quantile"]) for r in quantiles) == [0.5, 0.95, 0.99]
    assert all(names.index(bucket) < rules.index(r) for r in quantiles)


def test_gauges_keep_their_average_and_maximum() -> None:
    found = {rule["record"]: rule for _group, rule in retention_rules(_rules(FLAGSHIP))}
    average = inspect(found["job_task_type_scenario:llm_quality_score:avg_over_time1h"]["expr"])
    assert average.aggregations == (("avg", ("job", "task_type", "scenario")),)
    assert average.selectors[0].function == "avg_over_time"
    maximum = inspect(found["job_task_type_scenario:llm_quality_score:max_over_time1d"]["expr"])
    assert maximum.aggregations == (("max", ("job", "task_type", "scenario")),)
    assert maximum.selectors[0].function == "max_over_time"


def test_a_summary_keeps_its_count_and_sum() -> None:
    found = {rule["record"] for _group, rule in retention_rules(_rules(SHOP))}
    for window in WINDOWS.values():
        assert f"job:shop_payment_seconds_count:increase{window}" in found
        assert f"job:shop_payment_seconds_sum:increase{window}" in found


def test_by_default_the_queried_counters_and_histograms_are_kept(tmp_path: Path) -> None:
    spec = variant_spec(FLAGSHIP, tmp_path, {"raw": "7d"})
    rules: dict[str, Any] = yaml_file(spec, RULES_PATH)
    read = {
        name
        for _group, rule in retention_rules(rules)
        for name in inspect(rule["expr"]).metric_names
        if ":" not in name
    }
    # Not the baseline tokens (no panel or alert queries them) and not the gauge.
    assert read == {
        "llm_requests_total",
        "llm_tokens_total",
        "llm_cost_usd_total",
        "llm_latency_seconds_bucket",
        "llm_latency_seconds_count",
        "llm_latency_seconds_sum",
        "llm_quality_checks_total",
    }
    requests = inspect(
        next(r["expr"] for _g, r in retention_rules(rules) if "llm_requests" in r["record"])
    )
    assert requests.aggregations == (("sum", ("job", "task_type", "model", "provider", "status")),)


def test_an_aggregate_another_group_records_the_same_way_is_not_written_twice() -> None:
    """The shop's panel already records `job:shop_orders:increase1h`."""
    spec = load_spec(SHOP)
    rules = _rules(SHOP)
    everywhere = [
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    ]
    assert everywhere.count("job:shop_orders:increase1h") == 1
    assert "job:shop_orders:increase1h" in recorded_names(rules, ".aggregations")
    assert "job:shop_orders:increase1h" in shipped_series(spec)
    assert "job:shop_orders:increase1d" in recorded_names(rules, ".retention.daily")


def test_without_a_retention_section_nothing_changes(tmp_path: Path) -> None:
    without = variant_spec(SHOP, tmp_path, None)
    rules: dict[str, Any] = yaml_file(without, RULES_PATH)
    assert retention_rules(rules) == []
    assert "retention" not in " ".join(g["name"] for g in rules["groups"])
