"""The flagship dashboard has every panel the design document asks for, with correct
queries: token usage, cost, forecast, latency percentiles, error/success/timeout
rates, optimisation effect and quality."""

from __future__ import annotations

from typing import Any

from monitorgen.promql import expand_grafana, inspect, parse

from .helpers import FLAGSHIP, Json, dashboards_of, panel_by_title

BOARD: Json = dashboards_of(FLAGSHIP)["llm-overview"]


def exprs(title: str) -> list[str]:
    return [t["expr"] for t in panel_by_title(BOARD, title)["targets"]]


def tree(expr: str) -> Any:
    return parse(expand_grafana(expr))


def selectors(expr: str) -> dict[str, set[tuple[str, str, str]]]:
    return {
        s.name or "": {m for m in s.labels if m[0] not in {"task_type", "model"}}
        for s in inspect(expand_grafana(expr)).selectors
    }


def test_token_usage_over_time_by_task_type_and_token_type() -> None:
    panel = panel_by_title(BOARD, "Token usage over time")
    assert panel["type"] == "timeseries"
    (expr,) = exprs("Token usage over time")
    facts = inspect(expand_grafana(expr))
    assert facts.aggregations == (("sum", ("task_type", "token_type")),)
    (use,) = facts.selectors
    assert (use.name, use.function) == ("llm_tokens_total", "rate")
    assert "[$__rate_interval]" in expr
    assert panel["targets"][0]["legendFormat"] == "{{task_type}} - {{token_type}}"


def test_cost_per_hour_scales_the_per_second_rate() -> None:
    (expr,) = exprs("Cost per hour")
    top = tree(expr)
    assert (str(top.op).strip(), top.rhs.val) == ("*", 3600.0)
    (use,) = inspect(expand_grafana(expr)).selectors
    assert (use.name, use.function) == ("llm_cost_usd_total", "rate")
    assert (
        panel_by_title(BOARD, "Cost per hour")["fieldConfig"]["defaults"]["unit"] == "currencyUSD"
    )


def test_cumulative_daily_cost_is_todays_increase() -> None:
    panel = panel_by_title(BOARD, "Cumulative daily cost")
    assert (panel["type"], panel["timeFrom"]) == ("stat", "now/d")
    (expr,) = exprs("Cumulative daily cost")
    (use,) = inspect(expand_grafana(expr)).selectors
    assert (use.name, use.function) == ("llm_cost_usd_total", "increase")
    assert "[$__range]" in expr
    assert all(t["instant"] for t in panel["targets"])
    assert BOARD["timezone"] == "utc", "now/d is the UTC day PromQL's time() counts in"


def test_cost_forecast_projects_the_month_from_month_to_date() -> None:
    panel = panel_by_title(BOARD, "Cost forecast")
    assert panel["timeFrom"] == "now/M"
    spent, projected = exprs("Cost forecast")
    assert [t["legendFormat"] for t in panel["targets"]] == ["month to date", "end of month"]
    projection = tree(projected)
    assert str(projection.op).strip() == "+"
    assert projection.lhs.prettify() == tree(spent).prettify(), "spent so far plus the rest"
    facts = inspect(expand_grafana(projected))
    assert {"days_in_month", "day_of_month", "time", "rate"} <= set(facts.functions)


def test_latency_percentiles_use_histogram_quantile_over_summed_bucket_rates() -> None:
    panel = panel_by_title(BOARD, "Latency percentiles")
    assert [t["legendFormat"] for t in panel["targets"]] == ["P50", "P95 {{task_type}}", "P99"]
    quantiles = []
    for expr in exprs("Latency percentiles"):
        call = tree(expr)
        assert call.func.name == "histogram_quantile"
        quantiles.append(call.args[0].val)
        facts = inspect(expand_grafana(expr))
        assert facts.aggregations[0][0] == "sum" and "le" in facts.aggregations[0][1]
        (use,) = facts.selectors
        assert (use.name, use.function) == ("llm_latency_seconds_bucket", "rate")
        assert "[$__rate_interval]" in expr
    assert quantiles == [0.5, 0.95, 0.99]
    # P95 per task type, as HighLatency watches it: the panel draws that alert's line.
    assert inspect(expand_grafana(exprs("Latency percentiles")[1])).aggregations[0][1] == (
        "le",
        "task_type",
    )


def test_error_success_and_timeout_rates_are_ratios_of_request_rates() -> None:
    expected = {
        "Error rate": {("status", "=~", "error|timeout")},
        "Success rate": {("status", "=", "ok")},
        "Timeout rate": {("status", "=", "timeout")},
    }
    for title, status in expected.items():
        (expr,) = exprs(title)
        top = tree(expr)
        assert str(top.op).strip() == "/", title
        part, whole = (inspect(expand_grafana(side.prettify())) for side in (top.lhs, top.rhs))
        assert {m for m in part.selectors[0].labels if m[0] == "status"} == status
        assert not [m for m in whole.selectors[0].labels if m[0] == "status"]
        assert part.selectors[0].name == whole.selectors[0].name == "llm_requests_total"
        assert panel_by_title(BOARD, title)["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_token_reduction_and_money_saved_compare_against_the_baseline() -> None:
    (reduction,) = exprs("Token reduction")
    top = tree(reduction)
    assert (str(top.op).strip(), top.lhs.val) == ("-", 1.0)
    assert set(selectors(reduction)) == {"llm_tokens_total", "llm_baseline_tokens_total"}
    assert selectors(reduction)["llm_tokens_total"] == {("token_type", "=~", "input|output")}
    (saved,) = exprs("Money saved per day")
    assert set(selectors(saved)) == {
        "llm_cost_usd_total",
        "llm_baseline_tokens_total",
        "llm_tokens_total",
    }
    units = {
        t: panel_by_title(BOARD, t)["fieldConfig"]["defaults"]["unit"]
        for t in ("Token reduction", "Money saved per day")
    }
    assert units == {"Token reduction": "percentunit", "Money saved per day": "currencyUSD"}


def test_quality_score_draws_the_degradation_alert_and_is_compared_over_time() -> None:
    panel = panel_by_title(BOARD, "Quality score")
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "red", "value": None}, {"color": "green", "value": 0.8}]
    assert panel["fieldConfig"]["defaults"]["min"] == 0
    assert panel["fieldConfig"]["defaults"]["max"] == 1
    (compare,) = exprs("Quality against yesterday")
    top = tree(compare)
    assert str(top.op).strip() == "-"
    assert top.rhs.expr.offset.days == 1 and top.lhs.expr.offset is None
