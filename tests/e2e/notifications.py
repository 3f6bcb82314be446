"""Read what the generated receivers delivered back into alerts: labels, annotations, text.

Webhook and PagerDuty notifications carry labels and annotations as data; Slack and
e-mail carry the text of the generated templates (`monitorgen.slack.text`,
`monitorgen.text`), whose label lines are parsed back. Every alert keeps its own block
of text, so a test can check that its summary and description were rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.harness import CapturedMail, CapturedRequest

FIRING = "firing"
RESOLVED = "resolved"

_SLACK_LABELS = re.compile(r"^(`[^`=]+=[^`]*` ?)+$")
_SLACK_PAIR = re.compile(r"`([^`=]+)=([^`]*)`")
_PAGERDUTY_PAIR = re.compile(r"^ - (\S+) = (.*)$")
_TEMPLATE_ACTION = re.compile(r"{{(.*?)}}")
_LABEL_REFERENCE = re.compile(r"^\s*\$labels\.(\w+)\s*$")


@dataclass(frozen=True)
class NotifiedAlert:
    """One alert inside one notification."""

    status: str
    labels: Mapping[str, str]
    text: str
    annotations: Mapping[str, str] | None = None
    """Only for receivers that send annotations as data (webhook, PagerDuty)."""

    def has(self, alertname: str, severity: str | None = None) -> bool:
        """True for the alert of this name (and severity, when given)."""
        if self.labels.get("alertname") != alertname:
            return False
        return severity is None or self.labels.get("severity") == severity


@dataclass(frozen=True)
class Notification:
    """One delivery of one receiver."""

    receiver: str
    kind: str
    alerts: tuple[NotifiedAlert, ...]

    def about(
        self, alertname: str, severity: str | None = None, status: str = FIRING
    ) -> list[NotifiedAlert]:
        """The alerts of this name (and severity) with this status."""
        return [a for a in self.alerts if a.status == status and a.has(alertname, severity)]


def from_request(request: CapturedRequest) -> Notification:
    """Parse an HTTP receiver's request (kind from the capture URL)."""
    body = request.json
    kind = request.kind or ""
    if kind == "webhook":
        alerts = tuple(_webhook_alert(a) for a in body["alerts"])
    elif kind == "pagerduty":
        alerts = _pagerduty_alerts(body)
    elif kind == "slack":
        alerts = _slack_alerts(body["attachments"][0]["text"])
    else:
        raise ValueError(f"no parser for {kind} notifications")
    return Notification(request.receiver or "", kind, alerts)


def from_mail(mail: CapturedMail) -> Notification:
    """Parse an e-mail notification from its text/plain part."""
    return Notification(mail.receiver or "", "email", _text_alerts(_plain_text(mail)))


def parse_all(
    requests: Iterable[CapturedRequest], mails: Iterable[CapturedMail]
) -> list[Notification]:
    """Every captured notification: HTTP ones in arrival order, then e-mails."""
    return [from_request(r) for r in requests] + [from_mail(m) for m in mails]


def _webhook_alert(alert: Mapping[str, Any]) -> NotifiedAlert:
    annotations = dict(alert.get("annotations") or {})
    text = "\n".join(annotations.values())
    return NotifiedAlert(alert["status"], dict(alert["labels"]), text, annotations)


def _pagerduty_alerts(body: Mapping[str, Any]) -> tuple[NotifiedAlert, ...]:
    details = body["payload"]["custom_details"]
    alerts: list[NotifiedAlert] = []
    for status in (FIRING, RESOLVED):
        for block in re.split(r"(?m)^(?=Labels:$)", details.get(status) or ""):
            if block.strip():
                alerts.append(_pagerduty_alert(status, block))
    return tuple(alerts)


def _pagerduty_alert(status: str, block: str) -> NotifiedAlert:
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    section: dict[str, str] = labels
    for line in block.splitlines():
        if line == "Annotations:":
            section = annotations
        elif match := _PAGERDUTY_PAIR.match(line):
            section[match.group(1)] = match.group(2)
    return NotifiedAlert(status, labels, block, annotations)


def _slack_alerts(text: str) -> tuple[NotifiedAlert, ...]:
    alerts: list[NotifiedAlert] = []
    status, block = FIRING, list[str]()
    for line in text.splitlines():
        if line == "*Resolved:*":
            status = RESOLVED
        elif _SLACK_LABELS.match(line.strip()):
            labels = dict(_SLACK_PAIR.findall(line))
            alerts.append(NotifiedAlert(status, labels, "\n".join(block)))
            block = []
        elif line:
            block.append(line)
    return tuple(alerts)


def _text_alerts(text: str) -> tuple[NotifiedAlert, ...]:
    alerts: list[NotifiedAlert] = []
    status, block = FIRING, list[str]()
    for line in text.splitlines():
        if line in ("Firing:", "Resolved:"):
            status = FIRING if line == "Firing:" else RESOLVED
        elif line.startswith("Labels: "):
            pairs = (p.split("=", 1) for p in line[len("Labels: ") :].split())
            alerts.append(NotifiedAlert(status, dict(pairs), "\n".join(block)))
            block = []
        elif line:
            block.append(line)
    return tuple(alerts)


def _plain_text(mail: CapturedMail) -> str:
    for part in mail.message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_content())
    raise ValueError("notification mail without a text/plain part")


def template_pattern(template: str, labels: Mapping[str, str]) -> re.Pattern[str]:
    """A regex for the text a Prometheus annotation template renders to for `labels`.

    `{{ $labels.x }}` must render the alert's label value; any other action (`$value`
    piped through humanize and friends) must render to some non-empty text on one line.
    """
    parts: list[str] = []
    position = 0
    for action in _TEMPLATE_ACTION.finditer(template):
        parts.append(re.escape(template[position : action.start()]))
        reference = _LABEL_REFERENCE.match(action.group(1))
        parts.append(re.escape(labels[reference.group(1)]) if reference else r"[^\n]+?")
        position = action.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))
