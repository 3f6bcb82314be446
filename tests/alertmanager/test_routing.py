"""Route evaluation follows Alertmanager's dispatcher, case by case."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
import yaml

from monitorgen import routing
from monitorgen.model import InhibitRule, Route, RouteMatcher, Routing, TimeInterval, TimeRange
from monitorgen.routing import (
    Labels,
    alert_label_sets,
    match,
    matcher_matches,
    receivers,
    routing_cases,
)
from monitorgen.spec.to_model import parse_route_matcher
from monitorgen.targets import prometheus_rules
from tests.alertmanager.helpers import base_document, model_of, spec_models
from tests.harness import require_binary


def m(text: str) -> RouteMatcher:
    return parse_route_matcher(text)


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity="critical"', {}, False),
        ('severity!="critical"', {}, True),
        ('severity!="critical"', {"severity": "critical"}, False),
        ('team=""', {}, True),
        ('team!=""', {}, False),
        ('team=~"api|web"', {"team": "web"}, True),
        ('team=~"api|web"', {"team": "webshop"}, False),
        ('team=~"api"', {"team": "xapi"}, False),
        ('team=~".*"', {}, True),
        ('team=~".+"', {}, False),
        ('team!~"api|web"', {"team": "db"}, True),
        ('team!~"api|web"', {"team": "api"}, False),
        ('team!~".+"', {}, True),
        ('path="/a \\"b\\""', {"path": '/a "b"'}, True),
    ],
)
def test_matcher_semantics(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert matcher_matches(m(matcher), labels) is expected


def _tree(*routes: Route, receiver: str = "default") -> Routing:
    root = Route(
        receiver=receiver,
        group_by=("alertname",),
        group_wait="30s",
        group_interval="5m",
        repeat_interval="4h",
        routes=routes,
    )
    return Routing(root)


PAGE = Route(receiver="pager", matchers=(m('severity="critical"'),))
PAGE_CONTINUE = Route(receiver="pager", matchers=(m('severity="critical"'),), continue_=True)
CHAT = Route(receiver="chat", matchers=(m('severity=~"critical|warning"'),))


@pytest.mark.parametrize(
    ("routing", "labels", "expected"),
    [
        (_tree(), {"severity": "critical"}, ("default",)),
        (_tree(PAGE, CHAT), {"severity": "critical"}, ("pager",)),
        (_tree(PAGE_CONTINUE, CHAT), {"severity": "critical"}, ("pager", "chat")),
        (_tree(PAGE_CONTINUE, CHAT), {"severity": "warning"}, ("chat",)),
        (_tree(PAGE_CONTINUE, CHAT), {"severity": "info"}, ("default",)),
        # a matching `continue` route that is the last match: the parent is not added
        (_tree(PAGE_CONTINUE), {"severity": "critical"}, ("pager",)),
        (_tree(CHAT, PAGE), {"severity": "critical"}, ("chat",)),
    ],
)
def test_siblings_and_continue(
    routing: Routing, labels: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert receivers(routing, labels) == expected


def test_nested_routes_inherit_receiver_and_grouping_but_not_time_intervals() -> None:
    team = Route(
        receiver="team",
        matchers=(m('team="api"'),),
        group_by=("alertname", "route"),
        group_wait="1m",
        routes=(
            Route(matchers=(m('severity="critical"'),), repeat_interval="1h"),
            Route(receiver="tickets", matchers=(m('severity="info"'),), group_by=()),
        ),
        mute_time_intervals=("nights",),
    )
    routing = _tree(team)
    [critical] = match(routing, {"team": "api", "severity": "critical"})
    assert critical.receiver == "team"
    assert critical.group_by == ("alertname", "route")
    assert (critical.group_wait, critical.group_interval, critical.repeat_interval) == (
        "1m",
        "5m",
        "1h",
    )
    assert critical.depth == 2
    assert critical.route.mute_time_intervals == ()
    [info] = match(routing, {"team": "api", "severity": "info"})
    assert (info.receiver, info.group_by) == ("tickets", ())
    # a child that matches nothing leaves the alert at its parent
    [warning] = match(routing, {"team": "api", "severity": "warning"})
    assert (warning.receiver, warning.depth, warning.route) == ("team", 1, team)
    [other] = match(routing, {"team": "web"})
    assert other.is_root and other.receiver == "default"


def test_deep_continue_collects_every_branch_in_order() -> None:
    routing = _tree(
        Route(
            receiver="a",
            matchers=(m('env="prod"'),),
            continue_=True,
            routes=(
                Route(receiver="a1", matchers=(m('team="x"'),), continue_=True),
                Route(receiver="a2", matchers=(m('team=~"x|y"'),)),
                Route(receiver="a3"),
            ),
        ),
        Route(receiver="b", matchers=(m('env!="dev"'),)),
        Route(receiver="c"),
    )
    assert receivers(routing, {"env": "prod", "team": "x"}) == ("a1", "a2", "b")
    assert receivers(routing, {"env": "prod", "team": "z"}) == ("a3", "b")
    assert receivers(routing, {"env": "dev"}) == ("c",)


def test_alert_label_sets_carry_what_prometheus_sends(tmp_path: Path) -> None:
    document = base_document()
    document["prometheus"] = {"external_labels": {"cluster": "eu-1", "team": "ops"}}
    document["alerts"][0]["labels"] = {"team": "shop"}
    document["slos"] = [
        {
            "name": "availability",
            "objective": 99.9,
            "sli": {"raw": {"error_ratio_query": "vector(0)"}},
            "alerting": {"labels": {"team": "shop"}, "ticket": {"labels": {"channel": "t"}}},
        }
    ]
    spec = model_of(tmp_path, document)
    found = {(a.alertname, a.severity): a.as_dict() for a in alert_label_sets(spec)}
    assert found[("ShopDown", "critical")] == {
        "alertname": "ShopDown",
        "severity": "critical",
        "service": "shop",
        "cluster": "eu-1",
        "team": "shop",  # the alert's own label wins over the external label
    }
    assert found[("ShopSlow", "warning")]["team"] == "ops"
    slo_page = found[("ShopAvailabilityBudgetBurn", "critical")]
    slo_ticket = found[("ShopAvailabilityBudgetBurn", "warning")]
    assert slo_page["slo"] == slo_ticket["slo"] == "availability"
    assert (slo_page["slo_tier"], slo_ticket["slo_tier"]) == ("page", "ticket")
    assert "channel" not in slo_page and slo_ticket["channel"] == "t"
    assert slo_page["cluster"] == "eu-1"


def test_alert_label_sets_are_the_generated_alerting_rules() -> None:
    """One set per alerting rule in the generated rule files, with the same labels."""
    for spec in spec_models():
        rules = [
            rule
            for artifact in prometheus_rules.render(spec)
            if artifact.path == prometheus_rules.RULES_PATH
            for group in yaml.safe_load(artifact.content)["groups"]
            for rule in group["rules"]
            if "alert" in rule
        ]
        external = dict(spec.prometheus.external_labels)
        generated = sorted(
            (rule["alert"], sorted({**external, **rule["labels"]}.items())) for rule in rules
        )
        ours = sorted(
            (a.alertname, sorted((k, v) for k, v in a.labels if k != "alertname"))
            for a in alert_label_sets(spec)
        )
        assert ours == generated, spec.name


def test_routing_cases_are_spec_tests_then_one_per_alert(tmp_path: Path) -> None:
    document = base_document()
    document["routing"]["tests"] = [
        {"labels": {"severity": "critical"}, "receivers": ["oncall"]},
    ]
    spec = model_of(tmp_path, document)
    cases = routing_cases(spec)
    assert [(c.title, c.expected) for c in cases] == [
        ("routing test 1", ("oncall",)),
        ("alert ShopDown (critical)", None),
        ("alert ShopSlow (warning)", None),
    ]
    assert cases[0].path == ("routing", "tests", 0)
    assert cases[1].path == ("alerts", 0)


# --- time intervals ----------------------------------------------------------------------

OFFICE = TimeInterval(
    "office",
    times=(TimeRange("09:00", "17:30"),),
    weekdays=("monday:friday",),
    location="Europe/Berlin",
)
END_OF_MONTH = TimeInterval("month-end", days_of_month=("-3:-1",), months=("january", "3:4"))
NIGHTS = TimeInterval("nights", times=(TimeRange("22:00", "24:00"), TimeRange("00:00", "06:00")))
WHOLE_WEEK = TimeInterval("week", weekdays=("sunday:saturday",))
WEEKEND_START = TimeInterval("sunday-monday", weekdays=("sunday:monday",))
FIRST_TO_LAST = TimeInterval("month", days_of_month=("1:-1",))


@pytest.mark.parametrize(
    ("interval", "when", "active"),
    [
        # Tuesday 2025-03-04; Berlin is UTC+1 in winter
        (OFFICE, datetime(2025, 3, 4, 8, 0, tzinfo=UTC), True),
        (OFFICE, datetime(2025, 3, 4, 7, 59, tzinfo=UTC), False),
        (OFFICE, datetime(2025, 3, 4, 16, 29, tzinfo=UTC), True),
        (OFFICE, datetime(2025, 3, 4, 16, 30, tzinfo=UTC), False),  # end is exclusive
        (OFFICE, datetime(2025, 3, 8, 10, 0, tzinfo=UTC), False),  # Saturday
        (OFFICE, datetime(2025, 7, 4, 7, 30, tzinfo=UTC), True),  # summer time: UTC+2
        (END_OF_MONTH, datetime(2025, 1, 29, tzinfo=UTC), True),
        (END_OF_MONTH, datetime(2025, 1, 28, tzinfo=UTC), False),
        (END_OF_MONTH, datetime(2024, 4, 28, tzinfo=UTC), True),  # April has 30 days
        (END_OF_MONTH, datetime(2025, 2, 27, tzinfo=UTC), False),  # not in February
        (NIGHTS, datetime(2025, 1, 1, 23, 59, tzinfo=UTC), True),
        (NIGHTS, datetime(2025, 1, 1, 5, 59, tzinfo=UTC), True),
        (NIGHTS, datetime(2025, 1, 1, 6, 0, tzinfo=UTC), False),
        (TimeInterval("years", years=("2024:2025",)), datetime(2026, 1, 1, tzinfo=UTC), False),
        # Alertmanager's weeks start on Sunday: sunday:saturday is every day
        (WHOLE_WEEK, datetime(2025, 3, 9, 12, 0, tzinfo=UTC), True),  # Sunday
        (WHOLE_WEEK, datetime(2025, 3, 8, 12, 0, tzinfo=UTC), True),  # Saturday
        (WEEKEND_START, datetime(2025, 3, 9, 12, 0, tzinfo=UTC), True),  # Sunday
        (WEEKEND_START, datetime(2025, 3, 11, 12, 0, tzinfo=UTC), False),  # Tuesday
        (FIRST_TO_LAST, datetime(2025, 2, 28, tzinfo=UTC), True),
    ],
)
def test_interval_active(interval: TimeInterval, when: datetime, active: bool) -> None:
    assert routing.interval_active(interval, when) is active


def test_mute_and_active_intervals_decide_who_is_notified_now() -> None:
    info = Route(
        receiver="tickets", matchers=(m('severity="info"'),), active_time_intervals=("office",)
    )
    warning = Route(
        receiver="chat", matchers=(m('severity="warning"'),), mute_time_intervals=("nights",)
    )
    tree = Routing(_tree(info, warning).root, time_intervals=(OFFICE, NIGHTS))
    office_hours = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    night = datetime(2025, 3, 4, 23, 0, tzinfo=UTC)
    assert receivers(tree, {"severity": "info"}) == ("tickets",)
    assert routing.receivers_at(tree, {"severity": "info"}, office_hours) == ("tickets",)
    assert routing.receivers_at(tree, {"severity": "info"}, night) == ()
    assert routing.receivers_at(tree, {"severity": "warning"}, office_hours) == ("chat",)
    assert routing.receivers_at(tree, {"severity": "warning"}, night) == ()


# --- inhibition --------------------------------------------------------------------------

CRITICAL_OVER_WARNING = InhibitRule(
    (m('severity="critical"'),), (m('severity="warning"'),), ("alertname", "instance")
)


@pytest.mark.parametrize(
    ("rule", "source", "target", "muted"),
    [
        (
            CRITICAL_OVER_WARNING,
            {"alertname": "A", "severity": "critical", "instance": "1"},
            {"alertname": "A", "severity": "warning", "instance": "1"},
            True,
        ),
        (
            CRITICAL_OVER_WARNING,
            {"alertname": "A", "severity": "critical", "instance": "1"},
            {"alertname": "A", "severity": "warning", "instance": "2"},
            False,
        ),
        (  # a label missing on both sides counts as equal
            CRITICAL_OVER_WARNING,
            {"alertname": "A", "severity": "critical"},
            {"alertname": "A", "severity": "warning"},
            True,
        ),
        (
            CRITICAL_OVER_WARNING,
            {"alertname": "A", "severity": "critical"},
            {"alertname": "A", "severity": "warning", "instance": "1"},
            False,
        ),
        (
            CRITICAL_OVER_WARNING,
            {"alertname": "A", "severity": "warning"},
            {"alertname": "A", "severity": "warning"},
            False,
        ),
        (  # an alert on both sides is not muted by another one on both sides
            InhibitRule((m('alertname=~"A|B"'),), (m('alertname=~"A|B"'),), ()),
            {"alertname": "B"},
            {"alertname": "A"},
            False,
        ),
        (
            InhibitRule((m('alertname=~"A|B"'),), (m('alertname=~"A|C"'),), ()),
            {"alertname": "B"},
            {"alertname": "A"},
            True,
        ),
    ],
)
def test_inhibits(rule: InhibitRule, source: Labels, target: Labels, muted: bool) -> None:
    assert routing.inhibits(rule, source, target) is muted
    assert routing.inhibited([rule], target, [source]) is muted


# Each value with whether amtool check-config accepts it (Alertmanager 0.25; `13` as a
# month it keeps, and monitorgen refuses as meaningless).
CALENDAR_VALUES = [
    ("weekdays", "saturday:sunday", False),
    ("weekdays", "monday:sunday", False),
    ("weekdays", "sunday:saturday", True),
    ("weekdays", "monday:friday", True),
    ("days_of_month", "31:1", False),
    ("days_of_month", "-1:-3", False),
    ("days_of_month", "-5:5", False),
    ("days_of_month", "0", False),
    ("days_of_month", "32", False),
    ("days_of_month", "x", False),
    ("days_of_month", "-3:-1", True),
    ("days_of_month", "1:-1", True),
    ("months", "december:january", False),
    ("months", "jan", False),
    ("months", "March", True),
    ("months", "1:3", True),
    ("years", "2025:2020", False),
    ("years", "20x", False),
    ("years", "2020:2025", True),
]


CALENDAR_FIELDS = ("weekdays", "days_of_month", "months", "years")


def _calendar_findings(field: str, value: str) -> list[str]:
    given = {name: (value,) if name == field else () for name in CALENDAR_FIELDS}
    interval = TimeInterval(
        "t",
        weekdays=given["weekdays"],
        days_of_month=given["days_of_month"],
        months=given["months"],
        years=given["years"],
        path=("routing", "time_intervals", 0),
    )
    spec_routing = Routing(root=Route(receiver="r"), time_intervals=(interval,))
    return [d.code for d in routing.invalid_time_intervals(spec_routing)]


@pytest.mark.parametrize(("field", "value", "amtool_accepts"), CALENDAR_VALUES)
def test_calendar_values_amtool_refuses_are_refused(
    field: str, value: str, amtool_accepts: bool
) -> None:
    expected = [] if amtool_accepts else ["routing/time-interval"]
    assert _calendar_findings(field, value) == expected
    assert _calendar_findings("months", "13") == ["routing/time-interval"]


@pytest.mark.tools
def test_the_calendar_verdicts_are_amtools(tmp_path: Path) -> None:
    """The table above is what the real amtool says, value by value."""
    amtool = require_binary("amtool")
    for field, value, amtool_accepts in CALENDAR_VALUES:
        config = {
            "route": {"receiver": "r"},
            "receivers": [{"name": "r"}],
            "time_intervals": [{"name": "t", "time_intervals": [{field: [value]}]}],
        }
        done = _check_config(amtool, tmp_path, config)
        assert (done.returncode == 0) is amtool_accepts, (field, value, done.stdout)


#: Matcher regexes and whether Alertmanager (Go's RE2) accepts them; Python's `re`
#: accepts all but the last.
MATCHER_REGEXES = [
    ("critical|warning", True),
    ("[[:alpha:]]+-[0-9]{2,}", True),
    ("(?i)shop.*", True),
    ("(?!billing).*", False),
    ("shop(?=-eu)", False),
    ("(?<!x)team", False),
    ("(a)\\1", False),
    ("critical|(warning", False),
    ("\\Qa.b\\E", True),
    ("shop\\z", True),
    ("\\101", True),
    ("[[:^alpha:]]+", True),
    ("a{,2}", True),
    ("[[:nosuch:]]", False),
]


def _regex_findings(pattern: str) -> list[str]:
    route = Route(receiver="r", matchers=(RouteMatcher("team", "=~", pattern),), path=("r",))
    spec_routing = Routing(root=Route(receiver="r", routes=(route,)))
    return [d.code for d in routing.invalid_regexes(spec_routing)]


@pytest.mark.parametrize(("pattern", "amtool_accepts"), MATCHER_REGEXES)
def test_a_matcher_regex_alertmanager_refuses_is_an_error(
    pattern: str, amtool_accepts: bool
) -> None:
    assert _regex_findings(pattern) == ([] if amtool_accepts else ["routing/invalid-regex"])


@pytest.mark.tools
def test_the_matcher_regex_verdicts_are_amtools(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    for pattern, amtool_accepts in MATCHER_REGEXES:
        config = {
            "route": {
                "receiver": "r",
                "routes": [{"receiver": "r", "matchers": [f'team=~"{pattern}"']}],
            },
            "receivers": [{"name": "r"}],
        }
        done = _check_config(amtool, tmp_path, config)
        assert (done.returncode == 0) is amtool_accepts, (pattern, done.stdout)


#: (pattern, team label value, whether the matcher selects it), as Alertmanager matches.
MATCHER_VALUES = [
    ("[[:alpha:]]+-[0-9]{2,}", "shop-12", True),
    ("[[:alpha:]]+-[0-9]{2,}", "shop-1", False),
    ("[_[:digit:]]+", "_12", True),
    ("(?i)shop.*", "SHOP-eu", True),
    ("critical|warning", "criticalx", False),
    # RE2's classes are ASCII, {,2} is literal text, \\Q...\\E quotes, \\101 is octal.
    ("\\w+", "\u00fc", False),
    ("\\d", "\u0663", False),
    ("\\s", "\u00a0", False),
    ("[[:^alpha:]]+", "12", True),
    ("[[:^alpha:]]+", "ab", False),
    ("a{,2}", "a{,2}", True),
    ("a{,2}", "aa", False),
    ("\\Qa.b\\E", "a.b", True),
    ("\\Qa.b\\E", "axb", False),
    ("\\101", "A", True),
    ("shop\\z", "shop", True),
]


@pytest.mark.parametrize(("pattern", "value", "selected"), MATCHER_VALUES)
def test_a_matcher_regex_selects_what_alertmanager_selects(
    pattern: str, value: str, selected: bool
) -> None:
    matcher = RouteMatcher("team", "=~", pattern)
    assert routing.matcher_matches(matcher, {"team": value}) is selected


@pytest.mark.tools
def test_the_matcher_regex_selections_are_amtools(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    for pattern, value, selected in MATCHER_VALUES:
        config = {
            "route": {
                "receiver": "rest",
                "routes": [{"receiver": "hit", "matchers": [f'team=~"{pattern}"']}],
            },
            "receivers": [{"name": "rest"}, {"name": "hit"}],
        }
        path = tmp_path / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        done = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={path}", f"team={value}"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout.strip() == ("hit" if selected else "rest"), (pattern, value, done)


def test_a_time_range_over_midnight_is_split_at_its_own_times() -> None:
    interval = TimeInterval("late", times=(TimeRange("21:00", "05:30"),), path=("i",))
    spec_routing = Routing(root=Route(receiver="r"), time_intervals=(interval,))
    (found,) = routing.invalid_time_intervals(spec_routing)
    assert found.code == "routing/time-range"
    assert found.hint == "split a range over midnight in two: 21:00-24:00 and 00:00-05:30"


@pytest.mark.tools
def test_amtool_refuses_group_by_every_label_beside_others(tmp_path: Path) -> None:
    """The verdict routing/group-by anticipates (tests/invalid/group_by_wildcard_and_labels)."""
    amtool = require_binary("amtool")
    cases = ((["..."], True), (["alertname"], True), (["...", "alertname"], False))
    for group_by, accepted in cases:
        config = {
            "route": {"receiver": "r", "routes": [{"receiver": "r", "group_by": group_by}]},
            "receivers": [{"name": "r"}],
        }
        done = _check_config(amtool, tmp_path, config)
        assert (done.returncode == 0) is accepted, (group_by, done.stdout)


def _check_config(amtool: str, directory: Path, config: dict[str, Any]) -> CompletedProcess[str]:
    """`amtool check-config` on `config` written out as YAML."""
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, check=False
    )
