"""Assertions shared by the end-to-end modules: alert delivery, silence, inhibition,
grouping, recording rules and dashboards, each against a LiveStack."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .notifications import FIRING, RESOLVED, Notification, NotifiedAlert, template_pattern
from .stack import DELIVERY_GRACE, QUIET_HOLD, LiveStack, condition_inputs, wait_until

# Grafana: $__rate_interval = max($__interval + scrape interval, 4 * scrape interval).
RATE_INTERVAL = "4s"
STEP = "1s"
"""The range queries' step, which Grafana also puts into $__interval."""
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


@dataclass(frozen=True)
class AlertCase:
    """One alerting rule of the spec and what the scenario expects of it."""

    alertname: str
    severity: str
    receivers: frozenset[str]
    """Exactly the receivers its labels route to."""
    instances: tuple[Mapping[str, str], ...] = ({},)
    """Labels beyond the rule's own that each expected alert carries (its `by` labels)."""
    phase: str = "fire"
    """The phase in which its condition starts to hold."""

    @property
    def id(self) -> str:
        return f"{self.alertname}-{self.severity}"


def case(
    alertname: str,
    severity: str,
    receivers: Sequence[str],
    *instances: Mapping[str, str],
    phase: str = "fire",
) -> AlertCase:
    return AlertCase(alertname, severity, frozenset(receivers), tuple(instances) or ({},), phase)


def expected_labels(
    stack: LiveStack, item: AlertCase, instance: Mapping[str, str]
) -> dict[str, str]:
    """Every label the delivered alert must carry, and no other."""
    rule = stack.alert_rule(item.alertname, item.severity)
    return {
        **stack.external_labels(),
        **{k: str(v) for k, v in rule["labels"].items()},
        "alertname": item.alertname,
        **{k: v.format_map(stack.placeholders()) for k, v in instance.items()},
    }


def _delivered(found: list[Notification], item: AlertCase, receiver: str) -> list[NotifiedAlert]:
    return [
        alert
        for n in found
        if n.receiver == receiver
        for alert in n.about(item.alertname, item.severity)
    ]


def _all_instances_delivered(stack: LiveStack, item: AlertCase, found: list[Notification]) -> bool:
    for receiver in item.receivers:
        labels = [dict(a.labels) for a in _delivered(found, item, receiver)]
        if any(expected_labels(stack, item, i) not in labels for i in item.instances):
            return False
    return True


def assert_delivered_exactly(stack: LiveStack, item: AlertCase) -> None:
    """Its alerts reach exactly its receivers, carrying the generated labels and annotations."""
    stack.advance(item.phase)
    found = stack.wait_for_notifications(
        lambda found: _all_instances_delivered(stack, item, found),
        f"{item.id} delivered to {sorted(item.receivers)}",
    )
    reached = {n.receiver for n in found if n.about(item.alertname, item.severity)}
    assert reached == item.receivers
    rule = stack.alert_rule(item.alertname, item.severity)
    wanted = [expected_labels(stack, item, i) for i in item.instances]
    for receiver in item.receivers:
        for alert in _delivered(found, item, receiver):
            assert dict(alert.labels) in wanted, f"unexpected {item.id}: {alert.labels}"
            assert_rendered(rule, alert)


def assert_rendered(rule: Mapping[str, Any], alert: NotifiedAlert) -> None:
    """The alert's annotations are the rule's templates rendered for its labels."""
    templates = {k: str(v) for k, v in rule.get("annotations", {}).items()}
    if alert.annotations is not None:
        assert set(alert.annotations) == set(templates)
        for key, template in templates.items():
            pattern = template_pattern(template, alert.labels)
            assert pattern.fullmatch(alert.annotations[key]), (key, alert.annotations[key])
        return
    for key in ("summary", "description", "runbook_url"):
        if key in templates:
            pattern = template_pattern(templates[key], alert.labels)
            assert pattern.search(alert.text), f"{key} {templates[key]!r} not in {alert.text!r}"


def assert_silent_below_threshold(stack: LiveStack, item: AlertCase) -> None:
    """With data below its threshold the condition is evaluated, but nothing fires."""
    stack.advance("quiet", exactly=True)
    rule = stack.alert_rule(item.alertname, item.severity)
    for query in condition_inputs(rule["expr"]):
        assert stack.prometheus.query(query), f"{item.id}: no data for {query}"
    live = stack.rule_state(item.alertname, item.severity)
    assert (live["health"], live["state"]) == ("ok", "inactive"), live
    notified = [n.receiver for n in stack.notifications() if n.about(item.alertname, item.severity)]
    if item.phase == "absent" and notified:
        # Its own test made it fire while its data was missing: the data back, it resolves.
        # Run without that test (`-k`, or on another worker), it never fired: nothing may.
        stack.wait_for_notifications(
            lambda found: _resolved_everywhere(item, found), f"{item.id} resolved"
        )
        return
    assert not notified, f"{item.id} was delivered below its threshold to {notified}"


def _resolved_everywhere(item: AlertCase, found: list[Notification]) -> bool:
    return all(
        any(n.receiver == r and n.about(item.alertname, item.severity, RESOLVED) for n in found)
        for r in item.receivers
    )


def settle_quiet(stack: LiveStack) -> None:
    """Wait until every alert's condition is evaluated on data, then long enough that an
    alert wrongly firing on it would have been delivered."""
    queries = [q for rule in stack.alert_rules() for q in condition_inputs(rule["expr"])]
    wait_until(
        lambda: all(stack.prometheus.query(q) for q in queries),
        "data for every alert condition",
    )
    time.sleep(QUIET_HOLD)


def assert_only_expected_receivers(stack: LiveStack, cases: Sequence[AlertCase]) -> None:
    """Over the whole run, no firing alert reached a receiver its case does not name."""
    expected = {(c.alertname, c.severity): c.receivers for c in cases}
    for notification in stack.notifications():
        for alert in notification.alerts:
            if alert.status != FIRING:
                continue
            key = (alert.labels["alertname"], alert.labels["severity"])
            assert key in expected, f"unexpected alert delivered: {alert.labels}"
            assert notification.receiver in expected[key], (notification.receiver, key)


def assert_inhibited(
    stack: LiveStack, alertname: str, severity: str, **labels: str
) -> list[dict[str, Any]]:
    """The alert (those of its instances with `labels`) fires in Prometheus, Alertmanager
    holds it as inhibited, and after DELIVERY_GRACE nothing about it was delivered."""

    wait_until(
        lambda: [
            a for a in stack.active_alerts(alertname, severity) if _carries(a["labels"], labels)
        ],
        f"{alertname} {severity} {labels} active in Prometheus",
    )
    held: list[dict[str, Any]] = wait_until(
        lambda: _inhibited_in_alertmanager(stack, alertname, severity, labels),
        f"{alertname} {severity} {labels} inhibited in Alertmanager",
    )
    time.sleep(DELIVERY_GRACE)
    delivered = [
        n.receiver
        for n in stack.notifications()
        for alert in n.about(alertname, severity)
        if _carries(alert.labels, labels)
    ]
    assert not delivered, f"inhibited {alertname} ({severity}) was delivered to {delivered}"
    firing = [a for a in stack.active_alerts(alertname, severity) if _carries(a["labels"], labels)]
    assert all(a["state"] == "firing" for a in firing) and firing
    return held


def _carries(found: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(found.get(k) == v for k, v in labels.items())


def _inhibited_in_alertmanager(
    stack: LiveStack, alertname: str, severity: str, labels: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    held = stack.alertmanager.alerts(filter=f'alertname="{alertname}"')
    chosen = [
        a for a in held if a["labels"].get("severity") == severity and _carries(a["labels"], labels)
    ]
    if chosen and all(a["status"]["inhibitedBy"] for a in chosen):
        return chosen
    return None


def assert_grouped(
    stack: LiveStack, item: AlertCase, receiver: str, instances: Sequence[Mapping[str, str]]
) -> None:
    """Several alerts of one group arrive together in a single notification."""
    stack.advance(item.phase)
    wanted = [expected_labels(stack, item, i) for i in instances]

    def one_notification_with_all(found: list[Notification]) -> bool:
        for n in found:
            if n.receiver != receiver:
                continue
            labels = [dict(a.labels) for a in n.about(item.alertname, item.severity)]
            if all(w in labels for w in wanted):
                return True
        return False

    stack.wait_for_notifications(one_notification_with_all, f"{item.id} grouped")


# --- recording rules and dashboards -------------------------------------------------------


def assert_recording_rules_produce_series(stack: LiveStack) -> None:
    missing = []
    for rule in stack.recording_rules():
        matchers = ",".join(f'{k}="{v}"' for k, v in sorted((rule.get("labels") or {}).items()))
        query = f"{rule['record']}{{{matchers}}}"
        if not stack.prometheus.query(query):
            missing.append(query)
    assert not missing, f"recording rules without series: {missing}"


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str
    instant: bool


def panel_queries(stack: LiveStack) -> list[PanelQuery]:
    """Every target of every panel of every generated dashboard (rows included)."""
    found = []
    for path in sorted((stack.out / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                found.append(
                    PanelQuery(
                        dashboard["uid"],
                        panel["title"],
                        target["expr"],
                        bool(target.get("instant")),
                    )
                )
    return found


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat


def expand_panel_expr(expr: str, range_seconds: int) -> str:
    """What Grafana sends with every variable at All (`.*`) on a 1s-scrape Prometheus."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    expr = expr.replace("$__interval", STEP)
    expr = expr.replace("$__range", f"{range_seconds}s")
    return _VARIABLE.sub(".*", expr)


def panel_values(stack: LiveStack, query: PanelQuery) -> list[float]:
    """The values Grafana would draw: an instant query, or a range query over the run.

    `$__range` becomes the time since the stack started: all data is younger than the
    panel's real range (today or this month so far), so the result is the same.
    """
    now = time.time()
    age = int(now - stack.started_at) + 1
    expr = expand_panel_expr(query.expr, age)
    if query.instant:
        result = stack.prometheus.query(expr)
        return [float(s["value"][1]) for s in result]
    data = stack.prometheus.api(
        "/api/v1/query_range",
        {"query": expr, "start": str(stack.started_at), "end": str(now), "step": STEP},
    )
    return [float(v[1]) for series in data["result"] for v in series["values"]]


def assert_panels_show_data(stack: LiveStack) -> None:
    """No panel query comes back empty or without a single finite number."""
    queries = panel_queries(stack)
    assert queries, "no dashboard panels found"
    empty = [
        f"{q.dashboard} / {q.panel}: {q.expr}"
        for q in queries
        if not any(math.isfinite(v) for v in panel_values(stack, q))
    ]
    assert not empty, "panels without data:\n" + "\n".join(empty)
