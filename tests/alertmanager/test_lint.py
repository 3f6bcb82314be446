"""Alertmanager lint and routing-test findings, each placed at its line in the spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.lint import alertmanager as lint_alertmanager
from monitorgen.lint.alertmanager import covers
from monitorgen.model import Route, Routing
from monitorgen.pipeline import compile_spec
from monitorgen.routing import MatchedRoute
from monitorgen.spec.to_model import parse_route_matcher
from tests.alertmanager.helpers import SHOP_WITHOUT_ROUTING, compile_one, spec_models, write_spec


def _findings(tmp_path: Path, routing: str, prefix: str) -> list[tuple[str, int, str]]:
    compiled = compile_one(tmp_path, SHOP_WITHOUT_ROUTING + routing)
    return [
        (d.code, d.span.line, d.field_path)
        for d in compiled.diagnostics
        if d.code.startswith(prefix)
    ]


def _only(tmp_path: Path, routing: str, code: str) -> list[Diagnostic]:
    return [
        d
        for d in compile_one(tmp_path, SHOP_WITHOUT_ROUTING + routing).diagnostics
        if d.code == code
    ]


CLEAN_ROUTING = """\
routing:
  receiver: chat
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      continue: true
    - matchers: ['severity=~"critical|warning"']
      receiver: chat
"""


def test_clean_routing_has_no_findings(tmp_path: Path) -> None:
    assert _findings(tmp_path, CLEAN_ROUTING, "alertmanager/") == []
    assert _findings(tmp_path, CLEAN_ROUTING, "routing/") == []


def test_the_specs_have_no_alertmanager_findings() -> None:
    from monitorgen.lint.alertmanager import check

    for spec in spec_models():
        assert list(check(spec)) == [], spec.name


def test_unused_receiver(tmp_path: Path) -> None:
    routing = "routing:\n  receiver: chat\n"
    assert _findings(tmp_path, routing, "alertmanager/unused") == [
        ("alertmanager/unused-receiver", 13, "receivers[0].name")
    ]


def test_unused_time_interval(tmp_path: Path) -> None:
    routing = CLEAN_ROUTING + "  time_intervals:\n    - name: nights\n"
    assert _findings(tmp_path, routing, "alertmanager/") == [
        ("alertmanager/unused-time-interval", 26, "routing.time_intervals[0].name")
    ]


def test_inhibit_rule_without_equal(tmp_path: Path) -> None:
    routing = CLEAN_ROUTING + (
        "  inhibit_rules:\n"
        "    - source: ['alertname=\"ShopDown\"']\n"
        "      target: ['alertname=\"ShopSlow\"']\n"
        "    - source: ['alertname=\"ShopDown\"']\n"
        "      target: ['alertname=\"ShopSlow\"']\n"
        "      equal: [job]\n"
    )
    [finding] = _only(tmp_path, routing, "alertmanager/inhibit-without-equal")
    assert (finding.span.line, finding.field_path) == (26, "routing.inhibit_rules[0]")
    assert finding.severity is Severity.WARNING


@pytest.mark.parametrize(
    ("earlier", "later", "shadowed"),
    [
        ("[]", "['severity=\"critical\"']", True),
        ("['severity=\"critical\"']", "['severity=\"critical\"', 'team=\"x\"']", True),
        ("['severity=~\"critical|warning\"']", "['severity=\"warning\"']", True),
        ("['severity!=\"info\"']", "['severity=~\"critical|warning\"']", True),
        ("['severity=~\"crit.*\"']", "['severity=\"critical\"']", True),
        ("['severity=\"critical\"']", "['severity=\"warning\"']", False),
        ("['severity=\"critical\"', 'team=\"x\"']", "['severity=\"critical\"']", False),
        ("['severity=~\"critical|warning\"']", "['severity=~\"crit.*\"']", False),
        ("['team!=\"x\"']", "['severity=\"critical\"']", False),
    ],
)
def test_shadowed_route(tmp_path: Path, earlier: str, later: str, shadowed: bool) -> None:
    routing = (
        "routing:\n  receiver: chat\n  routes:\n"
        f"    - matchers: {earlier}\n      receiver: oncall\n"
        f"    - matchers: {later}\n      receiver: chat\n"
    )
    expected = [("alertmanager/shadowed-route", 22, "routing.routes[1]")] if shadowed else []
    assert _findings(tmp_path, routing, "alertmanager/shadowed") == expected
    with_continue = routing.replace("receiver: oncall", "receiver: oncall\n      continue: true")
    assert _findings(tmp_path, with_continue, "alertmanager/shadowed") == []


def test_covers_is_about_matchers_only() -> None:
    def route(*texts: str) -> Route:
        return Route(matchers=tuple(parse_route_matcher(t) for t in texts))

    assert covers(route(), route('a="1"'))
    assert covers(route('a=~"1|2"'), route('a=~"2|1"'))
    assert not covers(route('a="1"'), route())


def test_alert_reaching_only_the_catch_all(tmp_path: Path) -> None:
    routing = """\
routing:
  receiver: chat
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
"""
    [finding] = _only(tmp_path, routing, "alertmanager/catch-all-only")
    assert (finding.span.line, finding.field_path) == (8, "alerts[1]")
    assert finding.message == (
        "warning alerts match no route and only reach the default receiver 'chat': ShopSlow"
    )
    no_routes = "routing:\n  receiver: chat\n"
    assert _only(tmp_path, no_routes, "alertmanager/catch-all-only") == []


def test_catch_all_is_decided_once_per_routing_situation_and_reported_per_severity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alerts whose routed labels agree share one evaluation; one finding per severity
    names every alert of it, at the first."""
    alerts = "".join(
        f"  - name: Queue{index}\n    severity: {severity}\n    summary: Queue {index}\n"
        f'    labels: {{queue: q{index}}}\n    expr: up{{job="q{index}"}} == 0\n'
        for index, severity in enumerate(["warning", "warning", "info", "critical", "info"])
    )
    spec = SHOP_WITHOUT_ROUTING.replace("receivers:\n", alerts + "receivers:\n", 1) + (
        "routing:\n  receiver: chat\n  routes:\n"
        "    - matchers: ['severity=\"critical\"']\n      receiver: oncall\n"
    )
    evaluated: list[dict[str, str]] = []
    original = lint_alertmanager.match

    def counting(routing: Routing, labels: dict[str, str]) -> list[MatchedRoute]:
        evaluated.append(labels)
        return original(routing, labels)

    monkeypatch.setattr(lint_alertmanager, "match", counting)
    found = [
        (d.field_path, d.message.split(": ", 1)[1])
        for d in compile_one(tmp_path, spec).diagnostics
        if d.code == "alertmanager/catch-all-only"
    ]
    assert found == [("alerts[1]", "ShopSlow, Queue0, Queue1"), ("alerts[4]", "Queue2, Queue4")]
    assert sorted(labels["severity"] for labels in evaluated) == ["critical", "info", "warning"]


@pytest.mark.parametrize(
    ("expr", "reported"),
    [
        ("max by (team) (shop_queue_depth) > 100", False),  # a declared label of the series
        ("max by (team) (unknown_series) > 100", False),  # any label: unknown series
        ("max(shop_queue_depth) > 100", True),  # the by drops it: never routed
    ],
)
def test_catch_all_leaves_alone_an_alert_whose_series_may_bring_the_routed_label(
    tmp_path: Path, expr: str, reported: bool
) -> None:
    spec = (
        "version: 1\nservice: shop\nexternal_metrics: [unknown_series]\n"
        "metrics:\n  - {name: shop_queue_depth, type: gauge, help: Depth., labels: [team]}\n"
        f"alerts:\n  - name: ShopQueue\n    severity: warning\n    summary: Deep.\n"
        f"    expr: {expr}\n"
        "receivers:\n  - {name: chat, webhook: [{url: 'https://chat.example.com/hook'}]}\n"
        "  - {name: web, webhook: [{url: 'https://chat.example.com/web'}]}\n"
        "routing:\n  receiver: chat\n  routes:\n    - {matchers: ['team=\"web\"'], receiver: web}\n"
    )
    codes = [d.code for d in compile_one(tmp_path, spec).diagnostics]
    assert ("alertmanager/catch-all-only" in codes) is reported


def test_catch_all_reads_the_labels_of_recorded_series(tmp_path: Path) -> None:
    """An SLO's burn alert reads its recorded SLI, whose series carry slo and service
    only: no team label can come from them, so a team route never takes it."""
    spec = (
        "version: 1\nservice: shop\n"
        "metrics:\n  - {name: shop_requests_total, type: counter, help: R., labels: [code]}\n"
        "slos:\n  - name: avail\n    objective: 99\n    alerting: {absent: false}\n"
        "    sli: {ratio: {errors: {metric: shop_requests_total, where: {code: '500'}},"
        " total: {metric: shop_requests_total}}}\n"
        "receivers:\n  - {name: chat, webhook: [{url: 'https://chat.example.com/hook'}]}\n"
        "  - {name: web, webhook: [{url: 'https://chat.example.com/web'}]}\n"
        "routing:\n  receiver: chat\n  routes:\n    - {matchers: ['team=\"web\"'], receiver: web}\n"
    )
    found = [
        d.message
        for d in compile_one(tmp_path, spec).diagnostics
        if d.code == "alertmanager/catch-all-only"
    ]
    assert found == [
        "critical alerts match no route and only reach the default receiver 'chat': "
        "ShopAvailBudgetBurn",
        "warning alerts match no route and only reach the default receiver 'chat': "
        "ShopAvailBudgetBurn",
    ]


def test_lint_can_be_disabled(tmp_path: Path) -> None:
    routing = "routing:\n  receiver: chat\nlint:\n  disable: [alertmanager/unused-receiver]\n"
    assert _findings(tmp_path, routing, "alertmanager/") == []


def test_failing_routing_test_is_an_error_at_its_receivers(tmp_path: Path) -> None:
    routing = CLEAN_ROUTING + (
        "  tests:\n"
        "    - labels: {severity: critical}\n"
        "      receivers: [oncall, chat]\n"
        "    - labels: {severity: critical}\n"
        "      receivers: [chat, oncall]\n"
        "    - labels: {severity: info, team: x}\n"
        "      receivers: [oncall]\n"
    )
    compiled = compile_one(tmp_path, SHOP_WITHOUT_ROUTING + routing)
    failed = [d for d in compiled.diagnostics if d.code == "routing/test-failed"]
    assert [(d.span.line, d.field_path) for d in failed] == [
        (29, "routing.tests[1].receivers"),
        (31, "routing.tests[2].receivers"),
    ]
    assert all(d.severity is Severity.ERROR for d in failed)
    assert "should reach chat, oncall but reaches oncall, chat" in failed[0].message
    assert 'severity="info", team="x"' in failed[1].message
    assert not compiled.ok


def test_invalid_regex_is_an_error_and_stops_evaluation(tmp_path: Path) -> None:
    routing = CLEAN_ROUTING.replace("critical|warning", "critical|(warning")
    routing += "  tests:\n    - labels: {severity: critical}\n      receivers: [oncall]\n"
    assert _findings(tmp_path, routing, "routing/") == [
        ("routing/invalid-regex", 23, "routing.routes[1].matchers[0]")
    ]
    assert _findings(tmp_path, routing, "alertmanager/") == []


def test_time_intervals_alertmanager_would_refuse(tmp_path: Path) -> None:
    routing = CLEAN_ROUTING.replace(
        "      receiver: chat\n", "      receiver: chat\n      mute_time_intervals: [nights]\n"
    ) + (
        "  time_intervals:\n"
        "    - name: nights\n"
        "      times: [{start: '22:00', end: '06:00'}, {start: '00:00', end: '06:00'}]\n"
        "      location: Mars/Olympus_Mons\n"
    )
    assert _findings(tmp_path, routing, "routing/") == [
        ("routing/time-range", 28, "routing.time_intervals[0].times[0]"),
        ("routing/unknown-location", 29, "routing.time_intervals[0].location"),
    ]


def test_no_grouping(tmp_path: Path) -> None:
    routing = CLEAN_ROUTING.replace(
        "  receiver: chat\n  routes:", "  receiver: chat\n  group_by: ['...']\n  routes:"
    )
    assert _findings(tmp_path, routing, "alertmanager/") == [
        ("alertmanager/no-grouping", 19, "routing.group_by")
    ]


_AGGREGATED_ALERT = """\
metrics:
  - {name: shop_orders_total, type: counter, help: Orders.}
"""


def _with_orders_alert(routing: str) -> str:
    return (
        SHOP_WITHOUT_ROUTING.replace("alerts:\n", _AGGREGATED_ALERT + "alerts:\n")
        + "  # appended\n"
        + routing
    ).replace(
        "receivers:\n",
        "  - name: ShopNoOrders\n    severity: warning\n    summary: No orders\n"
        "    condition: {metric: shop_orders_total, below: 0.1}\nreceivers:\n",
        1,
    )


@pytest.mark.parametrize(
    ("equal", "never"),
    [("[instance]", True), ("[job, instance]", True), ("[severity]", False), ("[team]", False)],
)
def test_an_inhibit_rule_whose_equal_label_only_one_side_carries(
    tmp_path: Path, equal: str, never: bool
) -> None:
    """ShopDown (`up == 0`) carries instance and job; the summed ShopNoOrders carries
    neither: a missing label is empty, so `equal: [instance]` never holds. A label
    neither side carries is equal (both empty), and one both set is left to run time."""
    routing = CLEAN_ROUTING + (
        "  inhibit_rules:\n"
        "    - source: ['alertname=\"ShopDown\"']\n"
        "      target: ['alertname=\"ShopNoOrders\"']\n"
        f"      equal: {equal}\n"
    )
    compiled = compile_one(tmp_path, _with_orders_alert(routing))
    found = [d for d in compiled.diagnostics if d.code == "alertmanager/inhibit-never-equal"]
    assert [d.field_path for d in found] == (["routing.inhibit_rules[0].equal"] if never else [])
    if never:
        (finding,) = found
        first = equal.strip("[]").split(",")[0]
        assert f"'{first}' is on every source alert (ShopDown)" in finding.message
        assert "on no target alert (ShopNoOrders)" in finding.message


_OFFICE_HOURS = """\
  time_intervals:
    - name: office-hours
      times: [{start: "09:00", end: "17:00"}]
      weekdays: ["monday:friday"]
"""


@pytest.mark.parametrize(
    ("routes", "stranded"),
    [
        # Only during office hours: nights and weekends reach nobody.
        (
            "    - {matchers: ['severity=\"critical\"'], receiver: oncall, "
            "active_time_intervals: [office-hours]}\n",
            True,
        ),
        # Muted during office hours: those reach nobody.
        (
            "    - {matchers: ['severity=\"critical\"'], receiver: oncall, "
            "mute_time_intervals: [office-hours]}\n",
            True,
        ),
        # Office hours to one receiver, the rest of the week to another.
        (
            "    - {matchers: ['severity=\"critical\"'], receiver: oncall, continue: true, "
            "active_time_intervals: [office-hours]}\n"
            "    - {matchers: ['severity=\"critical\"'], receiver: chat, "
            "mute_time_intervals: [office-hours]}\n",
            False,
        ),
        # A route that is never muted after the timed one.
        (
            "    - {matchers: ['severity=\"critical\"'], receiver: oncall, continue: true, "
            "active_time_intervals: [office-hours]}\n"
            "    - {matchers: ['severity=\"critical\"'], receiver: chat}\n",
            False,
        ),
    ],
    ids=["active-only", "muted", "complementary", "fallback"],
)
def test_critical_alerts_whose_every_route_is_timed(
    tmp_path: Path, routes: str, stranded: bool
) -> None:
    routing = "routing:\n  receiver: chat\n  routes:\n" + routes + _OFFICE_HOURS
    found = _only(tmp_path, routing, "alertmanager/critical-only-at-times")
    assert [d.field_path for d in found] == (["routing.routes[0]"] if stranded else [])
    if stranded:
        (finding,) = found
        assert finding.message.startswith("critical alerts (ShopDown) reach no receiver")
        when = finding.message.split("(on ")[1].split(" UTC")[0]
        day, time = when.split(" at ")
        weekday = day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
        office = weekday and "09:00" <= time < "17:00"
        assert office == ("mute_time_intervals" in routes)


def _naming(alertname: str) -> str:
    """Routing that names `alertname` in a route, an inhibit rule's source and a test."""
    return f"""\
routing:
  receiver: chat
  routes:
    - matchers: ['alertname="{alertname}"']
      receiver: oncall
  inhibit_rules:
    - source: ['alertname=~"{alertname}|Watchdog"']
      target: ['severity="warning"']
      equal: [job]
  tests:
    - labels: {{alertname: {alertname}, severity: critical}}
      receivers: [oncall]
"""


_NAMING_PATHS = [
    "routing.routes[0].matchers[0]",
    "routing.inhibit_rules[0].source[0]",
    "routing.tests[0].labels.alertname",
]


def test_routing_that_names_an_alert_an_environment_turns_off_is_flagged_there(
    tmp_path: Path,
) -> None:
    document = (
        SHOP_WITHOUT_ROUTING
        + _naming("ShopDown")
        + "environments:\n  quiet:\n    alerts:\n      - {name: ShopDown, enabled: false}\n"
    )
    [spec_itself, quiet] = compile_spec(write_spec(tmp_path, document))
    assert not [d for d in spec_itself.diagnostics if d.code == "alertmanager/turned-off-alert"]
    found = [d for d in quiet.diagnostics if d.code == "alertmanager/turned-off-alert"]
    assert [d.field_path for d in found] == _NAMING_PATHS
    assert [d.span.line for d in found] == [20, 23, 27]
    assert all(d.severity is Severity.WARNING for d in found)
    assert "this route names alert 'ShopDown', which `enabled: false`" in found[0].message
    assert found[0].message.endswith("leaves out of this spec (environment quiet)")
    assert "this inhibit rule's source" in found[1].message
    assert "this routing test" in found[2].message


def test_an_alertname_close_to_one_of_the_spec_is_flagged_as_misspelt(tmp_path: Path) -> None:
    found = _only(tmp_path, _naming("ShopDwn"), "alertmanager/misspelt-alertname")
    assert [d.field_path for d in found] == _NAMING_PATHS
    assert all("names alert 'ShopDwn'" in d.message for d in found)
    assert all("did you mean 'ShopDown'?" in d.message for d in found)


@pytest.mark.parametrize("alertname", ["ShopDown", "ShopSlow", "Watchdog", "InfoInhibitor"])
def test_alertnames_of_the_spec_or_far_from_all_of_them_are_left_alone(
    tmp_path: Path, alertname: str
) -> None:
    compiled = compile_one(tmp_path, SHOP_WITHOUT_ROUTING + _naming(alertname))
    codes = {d.code for d in compiled.diagnostics}
    assert not codes & {"alertmanager/turned-off-alert", "alertmanager/misspelt-alertname"}


_SLOS = """\
metrics:
  - name: shop_orders_total
    type: counter
    help: Orders, by outcome.
    labels:
      - {name: status, values: [paid, failed]}
slos:
  - name: orders
    objective: 99.5
    sli:
      ratio:
        errors: {metric: shop_orders_total, where: {status: failed}}
        total: {metric: shop_orders_total}
    alerting: {absent: false, page: {enabled: false}, ticket: {enabled: false}}
"""


def test_routing_that_names_an_alert_an_slo_turns_off_is_flagged(tmp_path: Path) -> None:
    routing = _naming("ShopOrdersBudgetBurn").replace(
        "ShopOrdersBudgetBurn|Watchdog", "ShopOrdersSliAbsent|Watchdog"
    )
    compiled = compile_one(tmp_path, SHOP_WITHOUT_ROUTING + _SLOS + routing)
    found = [
        d
        for d in compiled.diagnostics
        if d.code.startswith("alertmanager/") and "'Shop" in d.message
    ]
    assert [(d.code, d.field_path) for d in found] == [
        ("alertmanager/turned-off-alert", path) for path in _NAMING_PATHS
    ]
    assert (
        "'ShopOrdersSliAbsent', which the `alerting` of SLO orders leaves out" in found[1].message
    )


def test_an_alert_only_an_environment_declares_is_no_misspelling(tmp_path: Path) -> None:
    environment = (
        "environments:\n  eu:\n    alerts:\n"
        "      - {name: ShopDownEu, severity: critical, summary: Down, expr: 'up == 0'}\n"
    )
    document = SHOP_WITHOUT_ROUTING + _naming("ShopDownEu") + environment
    compiled = compile_spec(write_spec(tmp_path, document))
    assert [c.output_name for c in compiled] == ["shop", "shop.eu"]
    for item in compiled:
        assert "alertmanager/misspelt-alertname" not in {d.code for d in item.diagnostics}
    renamed = compile_one(tmp_path, SHOP_WITHOUT_ROUTING + _naming("ShopDownEu"))
    assert "alertmanager/misspelt-alertname" in {d.code for d in renamed.diagnostics}
