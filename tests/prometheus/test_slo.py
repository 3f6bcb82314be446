"""SLO rules: the workbook's windows and factors, derived factors for other periods,
NaN-free SLIs, per-tier settings and the absent alert."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitorgen.gotemplate import go_float
from monitorgen.model import Severity, SloTier
from monitorgen.promql import client_le, inspect, parse
from monitorgen.slo import (
    Tier,
    bucket_matcher,
    burn_windows,
    decimal_text,
    error_budget,
    scaled_burn_windows,
    slo_rule_group,
    windows,
)

from .helpers import load_spec, rules_by_name

LLM = "specs/llm.yaml"
HTTP = "tests/specs/http_api.yaml"
QUEUE = "tests/specs/queue_worker.yaml"


def pairs(slo_path: str, index: int, tier: Tier) -> list[tuple[str, str, str]]:
    slo = load_spec(slo_path).slos[index]
    return [(w.long, w.short, str(w.factor)) for w in scaled_burn_windows(slo, tier)]


def test_a_30_day_slo_uses_the_workbook_windows_and_factors() -> None:
    assert pairs(LLM, 0, Tier.PAGE) == [("1h", "5m", "14.4"), ("6h", "30m", "6")]
    assert pairs(LLM, 0, Tier.TICKET) == [("1d", "2h", "3"), ("3d", "6h", "1")]


@pytest.mark.parametrize(
    ("spec_path", "index", "page", "ticket"),
    [
        (HTTP, 1, ["13.44", "5.6"], ["2.8", "0.9333"]),  # 28 days
        (QUEUE, 0, ["3.36", "1.4"], ["0.7", "0.2333"]),  # 7 days
    ],
)
def test_other_periods_scale_the_factors_so_each_alert_spends_the_same_budget_share(
    spec_path: str, index: int, page: list[str], ticket: list[str]
) -> None:
    assert [f for *_, f in pairs(spec_path, index, Tier.PAGE)] == page
    assert [f for *_, f in pairs(spec_path, index, Tier.TICKET)] == ticket
    slo = load_spec(spec_path).slos[index]
    days = Decimal(int(slo.period.removesuffix("d")))
    for window in scaled_burn_windows(slo, Tier.PAGE):
        hours = {"1h": 1, "6h": 6}[window.long]
        share = window.factor * hours / (days * 24)
        assert round(share, 3) == {"1h": Decimal("0.02"), "6h": Decimal("0.05")}[window.long]


@pytest.mark.parametrize(
    ("spec_path", "index", "ticket"),
    [(HTTP, 1, ["2.8", "1"]), (QUEUE, 0, ["1", "1"])],  # 28 and 7 days
)
def test_no_alert_burns_below_1x_where_the_budget_lasts_the_period(
    spec_path: str, index: int, ticket: list[str]
) -> None:
    """A 7d SLO's ticket scaled to 0.7x over 1d and 0.23x over 3d: it opened while the SLO
    was met. Its alerts (and their rules) burn at 1x or more."""
    slo = load_spec(spec_path).slos[index]
    assert [str(w.factor) for w in burn_windows(slo, Tier.TICKET)] == ticket
    rules = rules_by_name(load_spec(spec_path))[slo.alert_name]
    (rule,) = [r for r in rules if r["labels"]["slo_tier"] == "ticket"]
    assert "(0.9333 *" not in rule["expr"] and "(0.2333 *" not in rule["expr"]
    assert f"(1 * {decimal_text(error_budget(slo))})" in rule["expr"]


def test_the_error_budget_is_exact() -> None:
    assert error_budget(load_spec(HTTP).slos[0]) == Decimal("0.001")
    assert error_budget(load_spec(LLM).slos[0]) == Decimal("0.005")


def test_every_window_an_alert_reads_is_recorded_with_the_slo_labels() -> None:
    spec = load_spec(LLM)
    rules = rules_by_name(spec)
    recorded = {
        (name.removeprefix("slo:sli_error:ratio_rate"), rule["labels"]["slo"])
        for name, found in rules.items()
        if name.startswith("slo:sli_error:")
        for rule in found
    }
    for slo in spec.slos:
        assert {w for w, s in recorded if s == slo.name} == set(windows(slo))
        for rule in rules[slo.alert_name]:
            for selector in inspect(rule["expr"]).selectors:
                labels = {(k, v) for k, _op, v in selector.labels}
                assert {("slo", slo.name), ("service", spec.service)} <= labels
                assert (selector.name or "").removeprefix("slo:sli_error:ratio_rate") in windows(
                    slo
                )


def sli_record(spec_path: str, slo_name: str, window: str) -> dict[str, Any]:
    found = rules_by_name(load_spec(spec_path))[f"slo:sli_error:ratio_rate{window}"]
    (rule,) = [r for r in found if r["labels"]["slo"] == slo_name]
    return rule


@pytest.mark.parametrize(("spec_path", "slo"), [(LLM, "availability"), (HTTP, "latency")])
def test_the_sli_divides_only_by_traffic_that_is_there(spec_path: str, slo: str) -> None:
    """The denominator is filtered by `> 0`: no traffic records nothing instead of NaN."""
    tree = parse(sli_record(spec_path, slo, "5m")["expr"])
    assert str(tree.op).strip() == "/"
    guard = tree.rhs
    while type(guard).__name__ == "ParenExpr":
        guard = guard.expr
    assert (str(guard.op).strip(), guard.rhs.val) == (">", 0)
    assert guard.modifier is None or not guard.modifier.return_bool


def test_a_ratio_sli_counts_no_errors_as_zero_not_as_missing() -> None:
    numerator = parse(sli_record(LLM, "availability", "1h")["expr"]).lhs
    while type(numerator).__name__ == "ParenExpr":
        numerator = numerator.expr
    assert str(numerator.op).strip() == "or"
    zero = numerator.rhs
    assert (str(zero.op).strip(), zero.lhs.val) == ("*", 0)


def test_a_latency_sli_counts_requests_slower_than_the_bucket_bound() -> None:
    facts = inspect(sli_record(LLM, "latency", "5m")["expr"])
    bucket = [s for s in facts.selectors if s.name == "llm_latency_seconds_bucket"]
    assert {label for s in bucket for label in s.labels} == {("le", "=~", "30|30\\.0")}
    assert {s.name for s in facts.selectors} == {
        "llm_latency_seconds_bucket",
        "llm_latency_seconds_count",
    }


def test_an_slo_with_by_keeps_its_labels_through_sli_and_alerts() -> None:
    rule = sli_record(QUEUE, "job_success", "1h")
    assert {a for a in inspect(rule["expr"]).aggregations} == {("sum", ("queue",))}


def test_tiers_carry_their_severity_and_labels() -> None:
    rules = rules_by_name(load_spec(HTTP))["OrdersApiLatencyBudgetBurn"]
    by_tier = {r["labels"]["slo_tier"]: r["labels"] for r in rules}
    assert by_tier["page"]["severity"] == "critical"
    assert by_tier["ticket"] == {
        "severity": "info",
        "slo_tier": "ticket",
        "slo": "latency",
        "service": "http_api",
        "team": "api",
        "channel": "tickets",
    }


def test_a_disabled_tier_has_no_alert_and_needs_no_extra_window() -> None:
    spec = load_spec(LLM)
    slo = replace(spec.slos[0], ticket=SloTier(enabled=False, severity=Severity.WARNING))
    group = slo_rule_group(spec, slo)
    tiers = [r.label_map()["slo_tier"] for r in group.rules if r.alert == slo.alert_name]
    assert tiers == ["page"]
    assert windows(slo) == ("5m", "30m", "1h", "6h")


def test_the_absent_alert_can_be_switched_off() -> None:
    assert "QueueWorkerJobSuccessSliAbsent" not in rules_by_name(load_spec(QUEUE))
    (absent,) = rules_by_name(load_spec(LLM))["LlmAvailabilitySliAbsent"]
    assert absent["expr"] == "absent(llm_requests_total)"
    assert absent["for"] == "10m"


@given(st.floats(min_value=1e-9, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_the_le_of_a_bucket_is_written_as_the_python_client_writes_it(bound: float) -> None:
    from prometheus_client.utils import floatToGoString

    assert client_le(bound) == floatToGoString(bound)


@pytest.mark.parametrize("threshold", [0.25, 30, 100000, 1e6, 1234567, 123456789012])
def test_a_latency_sli_matches_the_bucket_however_clients_write_it(threshold: float) -> None:
    """The Python and Go clients write a million as 1e+06, not 1000000."""
    from prometheus_client.utils import floatToGoString

    matched = bucket_matcher(threshold).values
    assert floatToGoString(threshold) in matched
    assert go_float(threshold) in matched
