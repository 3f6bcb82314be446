"""prometheus.yml: the scrape job, the rule file, the Alertmanagers and the intervals,
all from the spec, with environments overriding them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitorgen.pipeline import compile_spec
from monitorgen.targets.prometheus_config import CONFIG_PATH, config, render

from .helpers import load_spec

SPEC = """\
version: 1
service: shop
prometheus:
  job: shop-web
  targets: ["localhost:8080"]
  scrape_interval: 5s
  evaluation_interval: 30s
metrics:
  - {name: shop_orders_total, type: counter, help: Orders.}
environments:
  prod:
    prometheus:
      targets: ["shop-1.internal:8080", "shop-2.internal:8080"]
      alertmanagers: ["alertmanager.internal:9093"]
"""


def test_the_config_scrapes_the_app_loads_the_rules_and_alerts_the_alertmanager() -> None:
    spec = load_spec("tests/specs/http_api.yaml")
    (artifact,) = render(spec)
    assert artifact.path == CONFIG_PATH
    data: dict[str, Any] = yaml.safe_load(artifact.content)
    assert data["global"] == {
        "scrape_interval": "15s",
        "scrape_timeout": "10s",
        "evaluation_interval": "30s",
        "external_labels": {"cluster": "eu-1"},
    }
    assert data["rule_files"] == ["rules.yml"]
    (alertmanagers,) = data["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["localhost:9093"]}]
    (job,) = data["scrape_configs"]
    assert job["job_name"] == "orders-api"
    assert (job["metrics_path"], job["scheme"]) == ("/metrics", "http")
    assert job["static_configs"] == [{"targets": ["localhost:8080"]}]


def test_an_environment_overrides_targets_and_alertmanagers(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SPEC)
    base, prod = compile_spec(path)
    assert base.spec is not None and prod.spec is not None
    assert config(base.spec)["scrape_configs"][0]["static_configs"][0]["targets"] == [
        "localhost:8080"
    ]
    prod_config = config(prod.spec)
    assert prod_config["scrape_configs"][0]["static_configs"][0]["targets"] == [
        "shop-1.internal:8080",
        "shop-2.internal:8080",
    ]
    assert prod_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager.internal:9093"
    ]


def test_the_scrape_timeout_never_exceeds_a_short_scrape_interval(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SPEC)
    spec = compile_spec(path)[0].spec
    assert spec is not None
    assert config(spec)["global"]["scrape_timeout"] == "5s"
