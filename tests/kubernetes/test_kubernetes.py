"""The Kubernetes resources carry exactly what the plain files carry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen.pipeline import build
from monitorgen.targets.kubernetes import SecretKeys, camel, typed_matcher

SPECS = [
    Path("specs/llm.yaml"),
    Path("tests/specs/http_api.yaml"),
    Path("tests/specs/queue_worker.yaml"),
]


@pytest.fixture(scope="module", params=SPECS, ids=lambda p: p.stem)
def files(request: pytest.FixtureRequest) -> dict[str, Any]:
    result = build([request.param])
    assert not result.failed(), [str(d.message) for d in result.diagnostics]
    (tree,) = result.tree.values()
    return {a.path: a.content.decode() for a in tree}


def _load(text: str) -> Any:
    return yaml.safe_load(text)


def test_prometheus_rule_holds_the_rule_file_groups(files: dict[str, Any]) -> None:
    resource = _load(files["kubernetes/prometheus-rule.yaml"])
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"] == _load(files["prometheus/rules.yml"])


def test_dashboard_config_maps_carry_the_dashboard_json(files: dict[str, Any]) -> None:
    dashboards = {p: t for p, t in files.items() if p.startswith("grafana/dashboards/")}
    assert dashboards
    for path, text in dashboards.items():
        uid = Path(path).stem
        config_map = _load(files[f"kubernetes/grafana-dashboard-{uid}.yaml"])
        assert config_map["kind"] == "ConfigMap"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][f"{uid}.json"]) == json.loads(text)


def _walk(node: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((key, value))
            found.extend(_walk(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_walk(item))
    return found


def test_alertmanager_config_mirrors_routing_without_secret_files(files: dict[str, Any]) -> None:
    resource = _load(files["kubernetes/alertmanager-config.yaml"])
    plain = _load(files["alertmanager/alertmanager.yml"])
    body = resource["spec"]
    assert resource["kind"] == "AlertmanagerConfig"
    assert [r["name"] for r in body["receivers"]] == [r["name"] for r in plain["receivers"]]
    assert body["route"]["receiver"] == plain["route"]["receiver"]
    assert len(body.get("inhibitRules", [])) == len(plain.get("inhibit_rules", []))
    keys = [key for key, _ in _walk(body)]
    assert not [k for k in keys if "_" in k]
    for key, value in _walk(body):
        if key == "matchers":
            assert all(set(m) == {"name", "value", "matchType"} for m in value)


def test_every_secret_file_becomes_a_listed_secret_key(files: dict[str, Any]) -> None:
    plain = _load(files["alertmanager/alertmanager.yml"])
    secret_paths = {v for k, v in _walk(plain) if k.endswith("_file")}
    text = files["kubernetes/alertmanager-config.yaml"]
    for path in secret_paths:
        assert f"the content of {path}" in text
    references = [
        v for k, v in _walk(_load(text)) if isinstance(v, dict) and set(v) == {"name", "key"}
    ]
    assert len({r["key"] for r in references}) == len(secret_paths)


def test_matcher_translation_unescapes_values() -> None:
    assert typed_matcher('team=~"a|b"') == {"name": "team", "value": "a|b", "matchType": "=~"}
    assert typed_matcher(r'msg="say \"hi\""') == {
        "name": "msg",
        "value": 'say "hi"',
        "matchType": "=",
    }
    with pytest.raises(ValueError):
        typed_matcher("severity=critical")


def test_field_names_follow_the_operator_spelling() -> None:
    assert camel("api_url") == "apiURL"
    assert camel("require_tls") == "requireTLS"
    assert camel("send_resolved") == "sendResolved"
    keys = SecretKeys("s")
    assert keys.reference("/run/secrets/slack url") == {"name": "s", "key": "slack-url"}
