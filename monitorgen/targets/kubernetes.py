"""Kubernetes resources for the prometheus-operator and the Grafana sidecar: `kubernetes/`.

Each resource wraps what another target already made, so the cluster runs exactly
the rules, routing and dashboards of the plain files:

- `prometheus-rule.yaml`: a `PrometheusRule` with the rule groups of `rules.yml`;
- `alertmanager-config.yaml`: an `AlertmanagerConfig` translated from `alertmanager.yml`
  (camelCase keys, typed matchers, secrets as Secret key references instead of files),
  plus a ConfigMap with the notification templates;
- `grafana-dashboard-<uid>.yaml`: one ConfigMap per dashboard, labelled
  `grafana_dashboard: "1"` for the kube-prometheus-stack sidecar.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from monitorgen.model import Spec
from monitorgen.targets import alertmanager, grafana
from monitorgen.targets.base import Artifact, commented_header, dump_yaml
from monitorgen.targets.prometheus_rules import prometheus_rule_resource_text

ALERTMANAGER_CONFIG_API = "monitoring.coreos.com/v1alpha1"
_MATCHER = re.compile(r'^(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)(?P<op>=~|!~|!=|=)"(?P<value>.*)"$')
#: Alertmanager `*_file` fields and the AlertmanagerConfig field taking a Secret key instead.
_SECRET_FIELDS = {
    "auth_password_file": "authPassword",
    "api_url_file": "apiURL",
    "routing_key_file": "routingKey",
    "service_key_file": "serviceKey",
    "api_key_file": "apiKey",
}
_RECEIVER_KINDS = {
    "email_configs": "emailConfigs",
    "slack_configs": "slackConfigs",
    "webhook_configs": "webhookConfigs",
    "pagerduty_configs": "pagerdutyConfigs",
    "opsgenie_configs": "opsgenieConfigs",
}
_UPPER_WORDS = {"url": "URL", "tls": "TLS", "api": "API"}


def render(spec: Spec) -> list[Artifact]:
    rules = commented_header(spec) + prometheus_rule_resource_text(spec)
    artifacts = [Artifact("kubernetes/prometheus-rule.yaml", rules.encode())]
    if spec.routing is not None:
        artifacts.extend(_alertmanager_resources(spec))
    for uid, text in sorted(grafana.dashboard_json(spec).items()):
        config_map = dashboard_config_map(spec, uid, text)
        artifacts.append(_resource(spec, f"kubernetes/grafana-dashboard-{uid}.yaml", config_map))
    return artifacts


def _resource(spec: Spec, path: str, data: dict[str, Any], note: str = "") -> Artifact:
    return Artifact(path, (commented_header(spec) + note + dump_yaml(data)).encode())


def base_name(spec: Spec) -> str:
    """A DNS-1123 name: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", spec.name.lower()).strip("-") or "monitorgen"


def _metadata(spec: Spec, name: str, **extra: Any) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": spec.service, "app.kubernetes.io/managed-by": "monitorgen"}
    return {"name": name, "labels": {**labels, **extra.pop("labels", {})}, **extra}


def dashboard_config_map(spec: Spec, uid: str, text: str) -> dict[str, Any]:
    annotations = {"grafana_folder": spec.grafana.folder} if spec.grafana.folder else {}
    metadata = _metadata(
        spec, f"{base_name(spec)}-dashboard-{uid}", labels={"grafana_dashboard": "1"}
    )
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {f"{uid}.json": text},
    }


# ---------------------------------------------------------------- Alertmanager


def _alertmanager_resources(spec: Spec) -> list[Artifact]:
    secrets = SecretKeys(f"{base_name(spec)}-alertmanager-secrets")
    resource = alertmanager_config_resource(spec, secrets)
    note = secrets.note()
    templates = alertmanager.template_artifact(spec)
    template_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(spec, f"{base_name(spec)}-alertmanager-templates"),
        "data": {PurePosixPath(templates.path).name: templates.content.decode()},
    }
    template_note = (
        "# Load these templates into the Alertmanager (Alertmanager spec: configMaps, and\n"
        "# alertmanagerConfiguration.templates) so the receivers' texts render.\n"
    )
    return [
        _resource(spec, "kubernetes/alertmanager-config.yaml", resource, note),
        _resource(spec, "kubernetes/alertmanager-templates.yaml", template_map, template_note),
    ]


class SecretKeys:
    """Turns each secret file path into a key of one Secret, and lists the keys needed."""

    def __init__(self, secret_name: str) -> None:
        self.secret_name = secret_name
        self.keys: dict[str, str] = {}

    def reference(self, path: str) -> dict[str, str]:
        key = re.sub(r"[^A-Za-z0-9._-]+", "-", PurePosixPath(path).name) or "secret"
        self.keys.setdefault(key, path)
        return {"name": self.secret_name, "key": key}

    def note(self) -> str:
        if not self.keys:
            return ""
        lines = [f"# Secret '{self.secret_name}' must hold these keys (never generated here):\n"]
        lines += [f"#   {key}: the content of {path}\n" for key, path in sorted(self.keys.items())]
        return "".join(lines)


def alertmanager_config_resource(spec: Spec, secrets: SecretKeys) -> dict[str, Any]:
    plain = alertmanager.config(spec)
    body: dict[str, Any] = {
        "route": _route(plain["route"]),
        "receivers": [_receiver(r, secrets) for r in plain.get("receivers", [])],
    }
    if plain.get("inhibit_rules"):
        body["inhibitRules"] = [_inhibit_rule(rule) for rule in plain["inhibit_rules"]]
    intervals = plain.get("time_intervals") or plain.get("mute_time_intervals")
    if intervals:
        body["muteTimeIntervals"] = [_time_interval(i) for i in intervals]
    return {
        "apiVersion": ALERTMANAGER_CONFIG_API,
        "kind": "AlertmanagerConfig",
        "metadata": _metadata(spec, f"{base_name(spec)}-alertmanager"),
        "spec": body,
    }


def camel(key: str) -> str:
    first, *rest = key.split("_")
    return first + "".join(_UPPER_WORDS.get(word, word.capitalize()) for word in rest)


def typed_matcher(text: str) -> dict[str, str]:
    """`severity="critical"` -> {name: severity, value: critical, matchType: "="}."""
    match = _MATCHER.match(text)
    if match is None:
        raise ValueError(f"matcher not in canonical form: {text}")
    value = re.sub(r"\\(.)", r"\1", match.group("value"))
    return {"name": match.group("name"), "value": value, "matchType": match.group("op")}


def _route(route: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in route.items():
        if key == "matchers":
            result["matchers"] = [typed_matcher(m) for m in value]
        elif key == "routes":
            result["routes"] = [_route(child) for child in value]
        elif key == "active_time_intervals":
            result["activeTimeIntervals"] = list(value)
        else:
            result[camel(key)] = value
    return result


def _receiver(receiver: dict[str, Any], secrets: SecretKeys) -> dict[str, Any]:
    result: dict[str, Any] = {"name": receiver["name"]}
    for kind, configs in receiver.items():
        if kind in _RECEIVER_KINDS:
            result[_RECEIVER_KINDS[kind]] = [_fields(c, secrets) for c in configs]
    return result


def _fields(config: dict[str, Any], secrets: SecretKeys) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in config.items():
        if key in _SECRET_FIELDS:
            result[_SECRET_FIELDS[key]] = secrets.reference(value)
        elif key == "headers":
            result["headers"] = [{"key": k, "value": v} for k, v in sorted(value.items())]
        elif key == "http_config":
            result["httpConfig"] = _http_config(value, secrets)
        elif key == "responders":
            result["responders"] = [{camel(k): v for k, v in r.items()} for r in value]
        else:
            result[camel(key)] = value
    return result


def _http_config(config: dict[str, Any], secrets: SecretKeys) -> dict[str, Any]:
    result: dict[str, Any] = {}
    authorization = config.get("authorization")
    if authorization:
        auth: dict[str, Any] = {"type": authorization.get("type", "Bearer")}
        if "credentials_file" in authorization:
            auth["credentials"] = secrets.reference(authorization["credentials_file"])
        result["authorization"] = auth
    return result


def _inhibit_rule(rule: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "sourceMatch": [typed_matcher(m) for m in rule.get("source_matchers", [])],
        "targetMatch": [typed_matcher(m) for m in rule.get("target_matchers", [])],
    }
    if rule.get("equal"):
        result["equal"] = list(rule["equal"])
    return result


def _time_interval(interval: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": interval["name"],
        "timeIntervals": [_time_spec(spec) for spec in interval.get("time_intervals", [])],
    }


def _time_spec(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "times" in spec:
        result["times"] = [
            {"startTime": t["start_time"], "endTime": t["end_time"]} for t in spec["times"]
        ]
    for key in ("weekdays", "days_of_month", "months", "years"):
        if key in spec:
            result[camel(key)] = [_range(item) for item in spec[key]]
    return result


def _range(item: str) -> Any:
    """Weekday/month names stay strings; numeric day ranges become {start, end}."""
    if re.fullmatch(r"-?\d+(:-?\d+)?", str(item)):
        start, _, end = str(item).partition(":")
        return {"start": int(start), "end": int(end or start)}
    return item
