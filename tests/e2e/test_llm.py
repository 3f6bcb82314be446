"""The flagship spec live: events recorded through the generated llm_metrics module are
scraped by Prometheus with the generated config and rules, and the alerts they raise reach
the generated Alertmanager routes' receivers (captured on 127.0.0.1).

Time is compressed in the test's copy of the rules only (tests/e2e/overrides.py): windows
divided by 30 (5m -> 10s, 1h -> 2m), `for` 1s, evaluation and scrape every second. The
SLO burn windows shrink by the same factor, so their multi-window logic is unchanged.

Phases, each adding traffic on top of the previous one (one event round every 0.5 s):
  absent  no call recorded yet: the SLIs' "no data" alerts fire;
  quiet   normal traffic (task `chat`), one error and one timeout recorded once:
          every condition is evaluated on data and stays below its threshold;
  fire    each alert's condition is made to hold for its own task type;
  page    calls slower than the latency SLO's 30 s pile up until it pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import assert_listens_only_on_loopback

from . import checks
from .checks import AlertCase, case
from .stack import Call, LiveStack, Phase, call

# promtool writes the backfilled "yesterday" block the dashboard's `offset 1d` panel reads.
pytestmark = [pytest.mark.e2e, pytest.mark.tools]

SPEC = Path(__file__).resolve().parents[2] / "specs" / "llm.yaml"


def llm_call(task_type: str, times: int = 1, every: int = 1, **fields: Any) -> Call:
    values: dict[str, Any] = {
        "task_type": task_type,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "input_tokens": 300,
        "output_tokens": 100,
        "latency_ms": 800.0,
    }
    values.update(fields)
    return call("record_llm_call", times=times, every=every, **values)


ERROR_TASKS = ("extract", "classify", "rewrite")

QUIET = Phase(
    "quiet",
    once=(
        llm_call("chat", status="error"),
        llm_call("chat", status="timeout"),
        call("record_quality_check", task_type="chat", check="intimacy", result="fail"),
    ),
    streams=(
        llm_call(
            "chat",
            input_tokens=800,
            output_tokens=200,
            cached_input_tokens=100,
            latency_ms=1200.0,
            baseline_tokens=1500,
        ),
        call("record_quality_score", task_type="chat", scenario="default", score=0.92),
        call("record_quality_check", task_type="chat", check="intimacy", result="pass"),
    ),
    settle=checks.settle_quiet,
)

FIRE = Phase(
    "fire",
    streams=(
        # 41,000 tokens/s against HighTokenUsage's 10,000.
        llm_call("bulk_summarise", input_tokens=20000, output_tokens=500, baseline_tokens=30000),
        # $5/s: more than $10 within the (compressed) hour.
        llm_call("agent", model="gpt-4o", input_tokens=1200, output_tokens=600, cost_usd=2.5),
        # 12 s: P95 above 5 s, but within the latency SLO's 30 s.
        llm_call("slow_reasoning", model="claude-sonnet", provider="anthropic", latency_ms=12e3),
        # One call in about 40 over 30 s: the latency SLO burns at ticket level only.
        llm_call("long_context", every=2, latency_ms=45e3),
        call("record_quality_score", task_type="translate", scenario="legal", score=0.55),
        # 80 % failures, at once far above the availability SLO's page thresholds.
        *(llm_call(task, 2, status="error") for task in ERROR_TASKS),
        *(llm_call(task, 2, status="timeout") for task in ERROR_TASKS),
        *(llm_call(task) for task in ERROR_TASKS),
    ),
)

PAGE = Phase("page", streams=(llm_call("long_context", 10, latency_ms=45e3),))

PHASES = (Phase("absent"), QUIET, FIRE, PAGE)

BOTH = ("slack", "team-email")
ABSENT_CASES = (
    case("LlmAvailabilitySliAbsent", "warning", ["slack"], phase="absent"),
    case("LlmLatencySliAbsent", "warning", ["slack"], phase="absent"),
)
DELIVERED_CASES = (
    case("HighTokenUsage", "warning", ["slack"], {"task_type": "bulk_summarise"}),
    case("HighCost", "critical", BOTH),
    case(
        "HighLatency",
        "warning",
        ["slack"],
        {"task_type": "slow_reasoning"},
        {"task_type": "long_context"},
    ),
    case("QualityDegradation", "critical", BOTH, {"task_type": "translate", "scenario": "legal"}),
    case("HighErrorRate", "warning", ["slack"], *({"task_type": t} for t in ERROR_TASKS)),
    case("LlmAvailabilityBudgetBurn", "critical", BOTH),
    case("LlmLatencyBudgetBurn", "warning", ["slack"]),
    case("LlmLatencyBudgetBurn", "critical", BOTH, phase="page"),
)
#: Fires together with its critical twin, which inhibits it: never delivered.
INHIBITED = case("LlmAvailabilityBudgetBurn", "warning", [])
CASES = (*ABSENT_CASES, *DELIVERED_CASES, INHIBITED)


def _ids(cases: tuple[AlertCase, ...]) -> list[str]:
    return [c.id for c in cases]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    live = LiveStack(
        SPEC,
        tmp_path_factory.mktemp("llm-stack"),
        PHASES,
        yesterday=[("llm_quality_score", {"task_type": "chat", "scenario": "default"}, 0.9)],
    )
    try:
        yield live.start()
    finally:
        live.stop()


def test_every_alert_rule_has_a_case(stack: LiveStack) -> None:
    rules = {(r["alert"], r["labels"]["severity"]) for r in stack.alert_rules()}
    assert rules == {(c.alertname, c.severity) for c in CASES}


def test_servers_listen_only_on_loopback(stack: LiveStack) -> None:
    for server in stack.servers:
        assert_listens_only_on_loopback(server.pid)


@pytest.mark.parametrize("item", ABSENT_CASES, ids=_ids(ABSENT_CASES))
def test_alert_on_missing_data_reaches_its_receivers(stack: LiveStack, item: AlertCase) -> None:
    checks.assert_delivered_exactly(stack, item)


@pytest.mark.parametrize("item", CASES, ids=_ids(CASES))
def test_alert_silent_below_threshold(stack: LiveStack, item: AlertCase) -> None:
    checks.assert_silent_below_threshold(stack, item)


@pytest.mark.parametrize("item", DELIVERED_CASES, ids=_ids(DELIVERED_CASES))
def test_alert_reaches_exactly_its_receivers(stack: LiveStack, item: AlertCase) -> None:
    checks.assert_delivered_exactly(stack, item)


def test_critical_burn_inhibits_its_warning(stack: LiveStack) -> None:
    stack.advance("fire")
    [held] = checks.assert_inhibited(stack, "LlmAvailabilityBudgetBurn", "warning")
    [source] = [
        a for a in stack.alertmanager.alerts() if a["fingerprint"] in held["status"]["inhibitedBy"]
    ]
    assert source["labels"]["alertname"] == "LlmAvailabilityBudgetBurn"
    assert source["labels"]["severity"] == "critical"


def test_alerts_of_one_group_share_a_notification(stack: LiveStack) -> None:
    [errors] = [c for c in DELIVERED_CASES if c.alertname == "HighErrorRate"]
    checks.assert_grouped(stack, errors, "slack", errors.instances)


def test_recording_rules_produce_series(stack: LiveStack) -> None:
    stack.advance("fire")
    checks.assert_recording_rules_produce_series(stack)


def test_every_dashboard_panel_shows_data(stack: LiveStack) -> None:
    stack.advance("page")
    checks.assert_panels_show_data(stack)


def test_no_alert_reached_another_receiver(stack: LiveStack) -> None:
    stack.advance("page")
    checks.assert_only_expected_receivers(stack, CASES)
