"""The orders API spec (tests/specs/http_api.yaml) live: nested team routes, PagerDuty,
webhook and e-mail receivers, an external `cluster` label, custom inhibition rules and a
target-down alert, proven against a real Prometheus and Alertmanager on 127.0.0.1.

The spec has no events, so the application is tests/e2e/http_api_app.py, which records
requests in the generated module's metric objects. Two replicas are scraped as targets of
the spec's job; the second records nothing and is stopped in the last phase.
Time compression as in test_llm.py (windows / 30, `for` 1s, 1s intervals).

Phases (one round of requests every 0.5 s):
  absent  no request recorded yet: the SLIs' "no data" alerts fire;
  quiet   fast 200s on /orders, one 500 and one 404 recorded once, 12 requests in flight;
  fire    5xx on /payments and /refunds, slow /reports, 404s on /search, 250 in flight;
  page    many slow /reports requests (latency SLO pages), 404s on /payments;
  down    the second replica stops: HttpTargetDown, which silences the other Http* alerts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import assert_listens_only_on_loopback, pid_alive

from . import checks
from .checks import AlertCase, case
from .stack import Call, LiveStack, Phase, call

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).resolve().parents[1] / "specs" / "http_api.yaml"
APP = Path(__file__).with_name("http_api_app.py")


def requests(route: str, code: str = "200", count: int = 1, **fields: Any) -> Call:
    return call("record_requests", route=route, code=code, count=count, **fields)


def _stop_replica(stack: LiveStack) -> None:
    stack.apps[-1].stop()


QUIET = Phase(
    "quiet",
    once=(requests("/orders", "500"), requests("/orders", "404"), call("set_in_flight", value=12)),
    streams=(requests("/orders", count=10),),
    settle=checks.settle_quiet,
)
ERROR_ROUTES = ("/payments", "/refunds")
FIRE = Phase(
    "fire",
    once=(call("set_in_flight", value=250),),
    streams=(
        # Half of the requests fail: far above 5 % and both availability burn thresholds.
        *(requests(route, "503", 5, method="POST") for route in ERROR_ROUTES),
        *(requests(route, "200", 5, method="POST") for route in ERROR_ROUTES),
        # One request in about 40 takes 4 s: P99 of /reports above 1.5 s, and the latency
        # SLO (0.5 s) burns at ticket level only.
        requests("/reports", seconds=4.0),
        # 20 client errors per second against 2.5.
        requests("/search", "404", 10),
    ),
)
PAGE = Phase(
    "page",
    streams=(requests("/reports", count=20, seconds=4.0), requests("/payments", "404", 10)),
)
DOWN = Phase("down", action=_stop_replica, streams=(requests("/cart", "404", 10),))
PHASES = (Phase("absent"), QUIET, FIRE, PAGE, DOWN)

API_PAGE = ("api-pager", "api-webhook")
ABSENT_CASES = (
    case("HttpApiAvailabilitySliAbsent", "warning", ["api-webhook"], phase="absent"),
    case("OrdersApiLatencySliAbsent", "info", ["api-webhook"], phase="absent"),
)
DELIVERED_CASES = (
    case("HttpHighErrorRate", "critical", API_PAGE, *({"route": r} for r in ERROR_ROUTES)),
    case("HttpSlowRequests", "warning", ["api-webhook"], {"route": "/reports"}),
    case("HttpTooManyInFlight", "warning", ["platform-email"]),
    case("HttpClientErrorsSpike", "info", ["api-webhook"], {"route": "/search"}),
    case("HttpApiAvailabilityBudgetBurn", "critical", API_PAGE),
    case("OrdersApiLatencyBudgetBurn", "info", ["api-webhook"]),
    case("OrdersApiLatencyBudgetBurn", "critical", API_PAGE, phase="page"),
    case(
        "HttpTargetDown",
        "critical",
        ["platform-pager"],
        {"instance": "{replica}", "job": "orders-api"},
        phase="down",
    ),
)
INHIBITED = case("HttpApiAvailabilityBudgetBurn", "warning", [])
CASES = (*ABSENT_CASES, *DELIVERED_CASES, INHIBITED)


def _ids(cases: tuple[AlertCase, ...]) -> list[str]:
    return [c.id for c in cases]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    live = LiveStack(SPEC, tmp_path_factory.mktemp("http-api-stack"), PHASES, APP, replicas=2)
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


@pytest.mark.parametrize("item", DELIVERED_CASES[:-1], ids=_ids(DELIVERED_CASES[:-1]))
def test_alert_reaches_exactly_its_receivers(stack: LiveStack, item: AlertCase) -> None:
    checks.assert_delivered_exactly(stack, item)


def test_availability_page_inhibits_its_ticket(stack: LiveStack) -> None:
    stack.advance("fire")
    checks.assert_inhibited(stack, "HttpApiAvailabilityBudgetBurn", "warning")


def test_server_errors_inhibit_client_errors_on_the_same_route(stack: LiveStack) -> None:
    stack.advance("page")
    [held] = checks.assert_inhibited(stack, "HttpClientErrorsSpike", "info", route="/payments")
    sources = [
        a for a in stack.alertmanager.alerts() if a["fingerprint"] in held["status"]["inhibitedBy"]
    ]
    assert {(a["labels"]["alertname"], a["labels"]["route"]) for a in sources} == {
        ("HttpHighErrorRate", "/payments")
    }


def test_alerts_of_one_group_share_a_notification(stack: LiveStack) -> None:
    [errors] = [c for c in DELIVERED_CASES if c.alertname == "HttpHighErrorRate"]
    for receiver in API_PAGE:
        checks.assert_grouped(stack, errors, receiver, errors.instances)


def test_recording_rules_produce_series(stack: LiveStack) -> None:
    stack.advance("fire")
    checks.assert_recording_rules_produce_series(stack)


def test_every_dashboard_panel_shows_data(stack: LiveStack) -> None:
    stack.advance("page")
    checks.assert_panels_show_data(stack)


def test_target_down_reaches_platform_pager(stack: LiveStack) -> None:
    replica = stack.apps[-1]
    checks.assert_delivered_exactly(stack, DELIVERED_CASES[-1])
    assert not pid_alive(replica.pid)


def test_target_down_inhibits_the_other_api_alerts(stack: LiveStack) -> None:
    stack.advance("down")
    [held] = checks.assert_inhibited(stack, "HttpClientErrorsSpike", "info", route="/cart")
    sources = [
        a for a in stack.alertmanager.alerts() if a["fingerprint"] in held["status"]["inhibitedBy"]
    ]
    assert {a["labels"]["alertname"] for a in sources} == {"HttpTargetDown"}


def test_no_alert_reached_another_receiver(stack: LiveStack) -> None:
    stack.advance("down")
    checks.assert_only_expected_receivers(stack, CASES)
