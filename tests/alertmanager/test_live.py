"""A real Alertmanager on 127.0.0.1 runs each generated config.

Only the receivers' endpoints are redirected to local capture servers (the harness
rewrites URLs, SMTP hosts and secret files) and the timing is shortened; routes,
grouping, inhibition, time intervals and templates are the generated ones.
Every posted alert carries a `case` label, which the notification texts render, so
each delivery can be traced to the alert it is about.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitorgen import routing
from monitorgen.model import Spec
from monitorgen.pipeline import compile_spec
from monitorgen.targets import alertmanager
from tests.alertmanager.helpers import SPEC_FILES
from tests.harness import AlertmanagerServer, CaptureServer, SmtpCapture

pytestmark = pytest.mark.e2e

GROUP_WAIT = 2.0
ROUTE_TIMING = {"group_wait": "2s", "group_interval": "2s", "repeat_interval": "1h"}
#: Long enough for a notification that should not come to have come.
QUIET_PERIOD = GROUP_WAIT + 1.5
_CASE = re.compile(r'\bcase"?\s*[=:]\s*"?(c\d{3})\b')

Labels = dict[str, str]
AlertmanagerFactory = Callable[..., AlertmanagerServer]


def _spec(stem: str) -> Spec:
    [path] = [p for p in SPEC_FILES if p.stem == stem]
    [compiled] = compile_spec(path)
    assert compiled.spec is not None
    return compiled.spec


def _start(
    factory: AlertmanagerFactory, spec: Spec, capture: CaptureServer, smtp: SmtpCapture
) -> AlertmanagerServer:
    config, template = alertmanager.render(spec)
    return factory(
        config.content.decode(),
        capture,
        smtp,
        route_timing=ROUTE_TIMING,
        extra_files={alertmanager.TEMPLATE_REFERENCE: template.content.decode()},
    )


def _alert(labels: Mapping[str, str]) -> dict[str, Any]:
    name = labels.get("alertname", "")
    return {
        "labels": dict(labels),
        "annotations": {
            "summary": f"summary of {name}",
            "runbook_url": f"https://runbooks.example.com/{name.lower()}",
        },
    }


def _mail_text(mail: Any) -> str:
    return "\n".join(
        str(part.get_content())
        for part in mail.message.walk()
        if part.get_content_maintype() == "text"
    )


def deliveries(capture: CaptureServer, smtp: SmtpCapture) -> set[tuple[str, str]]:
    """(receiver, case) for every alert every notification so far was about."""
    found = set()
    for request in capture.requests:
        for case in _CASE.findall(request.body.decode(errors="replace")):
            found.add((str(request.receiver), case))
    for mail in smtp.messages:
        for case in _CASE.findall(_mail_text(mail)):
            found.add((str(mail.receiver), case))
    return found


def _wait_for_deliveries(
    am: AlertmanagerServer,
    capture: CaptureServer,
    smtp: SmtpCapture,
    expected: set[tuple[str, str]],
) -> set[tuple[str, str]]:
    """Wait until every expected delivery arrived, then a quiet period for extra ones."""
    am.wait_for(
        lambda: expected <= deliveries(capture, smtp),
        timeout=30,
        message=f"deliveries {sorted(expected - deliveries(capture, smtp))}",
    )
    time.sleep(QUIET_PERIOD)
    return deliveries(capture, smtp)


def _states(am: AlertmanagerServer) -> dict[str, dict[str, Any]]:
    return {a["labels"]["case"]: a["status"] for a in am.alerts() if "case" in a["labels"]}


def _route_labels(spec: Spec) -> set[str]:
    assert spec.routing is not None
    return {m.label for route in routing.walk(spec.routing.root) for m in route.matchers}


def _isolated(spec: Spec, labels: Labels, index: int) -> Labels:
    """The case's labels, with every label an inhibit rule compares made unique to it
    (unless a route looks at it), so that cases posted together mute each other only
    where no such label tells them apart."""
    compared = {name for rule in alertmanager.inhibit_rules(spec) for name in rule.equal}
    unique = compared - _route_labels(spec) - {"alertname", "severity", "service", "slo"}
    return {**labels, **{name: f"{name}-{index}" for name in unique}, "case": f"c{index:03d}"}


def _notified(spec: Spec, labels: Labels, posted: Sequence[Labels]) -> tuple[str, ...]:
    """Receivers notified about `labels` now, by monitorgen's own model."""
    assert spec.routing is not None
    if routing.inhibited(alertmanager.inhibit_rules(spec), labels, posted):
        return ()
    now = datetime.now(UTC)
    notified = routing.receivers_at(spec.routing, labels, now)
    later = routing.receivers_at(spec.routing, labels, now + timedelta(seconds=60))
    if notified != later:
        pytest.skip("a time interval of the spec starts or ends within the next minute")
    return notified


@pytest.mark.parametrize("stem", [p.stem for p in SPEC_FILES])
def test_each_alert_reaches_the_receivers_monitorgen_predicts(
    stem: str,
    alertmanager_factory: AlertmanagerFactory,
    capture_server: CaptureServer,
    smtp_capture: SmtpCapture,
) -> None:
    spec = _spec(stem)
    cases = routing.routing_cases(spec)
    posted = [_isolated(spec, dict(case.labels), index) for index, case in enumerate(cases)]
    expected = {
        (receiver, labels["case"])
        for labels in posted
        for receiver in _notified(spec, labels, posted)
    }
    # Every alert is posted; which are delivered depends on the hour (time intervals).
    assert {labels["alertname"] for labels in posted} >= {alert.name for alert in spec.alerts}
    am = _start(alertmanager_factory, spec, capture_server, smtp_capture)
    am.post_alerts([_alert(labels) for labels in posted])
    assert _wait_for_deliveries(am, capture_server, smtp_capture, expected) == expected
    states = _states(am)
    suppressed = {case for case, status in states.items() if status["inhibitedBy"]}
    delivered = {case for _, case in expected}
    assert suppressed == {labels["case"] for labels in posted} - delivered - _muted(spec, posted)


def _muted(spec: Spec, posted: Sequence[Labels]) -> set[str]:
    """Cases whose every route is outside its time intervals right now."""
    assert spec.routing is not None
    return {
        labels["case"]
        for labels in posted
        if routing.receivers(spec.routing, labels)
        and not routing.receivers_at(spec.routing, labels, datetime.now(UTC))
    }


def test_grouping_merges_alerts_as_configured(
    alertmanager_factory: AlertmanagerFactory,
    capture_server: CaptureServer,
    smtp_capture: SmtpCapture,
) -> None:
    spec = _spec("http_api")
    assert spec.routing is not None
    slow = {"alertname": "HttpSlowRequests", "severity": "warning", "team": "api"}
    posted = [{**slow, "route": f"/orders/{n}", "case": f"c00{n}"} for n in range(3)]
    other = {"alertname": "HttpClientErrorsSpike", "severity": "info", "team": "api"}
    posted.append({**other, "route": "/orders/0", "case": "c009"})
    [matched] = routing.match(spec.routing, posted[0])
    assert matched.group_by == ("alertname", "team")

    am = _start(alertmanager_factory, spec, capture_server, smtp_capture)
    am.post_alerts([_alert(labels) for labels in posted])
    expected = {("api-webhook", labels["case"]) for labels in posted}
    assert _wait_for_deliveries(am, capture_server, smtp_capture, expected) == expected

    notifications = [r.json for r in capture_server.for_receiver("api-webhook", "webhook")]
    by_group = {tuple(sorted(n["groupLabels"].items())): n for n in notifications}
    assert len(notifications) == len(by_group) == 2, "each group is notified once"
    merged = by_group[(("alertname", "HttpSlowRequests"), ("team", "api"))]
    assert sorted(a["labels"]["case"] for a in merged["alerts"]) == ["c000", "c001", "c002"]
    single = by_group[(("alertname", "HttpClientErrorsSpike"), ("team", "api"))]
    assert [a["labels"]["case"] for a in single["alerts"]] == ["c009"]


def test_critical_alert_inhibits_the_matching_warning(
    alertmanager_factory: AlertmanagerFactory,
    capture_server: CaptureServer,
    smtp_capture: SmtpCapture,
) -> None:
    spec = _spec("llm")
    latency = {"alertname": "HighLatency", "service": "llm", "task_type": "chat"}
    critical = {**latency, "severity": "critical", "case": "c001"}
    warning = {**latency, "severity": "warning", "case": "c002"}
    other_task = {**latency, "severity": "warning", "task_type": "search", "case": "c003"}
    slo = {"alertname": "LlmLatencyBudgetBurn", "service": "llm", "slo": "latency"}
    page = {**slo, "severity": "critical", "slo_tier": "page", "case": "c004"}
    ticket = {**slo, "severity": "warning", "slo_tier": "ticket", "case": "c005"}
    posted = [critical, other_task, page]
    rules = alertmanager.inhibit_rules(spec)
    assert routing.inhibited(rules, warning, posted)
    assert routing.inhibited(rules, ticket, posted)
    assert not routing.inhibited(rules, other_task, posted)

    am = _start(alertmanager_factory, spec, capture_server, smtp_capture)
    am.post_alerts([_alert(labels) for labels in posted])
    am.wait_for(lambda: len(_states(am)) == 3, timeout=10, message="sources stored")
    am.post_alerts([_alert(warning), _alert(ticket)])

    expected = {
        ("slack", "c001"),
        ("team-email", "c001"),
        ("slack", "c003"),
        ("slack", "c004"),
        ("team-email", "c004"),
    }
    assert _wait_for_deliveries(am, capture_server, smtp_capture, expected) == expected
    states = _states(am)
    fingerprints = {a["labels"]["case"]: a["fingerprint"] for a in am.alerts()}
    assert states["c002"]["state"] == "suppressed"
    assert states["c002"]["inhibitedBy"] == [fingerprints["c001"]]
    assert states["c005"]["inhibitedBy"] == [fingerprints["c004"]]
    assert not states["c003"]["inhibitedBy"]


def test_notifications_carry_summary_runbook_and_every_grouped_alert(
    alertmanager_factory: AlertmanagerFactory,
    capture_server: CaptureServer,
    smtp_capture: SmtpCapture,
) -> None:
    spec = _spec("llm")
    base = {"alertname": "HighCost", "severity": "critical", "service": "llm"}
    posted = [{**base, "model": model, "case": f"c01{n}"} for n, model in enumerate("ab")]
    am = _start(alertmanager_factory, spec, capture_server, smtp_capture)
    am.post_alerts([_alert(labels) for labels in posted])
    expected = {(r, labels["case"]) for r in ("slack", "team-email") for labels in posted}
    _wait_for_deliveries(am, capture_server, smtp_capture, expected)

    [mail] = smtp_capture.messages
    assert mail.rcpt_tos == ["team@example.com"]
    assert mail.message["Subject"] == "[FIRING:2] HighCost (critical) on llm"
    text = _mail_text(mail)
    assert text.count("summary of HighCost") >= 2
    assert "https://runbooks.example.com/highcost" in text
    [slack] = [r.json for r in capture_server.for_receiver("slack", "slack")]
    [attachment] = slack["attachments"]
    assert slack["channel"] == "#llm-alerts"
    assert attachment["title"] == "LLM Optimization Alert"
    assert "<https://runbooks.example.com/highcost|Runbook>" in attachment["text"]
    assert {"`case=c010`", "`case=c011`"} <= set(attachment["text"].split())
