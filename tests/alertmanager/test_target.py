"""The generated Alertmanager config, read back as data: every spec field lands where
Alertmanager 0.25 expects it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from monitorgen import routing
from monitorgen.model import Spec
from monitorgen.targets import alertmanager
from monitorgen.targets.base import header_lines
from tests.alertmanager.helpers import base_document, model_of, spec_models

EVERY_FIELD_RECEIVERS: list[dict[str, Any]] = [
    {
        "name": "mail",
        "email": [
            {
                "to": "team@example.com",
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "auth_username": "am",
                "auth_password_file": "/s/smtp",
                "auth_identity": "am-id",
                "require_tls": False,
                "send_resolved": False,
                "subject": "Alert {{ .CommonLabels.alertname }}",
                "html": "<b>hi</b>",
                "text": "hi",
            },
            {"to": "other@example.com", "from": "am@example.com", "smarthost": "smtp:25"},
        ],
    },
    {
        "name": "chat",
        "slack": [
            {
                "api_url_file": "/s/slack",
                "channel": "#ops",
                "username": "am",
                "title": "T",
                "text": "X",
                "icon_emoji": ":fire:",
                "send_resolved": False,
            }
        ],
        "webhook": [
            {
                "url": "https://hooks.example.com/a",
                "credentials_file": "/s/token",
                "auth_type": "Token",
                "max_alerts": 5,
                "send_resolved": False,
            },
            {"url": "https://hooks.example.com/b"},
        ],
    },
    {
        "name": "pager",
        "pagerduty": [
            {
                "routing_key_file": "/s/pd",
                "severity": "error",
                "description": "D",
                "send_resolved": False,
            },
            {"service_key_file": "/s/pd-service"},
        ],
        "opsgenie": [
            {
                "api_key_file": "/s/og",
                "priority": "P2",
                "message": "M",
                "description": "D",
                "send_resolved": False,
                "responders": [{"type": "team", "name": "ops"}, {"type": "user", "name": "kim"}],
            },
            {"api_key_file": "/s/og2"},
        ],
    },
]


def _config(spec: Spec) -> dict[str, Any]:
    artifact = alertmanager.render(spec)[0]
    assert artifact.path == "alertmanager/alertmanager.yml"
    data = yaml.safe_load(artifact.content)
    assert isinstance(data, dict)
    return data


def _every_field_spec(tmp_path: Path) -> Spec:
    document = base_document()
    document["receivers"] = EVERY_FIELD_RECEIVERS
    document["routing"]["receiver"] = "mail"
    document["routing"]["routes"] = [
        {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True},
        {"matchers": ['severity=~"critical|warning"'], "receiver": "chat"},
    ]
    return model_of(tmp_path, document)


def test_every_receiver_field_is_mapped(tmp_path: Path) -> None:
    receivers = {r["name"]: r for r in _config(_every_field_spec(tmp_path))["receivers"]}
    [mail, default_mail] = receivers["mail"]["email_configs"]
    assert mail == {
        "send_resolved": False,
        "to": "team@example.com",
        "from": "am@example.com",
        "smarthost": "smtp.example.com:587",
        "auth_username": "am",
        "auth_password_file": "/s/smtp",
        "auth_identity": "am-id",
        "require_tls": False,
        "headers": {"Subject": "Alert {{ .CommonLabels.alertname }}"},
        "html": "<b>hi</b>",
        "text": "hi",
    }
    assert default_mail["send_resolved"] is True
    assert default_mail["headers"]["Subject"] == alertmanager.TITLE
    assert (default_mail["html"], default_mail["text"]) == (
        alertmanager.EMAIL_HTML,
        alertmanager.TEXT,
    )
    [slack] = receivers["chat"]["slack_configs"]
    assert slack == {
        "send_resolved": False,
        "api_url_file": "/s/slack",
        "channel": "#ops",
        "username": "am",
        "icon_emoji": ":fire:",
        "title": "T",
        "text": "X",
    }
    [hook, plain_hook] = receivers["chat"]["webhook_configs"]
    assert hook == {
        "send_resolved": False,
        "url": "https://hooks.example.com/a",
        "http_config": {"authorization": {"type": "Token", "credentials_file": "/s/token"}},
        "max_alerts": 5,
    }
    assert plain_hook == {"send_resolved": True, "url": "https://hooks.example.com/b"}
    [pd, pd_service] = receivers["pager"]["pagerduty_configs"]
    assert pd == {
        "send_resolved": False,
        "routing_key_file": "/s/pd",
        "severity": "error",
        "description": "D",
    }
    assert pd_service["service_key_file"] == "/s/pd-service"
    assert pd_service["severity"] == alertmanager.PAGERDUTY_SEVERITY
    [og, og_default] = receivers["pager"]["opsgenie_configs"]
    assert og == {
        "send_resolved": False,
        "api_key_file": "/s/og",
        "message": "M",
        "description": "D",
        "priority": "P2",
        "responders": [{"type": "team", "name": "ops"}, {"type": "user", "name": "kim"}],
    }
    assert (og_default["priority"], og_default["message"]) == (
        alertmanager.OPSGENIE_PRIORITY,
        alertmanager.TITLE,
    )


def _defined_templates(text: str) -> set[str]:
    return set(re.findall(r'{{-?\s*define\s+"([^"]+)"', text))


def _used_templates(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(_used_templates(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_used_templates(v) for v in node))
    return set(re.findall(r'{{-?\s*template\s+"([^"]+)"', node)) if isinstance(node, str) else set()


def test_templates_file_defines_every_template_the_configs_use(tmp_path: Path) -> None:
    for spec in [*spec_models(), _every_field_spec(tmp_path)]:
        config_artifact, template_artifact = alertmanager.render(spec)
        config = yaml.safe_load(config_artifact.content)
        assert config["templates"] == ["templates/monitorgen.tmpl"]
        assert template_artifact.path == "alertmanager/templates/monitorgen.tmpl"
        text = template_artifact.content.decode()
        for line in header_lines(spec):
            assert text.startswith("{{/* " + header_lines(spec)[0]) and line in text
        defined = _defined_templates(text)
        used = _used_templates(config) | _used_templates(
            re.sub(r'{{-?\s*define\s+"[^"]+"', "", text)
        )
        assert used and used <= defined, used - defined


def test_route_tree_keeps_order_continue_nesting_and_time_intervals(tmp_path: Path) -> None:
    document = base_document()
    document["routing"].update(
        {
            "group_by": ["alertname", "team"],
            "routes": [
                {
                    "matchers": ['team="api"', 'env!~"dev|test"'],
                    "receiver": "oncall",
                    "continue": True,
                    "group_by": ["..."],
                    "group_wait": "10s",
                    "mute_time_intervals": ["nights"],
                    "routes": [
                        {"matchers": ['severity="info"'], "active_time_intervals": ["office"]}
                    ],
                },
                {"matchers": ['severity="critical"'], "receiver": "oncall"},
                {"matchers": ['severity="warning"'], "receiver": "chat"},
            ],
            "time_intervals": [
                {"name": "nights", "times": [{"start": "22:00", "end": "24:00"}]},
                {
                    "name": "office",
                    "weekdays": ["monday:friday"],
                    "times": [{"start": "09:00", "end": "17:30"}],
                    "days_of_month": ["1:15"],
                    "months": ["january:june"],
                    "years": ["2025:2030"],
                    "location": "Europe/Berlin",
                },
            ],
        }
    )
    config = _config(model_of(tmp_path, document))
    route = config["route"]
    assert route["receiver"] == "chat"
    assert route["group_by"] == ["alertname", "team"]
    first = route["routes"][0]
    assert first == {
        "receiver": "oncall",
        "matchers": ['team="api"', 'env!~"dev|test"'],
        "group_by": ["..."],
        "group_wait": "10s",
        "mute_time_intervals": ["nights"],
        "continue": True,
        "routes": [{"matchers": ['severity="info"'], "active_time_intervals": ["office"]}],
    }
    assert [r.get("continue", False) for r in route["routes"]] == [True, False, False]
    assert config["time_intervals"] == [
        {
            "name": "nights",
            "time_intervals": [{"times": [{"start_time": "22:00", "end_time": "24:00"}]}],
        },
        {
            "name": "office",
            "time_intervals": [
                {
                    "times": [{"start_time": "09:00", "end_time": "17:30"}],
                    "weekdays": ["monday:friday"],
                    "days_of_month": ["1:15"],
                    "months": ["january:june"],
                    "years": ["2025:2030"],
                    "location": "Europe/Berlin",
                }
            ],
        },
    ]


def _slo(name: str, **alerting: Any) -> dict[str, Any]:
    return {
        "name": name,
        "objective": 99.5,
        "by": ["region"],
        "sli": {"raw": {"error_ratio_query": "vector(0)"}},
        "alerting": alerting,
    }


def test_inhibition_defaults_and_slo_tiers(tmp_path: Path) -> None:
    document = base_document()
    document["prometheus"] = {"external_labels": {"cluster": "eu-1"}}
    document["routing"]["inhibit_rules"] = [
        {"source": ['alertname="ShopDown"'], "target": ['alertname="ShopSlow"'], "equal": ["job"]}
    ]
    document["slos"] = [
        _slo("availability"),
        _slo("latency", page={"severity": "warning"}, ticket={"severity": "warning"}),
        _slo("errors", ticket={"enabled": False}),
    ]
    rules = _config(model_of(tmp_path, document))["inhibit_rules"]
    spec_rule, default_rule, availability_rule, latency_rule = rules
    assert spec_rule == {
        "source_matchers": ['alertname="ShopDown"'],
        "target_matchers": ['alertname="ShopSlow"'],
        "equal": ["job"],
    }
    assert default_rule["source_matchers"] == ['severity="critical"']
    assert default_rule["target_matchers"] == ['severity="warning"']
    assert default_rule["equal"][:2] == ["alertname", "service"]
    assert {"cluster", "region", "instance", "job"} <= set(default_rule["equal"])
    assert availability_rule == {
        "source_matchers": [
            'alertname="ShopAvailabilityBudgetBurn"',
            'slo="availability"',
            'slo_tier="page"',
        ],
        "target_matchers": [
            'alertname="ShopAvailabilityBudgetBurn"',
            'slo="availability"',
            'slo_tier="ticket"',
        ],
        "equal": ["service", "cluster", "region"],
    }
    # tiers with the same severity are still told apart; a disabled tier needs no rule
    assert latency_rule["source_matchers"][2] == 'slo_tier="page"'
    assert latency_rule["target_matchers"][1] == 'slo="latency"'

    document["routing"]["default_inhibit"] = False
    rules = _config(model_of(tmp_path, document))["inhibit_rules"]
    assert [r["source_matchers"][0] for r in rules] == [
        'alertname="ShopDown"',
        'alertname="ShopAvailabilityBudgetBurn"',
        'alertname="ShopLatencyBudgetBurn"',
    ]


def test_rendering_is_deterministic() -> None:
    for spec in spec_models():
        assert alertmanager.render(spec) == alertmanager.render(spec)


def test_no_routing_renders_nothing(tmp_path: Path) -> None:
    document = base_document()
    del document["routing"]
    document["receivers"] = []
    assert alertmanager.render(model_of(tmp_path, document)) == []


def test_the_default_inhibition_compares_the_labels_each_alert_is_told_apart_by(
    tmp_path: Path,
) -> None:
    """A critical disk alert on / must not mute the warning on /data: `mountpoint`,
    which the alert's text names, and `volume`, which a raw `by` keeps, are compared."""
    document = base_document()
    document["external_metrics"] = ["node_filesystem_avail_bytes", "node_filesystem_size_bytes"]
    ratio = "node_filesystem_avail_bytes / node_filesystem_size_bytes"
    document["alerts"] = [
        {
            "name": "DiskFull",
            "severity": severity,
            "summary": "{{ $labels.mountpoint }} is filling up",
            "expr": f"{ratio} < {limit}",
        }
        for severity, limit in (("warning", 0.2), ("critical", 0.05))
    ] + [
        {
            "name": "VolumeSlow",
            "severity": "warning",
            "summary": "Slow volume",
            "expr": "max by (volume) (shop_orders_total) > 1",
        }
    ]
    spec = model_of(tmp_path, document)
    (rule,) = alertmanager.inhibit_rules(spec)
    assert {"mountpoint", "volume"} <= set(rule.equal)
    host = {"alertname": "DiskFull", "service": "shop", "instance": "db-1:9100"}
    root = {**host, "severity": "critical", "mountpoint": "/"}
    assert routing.inhibited([rule], {**host, "severity": "warning", "mountpoint": "/"}, [root])
    assert not routing.inhibited(
        [rule], {**host, "severity": "warning", "mountpoint": "/data"}, [root]
    )
