"""Alertmanager config: `alertmanager/alertmanager.yml` (routes, receivers, inhibition,
time intervals) and the notification texts in `alertmanager/templates/monitorgen.tmpl`.

Secrets appear only as `*_file` references. Inhibition adds two kinds of rules to the
spec's own: a critical alert mutes the warning of the same alert and instance
(`routing.default_inhibit`), and an SLO's page tier mutes its ticket tier.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

from monitorgen.model import (
    Alert,
    EmailConfig,
    InhibitRule,
    OpsgenieConfig,
    PagerdutyConfig,
    Receiver,
    Route,
    RouteMatcher,
    Severity,
    SlackConfig,
    Slo,
    Spec,
    TimeInterval,
    WebhookConfig,
)
from monitorgen.rule_set import labels_named, series_identity
from monitorgen.slo import Tier
from monitorgen.targets.base import Artifact, header_lines, yaml_artifact

CONFIG_PATH = "alertmanager/alertmanager.yml"
TEMPLATE_PATH = "alertmanager/templates/monitorgen.tmpl"
#: As the config names it: Alertmanager resolves it against the config file's folder.
TEMPLATE_REFERENCE = "templates/monitorgen.tmpl"

TITLE = '{{ template "monitorgen.title" . }}'
TEXT = '{{ template "monitorgen.text" . }}'
SLACK_TEXT = '{{ template "monitorgen.slack.text" . }}'
EMAIL_HTML = '{{ template "monitorgen.email.html" . }}'
PAGERDUTY_SEVERITY = '{{ template "monitorgen.pagerduty.severity" . }}'
OPSGENIE_PRIORITY = '{{ template "monitorgen.opsgenie.priority" . }}'

#: Labels every alert instance can be told apart by, besides its query's `by` labels.
INSTANCE_LABELS = ("instance", "job")


def render(spec: Spec) -> list[Artifact]:
    if spec.routing is None:
        return []
    return [yaml_artifact(spec, CONFIG_PATH, config(spec)), template_artifact(spec)]


def template_artifact(spec: Spec) -> Artifact:
    source = resources.files("monitorgen.targets").joinpath("templates/monitorgen.tmpl")
    header = "".join(f"{{{{/* {line} */}}}}\n" for line in header_lines(spec))
    return Artifact(TEMPLATE_PATH, (header + source.read_text(encoding="utf-8")).encode())


def config(spec: Spec) -> dict[str, Any]:
    """The Alertmanager config as data. Built once per spec: this target writes it and
    the Kubernetes one translates it (neither changes it)."""
    return spec.derived("alertmanager.config", lambda: _config(spec))


def _config(spec: Spec) -> dict[str, Any]:
    assert spec.routing is not None
    data: dict[str, Any] = {"templates": [TEMPLATE_REFERENCE]}
    data["route"] = _route(spec.routing.root)
    inhibit = inhibit_rules(spec)
    if inhibit:
        data["inhibit_rules"] = [_inhibit_rule(rule) for rule in inhibit]
    data["receivers"] = [_receiver(r) for r in spec.receivers]
    if spec.routing.time_intervals:
        data["time_intervals"] = [_time_interval(t) for t in spec.routing.time_intervals]
    return data


# --- routes ------------------------------------------------------------------------------


def _route(route: Route) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if route.receiver:
        data["receiver"] = route.receiver
    if route.matchers:
        data["matchers"] = [str(m) for m in route.matchers]
    if route.group_by is not None:
        data["group_by"] = list(route.group_by)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, key)
        if value:
            data[key] = value
    if route.mute_time_intervals:
        data["mute_time_intervals"] = list(route.mute_time_intervals)
    if route.active_time_intervals:
        data["active_time_intervals"] = list(route.active_time_intervals)
    if route.continue_:
        data["continue"] = True
    if route.routes:
        data["routes"] = [_route(child) for child in route.routes]
    return data


def _time_interval(interval: TimeInterval) -> dict[str, Any]:
    """One named interval; the spec's fields make its single time range entry."""
    entry: dict[str, Any] = {}
    if interval.times:
        entry["times"] = [{"start_time": t.start, "end_time": t.end} for t in interval.times]
    for key in ("weekdays", "days_of_month", "months", "years"):
        values = getattr(interval, key)
        if values:
            entry[key] = list(values)
    if interval.location:
        entry["location"] = interval.location
    return {"name": interval.name, "time_intervals": [entry]}


# --- inhibition --------------------------------------------------------------------------


def inhibit_rules(spec: Spec) -> list[InhibitRule]:
    """The spec's rules, then the default critical-over-warning rule, then SLO tiers."""
    assert spec.routing is not None
    rules = list(spec.routing.inhibit_rules)
    if spec.default_inhibit:
        rules.append(default_inhibit_rule(spec))
    rules.extend(_slo_tier_rule(spec, slo) for slo in spec.slos if _has_two_tiers(slo))
    return rules


def identifying_labels(spec: Spec) -> tuple[str, ...]:
    """Labels that tell one instance of an alert from another.

    A label missing from both alerts counts as equal in Alertmanager, so listing every
    candidate is safe: an alert is only muted by one about the same thing.
    """
    names = {name for name, _ in spec.prometheus.external_labels}
    names.update(INSTANCE_LABELS)
    for alert in spec.alerts:
        names.update(series_identity(spec, alert))
        names.update(_labels_named_in_text(alert))
    for slo in spec.slos:
        names.update(slo.by)
    names.difference_update({"alertname", "service", "severity"})
    return ("alertname", "service", *sorted(names))


def _labels_named_in_text(alert: Alert) -> set[str]:
    """The labels an alert's summary, description and annotations name: they tell its
    instances apart even where its expression keeps labels unknown to the spec (the
    `mountpoint` of an external filesystem metric)."""
    texts = (alert.summary, alert.description, *(value for _, value in alert.annotations))
    return {name for text in texts for name in labels_named(text)}


def default_inhibit_rule(spec: Spec) -> InhibitRule:
    return InhibitRule(
        source=(RouteMatcher("severity", "=", Severity.CRITICAL.value),),
        target=(RouteMatcher("severity", "=", Severity.WARNING.value),),
        equal=identifying_labels(spec),
    )


def _has_two_tiers(slo: Slo) -> bool:
    return slo.page.enabled and slo.ticket.enabled


def _slo_tier_rule(spec: Spec, slo: Slo) -> InhibitRule:
    """While an SLO pages, its slower ticket alert for the same series says nothing new.

    The tiers are told apart by their `slo_tier` label, so this holds whatever
    severities the spec gives them.
    """

    def tier(which: Tier) -> tuple[RouteMatcher, ...]:
        return (
            RouteMatcher("alertname", "=", slo.alert_name),
            RouteMatcher("slo", "=", slo.name),
            RouteMatcher("slo_tier", "=", which.value),
        )

    external = sorted(name for name, _ in spec.prometheus.external_labels)
    equal = ("service", *_unique([*external, *slo.by]))
    return InhibitRule(tier(Tier.PAGE), tier(Tier.TICKET), equal)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n not in ("service", "alertname", "slo")))


def _inhibit_rule(rule: InhibitRule) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_matchers": [str(m) for m in rule.source],
        "target_matchers": [str(m) for m in rule.target],
    }
    if rule.equal:
        data["equal"] = list(rule.equal)
    return data


# --- receivers ---------------------------------------------------------------------------


def _receiver(receiver: Receiver) -> dict[str, Any]:
    data: dict[str, Any] = {"name": receiver.name}
    if receiver.email:
        data["email_configs"] = [_email(e) for e in receiver.email]
    if receiver.slack:
        data["slack_configs"] = [_slack(s) for s in receiver.slack]
    if receiver.webhook:
        data["webhook_configs"] = [_webhook(w) for w in receiver.webhook]
    if receiver.pagerduty:
        data["pagerduty_configs"] = [_pagerduty(p) for p in receiver.pagerduty]
    if receiver.opsgenie:
        data["opsgenie_configs"] = [_opsgenie(o) for o in receiver.opsgenie]
    return data


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that are set, in the order given (False is a setting, None is not)."""
    return {key: value for key, value in fields.items() if value is not None}


def _email(email: EmailConfig) -> dict[str, Any]:
    data = {"send_resolved": email.send_resolved, "to": email.to}
    data.update(
        _present(
            **{"from": email.from_},
            smarthost=email.smarthost,
            auth_username=email.auth_username,
            auth_password_file=email.auth_password_file,
            auth_identity=email.auth_identity,
            require_tls=email.require_tls,
        )
    )
    data["headers"] = {"Subject": email.subject or TITLE}
    data["html"] = email.html if email.html is not None else EMAIL_HTML
    data["text"] = email.text if email.text is not None else TEXT
    return data


def _slack(slack: SlackConfig) -> dict[str, Any]:
    data: dict[str, Any] = {
        "send_resolved": slack.send_resolved,
        "api_url_file": slack.api_url_file,
    }
    data.update(
        _present(channel=slack.channel, username=slack.username, icon_emoji=slack.icon_emoji)
    )
    data["title"] = slack.title or TITLE
    data["text"] = slack.text or SLACK_TEXT
    return data


def _webhook(webhook: WebhookConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"send_resolved": webhook.send_resolved, "url": webhook.url}
    if webhook.credentials_file:
        data["http_config"] = {
            "authorization": {
                "type": webhook.auth_type,
                "credentials_file": webhook.credentials_file,
            }
        }
    if webhook.max_alerts:
        data["max_alerts"] = webhook.max_alerts
    return data


def _pagerduty(pagerduty: PagerdutyConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"send_resolved": pagerduty.send_resolved}
    data.update(
        _present(
            routing_key_file=pagerduty.routing_key_file,
            service_key_file=pagerduty.service_key_file,
        )
    )
    data["severity"] = pagerduty.severity or PAGERDUTY_SEVERITY
    data["description"] = pagerduty.description or TITLE
    return data


def _opsgenie(opsgenie: OpsgenieConfig) -> dict[str, Any]:
    data: dict[str, Any] = {
        "send_resolved": opsgenie.send_resolved,
        "api_key_file": opsgenie.api_key_file,
        "message": opsgenie.message or TITLE,
        "description": opsgenie.description or TEXT,
        "priority": opsgenie.priority or OPSGENIE_PRIORITY,
    }
    if opsgenie.responders:
        data["responders"] = [{"type": r.type, "name": r.name} for r in opsgenie.responders]
    return data
